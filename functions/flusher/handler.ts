// Lambda entry of the flusher (bundled by the CDK app): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { checkFlowsSchema } from '../../clickhouse/schema-check.ts';
import { FLUSHER_SERVICE_NAME, METRICS_NAMESPACE } from '../../lib/metric-names.ts';
import { DynamoExportQueue } from '../flow-store/export-queue.ts';
import { ClickHouseRowSink } from './clickhouse-sink.ts';
import { flusherConfigFromEnv } from './config.ts';
import { clickHouseCredentials } from './credentials.ts';
import { Flusher, FlushLoop } from './flusher.ts';
import { createFlusherHandler } from './make-handler.ts';

const config = flusherConfigFromEnv();
// The names the alarms and dashboard watch (lib/metric-names.ts), whatever the environment says.
const logger = new Logger({ serviceName: FLUSHER_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: FLUSHER_SERVICE_NAME });
const queue = new DynamoExportQueue(
  createDynamoDbClient(),
  config.tableName,
  config.schedule,
  config.partition,
);

export const handler = createFlusherHandler({
  async prepare() {
    const credentials = await clickHouseCredentials(config);
    const client = createClickHouseClient({ ...config.clickhouse, ...credentials });
    // One clear error naming any missing column, instead of a failing insert every commit interval.
    const schema = await checkFlowsSchema(executorFor(client), config.clickhouse.database);
    logger.info('ClickHouse schema ok', { ...schema });
    const sink = new ClickHouseRowSink(client, {
      insertQuorum: config.clickhouse.insertQuorum,
      gzipLevel: config.clickhouse.compression ? undefined : false,
    });
    return new FlushLoop(
      new Flusher(queue, sink, {
        clusterUUID: config.clusterUUID,
        schedule: config.schedule,
        maxRowsPerInsert: config.maxRowsPerInsert,
        maxInsertsPerRound: config.maxInsertsPerRound,
        insertConcurrency: config.insertConcurrency,
        writeConcurrency: config.writeConcurrency,
        clock: Date.now,
      }),
    );
  },
  loopOptions: {
    runForMs: config.runForMs,
    intervalMs: config.commitIntervalMs,
    maxBackoffMs: config.maxBackoffMs,
    clock: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
  logger,
  metrics,
});
