// Lambda entry of the flusher (bundled by the CDK app): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient, createS3Client } from '../../adapters/aws-clients.ts';
import { DynamoExportQueue } from '../flow-store/export-queue.ts';
import { DynamoSinkOutboxStore } from '../flow-store/sink-outbox.ts';
import { FLUSHER_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { sinksConfigFromEnv } from '../sinks/config.ts';
import { createExtraSinks } from '../sinks/sinks.ts';
import { flusherConfigFromEnv } from './config.ts';
import { FlushLoop } from './flusher.ts';
import { createFlusherHandler } from './make-handler.ts';
import { wireFlusher } from './wiring.ts';

const config = flusherConfigFromEnv();
// The names the alarms and dashboard watch (functions/shared/metric-names.ts), whatever the environment says.
const logger = new Logger({ serviceName: FLUSHER_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: FLUSHER_SERVICE_NAME });
const dynamodb = createDynamoDbClient();
const queue = new DynamoExportQueue(dynamodb, config.tableName, config.schedule, config.partition);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sinksConfig = sinksConfigFromEnv();
const sinks = createExtraSinks(sinksConfig, {
  clusterUUID: config.clusterUUID,
  outbox: new DynamoSinkOutboxStore(dynamodb, config.tableName, config.partition.index),
  s3: sinksConfig.archive ? createS3Client() : undefined,
  clock: Date.now,
  sleep,
  logger,
});

export const handler = createFlusherHandler({
  async prepare() {
    // A new container first delivers what an earlier one left in the sinks' outbox (in the background).
    if (sinks.enabled) sinks.resume();
    const { flusher } = wireFlusher(config, {
      queue,
      clock: Date.now,
      logger,
      onBatchExported: sinks.enabled ? sinks.onBatchExported : undefined,
    });
    return new FlushLoop(flusher);
  },
  loopOptions: {
    runForMs: config.runForMs,
    intervalMs: config.commitIntervalMs,
    maxBackoffMs: config.maxBackoffMs,
    clock: Date.now,
    sleep,
  },
  logger,
  metrics,
  sinks: sinks.enabled ? sinks : undefined,
});
