// A batch of rows on its way to ClickHouse: its deduplication token and its manifest encoding. Pure.
//
// ClickHouse deduplicates a whole insert block by its insert_deduplication_token, not row by row. So the
// token is derived from the sorted set of the rows' own tokens (flow key, lifetime, export sequence), the
// rows are sent sorted by that token, and a retry re-sends exactly the rows the manifest recorded:
// the same token always comes with the same rows in the same order, i.e. the same block.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FLOWLINE_INSERT_COLUMNS } from '../../clickhouse/columns.ts';
import type { SinkOnlyColumns } from '../sinks/exported-row.ts';
import { type FlowRow, rowValues } from './rows.ts';

export interface PendingRow {
  /** The row's own dedup token: pk#createdAtMs#exportSeq (core/flow-state/state.ts dedupTokenOf). */
  token: string;
  row: FlowRow;
  /** What the extra sinks carry beyond the row (set only when sinks are enabled; functions/sinks). */
  sinkColumns?: SinkOnlyColumns;
}

export function sortByToken(rows: PendingRow[]): PendingRow[] {
  return [...rows].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}

/** The insert_deduplication_token of a batch: a digest of the sorted row tokens. */
export function batchToken(rows: readonly PendingRow[]): string {
  const hash = createHash('sha256');
  for (const token of rows.map((r) => r.token).sort()) hash.update(token).update('\n');
  return `flowline-${rows.length}-${hash.digest('hex')}`;
}

/**
 * gzip'd JSON lines [token, ...values in FLOWLINE_INSERT_COLUMNS order, {sink columns} when set], cut
 * into chunks of <= maxChunkBytes. The manifests and the sinks' outbox both store rows this way.
 */
export function encodeManifestRows(rows: readonly PendingRow[], maxChunkBytes: number): Uint8Array[] {
  const line = (r: PendingRow) => [r.token, ...rowValues(r.row), ...(r.sinkColumns ? [r.sinkColumns] : [])];
  const text = rows.map((r) => JSON.stringify(line(r))).join('\n');
  const packed = gzipSync(text);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < packed.length; offset += maxChunkBytes) {
    chunks.push(packed.subarray(offset, Math.min(packed.length, offset + maxChunkBytes)));
  }
  return chunks.length > 0 ? chunks : [packed];
}

export function decodeManifestRows(chunks: readonly Uint8Array[]): PendingRow[] {
  const text = gunzipSync(Buffer.concat(chunks.map((c) => Buffer.from(c)))).toString('utf8');
  if (text === '') return [];
  return text.split('\n').map((line) => {
    const [token, ...values] = JSON.parse(line) as [string, ...Array<string | number | SinkOnlyColumns>];
    const sinkColumns = typeof values.at(-1) === 'object' ? (values.pop() as SinkOnlyColumns) : undefined;
    if (values.length !== FLOWLINE_INSERT_COLUMNS.length) {
      throw new Error(`manifest row has ${values.length} values, expected ${FLOWLINE_INSERT_COLUMNS.length}`);
    }
    const row = Object.fromEntries(FLOWLINE_INSERT_COLUMNS.map((c, i) => [c, values[i]!])) as FlowRow;
    return sinkColumns ? { token, row, sinkColumns } : { token, row };
  });
}
