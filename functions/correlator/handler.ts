// Lambda entry of the correlator (bundled by lib/correlator.ts): module-scope clients, logic elsewhere.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { createDynamoDbClient, createLambdaClient } from '../../adapters/aws-clients.ts';
import { DynamoFlowStore } from '../flow-store/store.ts';
import { CORRELATOR_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { correlatorConfigFromEnv } from './config.ts';
import { createCorrelatorHandler } from './make-handler.ts';
import { createFlusherWake, FLUSHER_WAKE_INTERVAL_MS } from './wake-flusher.ts';

const config = correlatorConfigFromEnv();
const logger = new Logger({ serviceName: CORRELATOR_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: CORRELATOR_SERVICE_NAME });
const store = new DynamoFlowStore(createDynamoDbClient(), config.tableName, config.schedule);

const flusherName = process.env.FLUSHER_FUNCTION_NAME?.trim();
const lambda = flusherName ? createLambdaClient({ maxAttempts: 2 }) : undefined;
const flusherWake =
  flusherName && lambda
    ? createFlusherWake({
        invoke: async () => {
          await lambda.send(
            new InvokeCommand({
              FunctionName: flusherName,
              InvocationType: 'Event',
              Payload: Buffer.from('{"source":"flowline.correlator","reason":"flows created"}'),
            }),
          );
        },
        now: Date.now,
        minIntervalMs: FLUSHER_WAKE_INTERVAL_MS,
        // The schedule still runs the flusher every minute: a failed wake only costs latency.
        onError: (error) => logger.warn('could not wake the flusher', { error: error as Error }),
      })
    : undefined;

export const handler = createCorrelatorHandler({
  store,
  now: Date.now,
  logger,
  metrics,
  settings: config.settings,
  flusherWake,
});
