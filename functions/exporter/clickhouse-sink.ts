// Where rows go: the ClickHouse `flows` table over @clickhouse/client (HTTPS), one synchronous insert per
// batch carrying the batch's deduplication token, in RowBinaryWithNamesAndTypes, gzip'd by the sink unless
// compression is off (CLICKHOUSE_COMPRESSION; off by default only for a ClickHouse on loopback).
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { FLOWLINE_INSERT_COLUMNS, FLOWS_COLUMN_TYPES, FLOWS_TABLE } from '../../clickhouse/columns.ts';
import { encodeRowBinaryWithNamesAndTypes, RowBinaryValueError } from '../../clickhouse/row-binary.ts';
import type { FlowRow } from './rows.ts';

const INSERT_TYPES = FLOWLINE_INSERT_COLUMNS.map((column) => FLOWS_COLUMN_TYPES[column]);
export const INSERT_STATEMENT = `INSERT INTO ${FLOWS_TABLE} (${FLOWLINE_INSERT_COLUMNS.join(', ')}) FORMAT RowBinaryWithNamesAndTypes`;

/**
 * One insert's body: the rows in RowBinaryWithNamesAndTypes, in FLOWLINE_INSERT_COLUMNS order, written
 * into `reuse` while it fits.
 */
export function encodeInsertBody(rows: readonly FlowRow[], reuse?: Buffer): Buffer {
  return encodeRowBinaryWithNamesAndTypes(FLOWLINE_INSERT_COLUMNS, INSERT_TYPES, rows, reuse);
}

/**
 * The insert body of the rows that can be written (undefined when none can), and the rows that cannot: a
 * value that does not fit its column. One such row must not hold back its batch, which a replay would
 * fail the same way forever; the same rows always split the same way, so a replay with the batch's token
 * leaves out the same rows.
 */
function encodeFitting(
  rows: readonly FlowRow[],
  reuse: Buffer | undefined,
): { body: Buffer | undefined; rejected: RejectedRow[] } {
  try {
    return { body: encodeInsertBody(rows, reuse), rejected: [] };
  } catch (error) {
    if (!(error instanceof RowBinaryValueError)) throw error;
  }
  const fitting: FlowRow[] = [];
  const rejected: RejectedRow[] = [];
  for (const row of rows) {
    const reason = encodingError(row);
    if (reason === undefined) fitting.push(row);
    else rejected.push({ row, reason });
  }
  return { body: fitting.length > 0 ? encodeInsertBody(fitting, reuse) : undefined, rejected };
}

/** Why a row cannot be encoded, or undefined when it can. */
function encodingError(row: FlowRow): string | undefined {
  try {
    encodeInsertBody([row]);
    return undefined;
  } catch (error) {
    if (error instanceof RowBinaryValueError) return error.message;
    throw error;
  }
}

/** The whole buffer a payload was written into (the encoder's buffers are never pooled slices). */
function backingBuffer(payload: Buffer): Buffer {
  return Buffer.from(payload.buffer, 0, payload.buffer.byteLength);
}

export const DEFAULT_INSERT_GZIP_LEVEL = 1;

/** gzip of an insert body, as the sink sends it (one synchronous pass, 1 MiB output chunks). */
export function gzipInsertBody(body: Buffer, level = DEFAULT_INSERT_GZIP_LEVEL): Buffer {
  return gzipSync(body, { level, chunkSize: 1 << 20 });
}

/** A row no insert can carry: a value that does not fit its column (the reason names the column). */
export interface RejectedRow {
  row: FlowRow;
  reason: string;
}

/** Where rows go. Only inserts reach the database: no health check, which would keep it awake at rest. */
export interface RowSink {
  /**
   * Inserts the rows as one block; resolves only once ClickHouse has durably written them, with the rows
   * it left out because they cannot be written at all (the same ones every time for the same rows).
   */
  insert(rows: readonly FlowRow[], dedupToken: string): Promise<RejectedRow[]>;
}

