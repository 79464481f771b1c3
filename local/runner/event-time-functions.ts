// Bundle entry for event-time runs (`flowline local --replay`, the end-to-end suite). It wires the two
// functions exactly as functions/correlator/handler.ts and functions/flusher/handler.ts do -- same config
// readers, same adapters, same logic modules -- with one difference: the clock is a parameter instead of
// Date.now, so time can follow the records' own timestamps. local/runner/functions.ts bundles it with the
// stack's esbuild settings (local/bundle.ts), so what runs is esbuild output, as on Lambda.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { checkFlowsSchema } from '../../clickhouse/schema-check.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { correlatorConfigFromEnv } from '../../functions/correlator/config.ts';
import { createCorrelatorHandler } from '../../functions/correlator/make-handler.ts';
import { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import { DynamoFlowStore } from '../../functions/flow-store/store.ts';
import { ClickHouseRowSink } from '../../functions/flusher/clickhouse-sink.ts';
import { flusherConfigFromEnv } from '../../functions/flusher/config.ts';
import { clickHouseCredentials } from '../../functions/flusher/credentials.ts';
import { Flusher, type RoundReport } from '../../functions/flusher/flusher.ts';

/** What the handlers report through Powertools Metrics, kept in memory (CloudWatch gets them from EMF). */
export interface MetricSink {
  addMetric(name: string, unit: string, value: number): void;
  publishStoredMetrics(): void;
}

export interface EventTimeCorrelatorOptions {
  /** Invocation time, epoch ms (records carry their own arrival time; this is the fallback and TTL clock). */
  now: () => number;
  /** Fault injection and instrumentation around the DynamoDB store. */
  wrapStore?: (store: FlowStore) => FlowStore;
  metrics?: MetricSink;
}

/** The correlator's Lambda handler, built once per "execution environment" from the environment. */
export function createEventTimeCorrelator(options: EventTimeCorrelatorOptions) {
  const config = correlatorConfigFromEnv();
  const dynamo = new DynamoFlowStore(createDynamoDbClient(), config.tableName, config.schedule);
  const store = options.wrapStore ? options.wrapStore(dynamo) : dynamo;
  return createCorrelatorHandler({
    store,
    now: options.now,
    logger: new Logger(),
    metrics: (options.metrics ?? new Metrics()) as Metrics,
    settings: config.settings,
  });
}

export interface EventTimeFlusher {
  readonly commitIntervalMs: number;
  /** One round at the clock's current time (replays open manifests, exports what is due). */
  round(): Promise<RoundReport>;
  close(): Promise<void>;
}

/** The flusher's round, prepared as handler.ts prepares it (credentials, client, schema check), on `clock`. */
export async function createEventTimeFlusher(options: { clock: () => number }): Promise<EventTimeFlusher> {
  const config = flusherConfigFromEnv();
  const logger = new Logger({ serviceName: 'flowline-flusher' });
  const queue = new DynamoExportQueue(
    createDynamoDbClient(),
    config.tableName,
    config.schedule,
    config.partition,
  );
  const credentials = await clickHouseCredentials(config);
  const client = createClickHouseClient({ ...config.clickhouse, ...credentials });
  const schema = await checkFlowsSchema(executorFor(client), config.clickhouse.database);
  logger.debug('ClickHouse schema ok', { ...schema });
  const sink = new ClickHouseRowSink(client, {
    insertQuorum: config.clickhouse.insertQuorum,
    gzipLevel: config.clickhouse.compression ? undefined : false,
  });
  const flusher = new Flusher(queue, sink, {
    clusterUUID: config.clusterUUID,
    schedule: config.schedule,
    maxRowsPerInsert: config.maxRowsPerInsert,
    maxInsertsPerRound: config.maxInsertsPerRound,
    insertConcurrency: config.insertConcurrency,
    writeConcurrency: config.writeConcurrency,
    clock: options.clock,
  });
  return {
    commitIntervalMs: config.commitIntervalMs,
    round: () => flusher.round(),
    close: () => client.close(),
  };
}
