// Lambda entry of the ticker (bundled by the CDK app): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import { METRICS_NAMESPACE, TICKER_SERVICE_NAME } from '../shared/metric-names.ts';
import { tickerConfigFromEnv } from './config.ts';
import { createTickerHandler } from './make-handler.ts';
import { wireTicker } from './wiring.ts';

const config = tickerConfigFromEnv();
const logger = new Logger({ serviceName: TICKER_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: TICKER_SERVICE_NAME });
const { loop, loopOptions } = wireTicker(config, {
  dynamodb: createDynamoDbClient(),
  clock: Date.now,
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});

export const handler = createTickerHandler({ loop, loopOptions, logger, metrics });