export interface ClickHouseSinkOptions {
  /** insert_quorum for self-hosted ReplicatedMergeTree clusters (e.g. 2 or "auto"); unset elsewhere. */
  insertQuorum?: string;
  /**
   * gzip level of insert bodies (1-9), or false to send them uncompressed. Default 1: on a 50,000-row
   * batch zlib's default level 6 costs about 2.5x the CPU of level 1 for ~20% fewer bytes, and the
   * exporter is CPU-bound. The sink compresses each body in one synchronous pass with 1 MiB output chunks,
   * which costs the exporter (and ClickHouse, decompressing) less than the client's streaming compression
   * or zlib's thread-pool hand-offs per 16 KiB chunk.
   */
  gzipLevel?: number | false;
}

function validGzipLevel(level: number | false | undefined): number | false {
  const chosen = level ?? DEFAULT_INSERT_GZIP_LEVEL;
  if (chosen !== false && (!Number.isInteger(chosen) || chosen < 1 || chosen > 9)) {
    throw new Error(`ClickHouse insert gzip level must be an integer 1-9 or false, got ${chosen}`);
  }
  return chosen;
}

/**
 * Settings of every insert. Synchronous (async_insert=0): the exporter already sends one large batch per
 * commit interval, which is what ClickHouse recommends, and a synchronous insert is acknowledged only after
 * its part is written (on ClickHouse Cloud: to object storage), so no wait_for_async_insert is involved.
 * insert_deduplicate=1 with the token makes a re-sent batch a no-op; the views' target tables deduplicate
 * the same block too (deduplicate_blocks_in_dependent_materialized_views). A batch stays far below
 * max_insert_block_size (1,048,449 rows), so it is one block; and a replay sends the same bytes, so even a
 * split would repeat itself block for block (ClickHouse suffixes the token per block).
 * optimize_on_insert=0: the node view's GROUP BY covers its target's whole sorting key, and the pod and
 * policy keys (both transport ports, the end times) are all but unique within a batch, so
 * SummingMergeTree's summing pass at insert time would find almost nothing; skipping it saves about a
 * fifth of the engine's CPU per row (merges still sum across parts).
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
  private readonly gzipLevel: number | false;
  /** Encode buffers free for the next insert: as many as inserts ever were in flight at once. */
  private readonly freeBuffers: Buffer[] = [];

  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: ClickHouseSinkOptions = {},
  ) {
    this.gzipLevel = validGzipLevel(options.gzipLevel);
  }

  async insert(rows: readonly FlowRow[], dedupToken: string): Promise<RejectedRow[]> {
    if (rows.length === 0) return [];
    // Encoded before the request: a value that does not fit its column is found here, naming the column.
    const scratch = this.freeBuffers.pop();
    let encoded: ReturnType<typeof encodeFitting> | undefined;
    try {
      encoded = encodeFitting(rows, scratch);
    } finally {
      // No body holds the buffer (an error, or no row fits): it is free again at once.
      if (encoded?.body === undefined && scratch) this.freeBuffers.push(scratch);
    }
    const { body, rejected } = encoded;
    if (body === undefined) return rejected;
    const level = this.gzipLevel;
    const sent = level === false ? body : gzipInsertBody(body, level);
    // A gzip'd body is a copy: the buffer is free again. An uncompressed one is free only once the
    // server answered, having read all of it; after a failure the socket may still hold it, so it is
    // left to the garbage collector.
    if (sent !== body) this.freeBuffers.push(backingBuffer(body));
    const result = await this.client.exec({
      query: INSERT_STATEMENT,
      values: Readable.from([sent]),
      http_headers: level === false ? {} : { 'Content-Encoding': 'gzip' },
      clickhouse_settings: insertSettings(dedupToken, this.options),
    });
    // The response carries nothing; read it to the end so the connection returns to the pool.
    await finished(result.stream.resume());
    if (sent === body) this.freeBuffers.push(backingBuffer(body));
    return rejected;
  }
}
