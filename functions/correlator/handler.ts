// Lambda entry of the correlator (bundled by lib/correlator.ts): module-scope clients, logic elsewhere.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import { DynamoFlowStore } from '../flow-store/store.ts';
import { CORRELATOR_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { correlatorConfigFromEnv } from './config.ts';
import { createCorrelatorHandler } from './make-handler.ts';

const config = correlatorConfigFromEnv();
const logger = new Logger({ serviceName: CORRELATOR_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: CORRELATOR_SERVICE_NAME });
const store = new DynamoFlowStore(createDynamoDbClient(), config.tableName, config.schedule);

export const handler = createCorrelatorHandler({
  store,
  now: Date.now,
  logger,
  metrics,
  settings: config.settings,
});
