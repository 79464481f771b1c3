// Where rows go: the ClickHouse `flows` table over @clickhouse/client (HTTPS + gzip), one synchronous
// insert per batch carrying the batch's deduplication token.
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { FLOWLINE_INSERT_COLUMNS, FLOWS_TABLE } from '../../clickhouse/columns.ts';
import { type FlowRow, rowValues } from './rows.ts';

export interface RowSink {
  /** True when the database answers at all (checked before flows are claimed for export). */
  ping(): Promise<boolean>;
  /** Inserts the rows as one block; resolves only once ClickHouse has durably written them. */
  insert(rows: readonly FlowRow[], dedupToken: string): Promise<void>;
}

export interface ClickHouseSinkOptions {
  /** insert_quorum for self-hosted ReplicatedMergeTree clusters (e.g. 2 or "auto"); unset elsewhere. */
  insertQuorum?: string;
}

/**
 * Settings of every insert. Synchronous (async_insert=0): the flusher already sends one large batch per
 * commit interval, which is what ClickHouse recommends, and a synchronous insert is acknowledged only after
 * its part is written (on ClickHouse Cloud: to object storage), so no wait_for_async_insert is involved.
 * insert_deduplicate=1 with the token makes a re-sent batch a no-op; the views' target tables deduplicate
 * the same block too (deduplicate_blocks_in_dependent_materialized_views). A batch stays far below
 * max_insert_block_size (1,048,449 rows), so it is one block; and a replay sends the same bytes, so even a
 * split would repeat itself block for block (ClickHouse suffixes the token per block).
 * optimize_on_insert=0: each view's GROUP BY already covers its target's whole sorting key, so every
 * block a view writes has unique keys and SummingMergeTree's summing pass at insert time could merge
 * nothing; skipping it saves about a fifth of the engine's CPU per row (merges still sum across parts).
 */
export function insertSettings(dedupToken: string, options: ClickHouseSinkOptions = {}): ClickHouseSettings {
  const settings: ClickHouseSettings = {
    async_insert: 0,
    insert_deduplicate: 1,
    insert_deduplication_token: dedupToken,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    optimize_on_insert: 0,
  };
  if (options.insertQuorum) {
    settings.insert_quorum = options.insertQuorum as ClickHouseSettings['insert_quorum'];
    settings.insert_quorum_parallel = 0;
  }
  return settings;
}

export class ClickHouseRowSink implements RowSink {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: ClickHouseSinkOptions = {},
  ) {}

  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  async insert(rows: readonly FlowRow[], dedupToken: string): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: FLOWS_TABLE,
      values: rows.map(rowValues),
      format: 'JSONCompactEachRow',
      columns: [...FLOWLINE_INSERT_COLUMNS],
      clickhouse_settings: insertSettings(dedupToken, this.options),
    });
  }
}
