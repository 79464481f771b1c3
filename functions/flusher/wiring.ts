// The flusher assembled from its configuration: the one place that turns FlusherConfig into a Flusher
// (ClickHouse connection on the first insert, limits, the extra sinks' hook). The Lambda entry
// (handler.ts) and local mode's event-time runs (local/runner/event-time-functions.ts) both build it here
// and differ only in the clock and logger they pass.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ExportQueue } from '../../core/flow-state/ports.ts';
import type { FlusherConfig } from './config.ts';
import { connectClickHouse, connectOnFirstInsert } from './connect.ts';
import { Flusher, type FlusherOptions } from './flusher.ts';

export interface WiredFlusher {
  flusher: Flusher;
  /** Closes the ClickHouse client if the first insert opened one (the Lambda entry keeps it). */
  close(): Promise<void>;
}

export function wireFlusher(
  config: FlusherConfig,
  deps: {
    queue: ExportQueue;
    clock: () => number;
    logger: Logger;
    onBatchExported?: FlusherOptions['onBatchExported'];
  },
): WiredFlusher {
  // ClickHouse is reached by the first insert, not here: a container with nothing to write never wakes it.
  const connection = connectOnFirstInsert(() => connectClickHouse(config, deps.logger));
  const flusher = new Flusher(deps.queue, connection.sink, {
    clusterUUID: config.clusterUUID,
    schedule: config.schedule,
    maxRowsPerInsert: config.maxRowsPerInsert,
    maxInsertsPerRound: config.maxInsertsPerRound,
    insertConcurrency: config.insertConcurrency,
    writeConcurrency: config.writeConcurrency,
    clock: deps.clock,
    onBatchExported: deps.onBatchExported,
  });
  return { flusher, close: () => connection.close() };
}
