// The exporter assembled from its configuration: the one place that turns ExporterConfig into a
// StreamExporter (intents in the flow table, ClickHouse connected by the first insert, the extra sinks'
// hook). The Lambda entry (handler.ts) and local mode both build it here.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ExporterConfig } from './config.ts';
import { connectClickHouse, connectOnFirstInsert } from './connect.ts';
import { type ExporterOptions, StreamExporter } from './export-batch.ts';
import { DynamoIntentStore } from './intent-store.ts';

export interface WiredExporter {
  exporter: StreamExporter;
  /** Closes the ClickHouse client if an insert opened one. */
  close(): Promise<void>;
}

export function wireExporter(
  config: ExporterConfig,
  deps: {
    dynamodb: DynamoDBClient;
    clock: () => number;
    logger: Logger;
    onBatchExported?: ExporterOptions['onBatchExported'];
  },
): WiredExporter {
  // ClickHouse is reached by the first insert, not here: a container with nothing to write never wakes it.
  const connection = connectOnFirstInsert(() => connectClickHouse(config, deps.logger));
  const exporter = new StreamExporter(
    new DynamoIntentStore(deps.dynamodb, config.tableName, deps.clock),
    connection.sink,
    { clusterUUID: config.clusterUUID, onBatchExported: deps.onBatchExported },
  );
  return { exporter, close: () => connection.close() };
}
