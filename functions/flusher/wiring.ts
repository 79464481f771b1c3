// The flusher assembled from its configuration: the one place that turns FlusherConfig into a Flusher
// (credentials, ClickHouse client, schema check, sink, limits). The Lambda entry (handler.ts) and local
// mode's event-time runs (local/runner/event-time-functions.ts) both build it here and differ only in the
// clock they pass.
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { checkFlowsSchema } from '../../clickhouse/schema-check.ts';
import type { ExportQueue } from '../flow-store/export-queue.ts';
import { ClickHouseRowSink } from './clickhouse-sink.ts';
import type { FlusherConfig } from './config.ts';
import { clickHouseCredentials } from './credentials.ts';
import { Flusher } from './flusher.ts';

export interface ConnectedFlusher {
  flusher: Flusher;
  /** What the schema check found (the Lambda entry logs it). */
  schema: Awaited<ReturnType<typeof checkFlowsSchema>>;
  /** Closes the ClickHouse client (the Lambda entry keeps it for the container's life). */
  close(): Promise<void>;
}

export async function connectFlusher(
  config: FlusherConfig,
  deps: { queue: ExportQueue; clock: () => number },
): Promise<ConnectedFlusher> {
  const credentials = await clickHouseCredentials(config);
  const client = createClickHouseClient({ ...config.clickhouse, ...credentials });
  // One clear error naming any missing column, instead of a failing insert every commit interval.
  const schema = await checkFlowsSchema(executorFor(client), config.clickhouse.database);
  const sink = new ClickHouseRowSink(client, {
    insertQuorum: config.clickhouse.insertQuorum,
    gzipLevel: config.clickhouse.compression ? undefined : false,
  });
  const flusher = new Flusher(deps.queue, sink, {
    clusterUUID: config.clusterUUID,
    schedule: config.schedule,
    maxRowsPerInsert: config.maxRowsPerInsert,
    maxInsertsPerRound: config.maxInsertsPerRound,
    insertConcurrency: config.insertConcurrency,
    writeConcurrency: config.writeConcurrency,
    clock: deps.clock,
  });
  return { flusher, schema, close: () => client.close() };
}
