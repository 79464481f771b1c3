// Lambda entry of the exporter (bundled by the CDK app): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  createCloudWatchLogsClient,
  createDynamoDbClient,
  createS3Client,
} from '../../adapters/aws-clients.ts';
import { DynamoSinkOutboxStore } from '../flow-store/sink-outbox.ts';
import { EXPORTER_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { sinksConfigFromEnv } from '../sinks/config.ts';
import { createExtraSinks } from '../sinks/sinks.ts';
import { exporterConfigFromEnv } from './config.ts';
import { secretStringOf } from './credentials.ts';
import { createExporterHandler } from './make-handler.ts';
import { wireExporter } from './wiring.ts';

const config = exporterConfigFromEnv();
// The names the alarms and dashboard watch (functions/shared/metric-names.ts), whatever the environment says.
const logger = new Logger({ serviceName: EXPORTER_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: EXPORTER_SERVICE_NAME });
const dynamodb = createDynamoDbClient();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sinksConfig = sinksConfigFromEnv();
const sinks = createExtraSinks(sinksConfig, {
  clusterUUID: config.clusterUUID,
  // One outbox for the exporter (partition 0): the mapping runs one batch per stream shard at a time, and
  // the outbox's appends are conditional, so concurrent shards' appends queue up, never collide.
  outbox: new DynamoSinkOutboxStore(dynamodb, config.tableName, 0),
  s3: sinksConfig.archive ? createS3Client() : undefined,
  logs: sinksConfig.flowLog && 'logGroup' in sinksConfig.flowLog ? createCloudWatchLogsClient() : undefined,
  // The IPFIX export's TLS secret, read on each connection through Powertools' cache (the ClickHouse
  // secret's maxAge), so a rotated client certificate is used from the next connection on.
  readSecret: (secretId) => secretStringOf(secretId, config.secretMaxAgeSeconds),
  clock: Date.now,
  sleep,
  logger,
});

export const handler = createExporterHandler({
  async prepare() {
    if (sinks.enabled) sinks.resume();
    return wireExporter(config, {
      dynamodb,
      clock: Date.now,
      logger,
      onBatchExported: sinks.enabled ? sinks.onBatchExported : undefined,
    }).exporter;
  },
  logger,
  metrics,
  sinks: sinks.enabled ? sinks : undefined,
});
