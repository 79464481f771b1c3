// The S3 archive in the format of Antrea's Flow Aggregator S3 uploader (pkg/flowaggregator/s3uploader,
// writeRecord): one line per row, no header, fields joined by ",", no escaping, Pod labels single-quoted,
// times as Unix seconds, gzip by default, objects named records-<12 characters of [a-z0-9]>.csv[.gz]
// directly under the prefix. Tools reading what the Flow Aggregator uploaded read these objects unchanged.
// Two differences, both for exactly once: the 12 characters come from the batch's deduplication token
// instead of a random draw, so a batch delivered again overwrites its own object; and the column Antrea
// fills with the wall clock at write time holds the row's export time, so that object is the same bytes.
// Pure; peer-cases X-2 gives Antrea's expected lines.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ANTREA_INSERT_COLUMNS } from '../../clickhouse/columns.ts';
import { type ExportedBatch, type ExportedRow, exportedAtMs } from './exported-row.ts';

type Field = (row: ExportedRow) => string | number;

/**
 * writeRecord's fields: Antrea's ClickHouse insert columns in their order, with its two extras, the
 * Service address after the ClusterIP and the write time after the cluster UUID, and the labels quoted
 * (their JSON holds commas, and nothing is escaped).
 */
const CSV_FIELDS: readonly Field[] = ANTREA_INSERT_COLUMNS.flatMap((name): Field[] => {
  if (name === 'sourcePodLabels' || name === 'destinationPodLabels') return [(row) => `'${row[name]}'`];
  const field: Field = (row) => row[name];
  if (name === 'destinationClusterIP') return [field, (row) => row.destinationServiceIP];
  if (name === 'clusterUUID') return [field, (row) => Math.floor(exportedAtMs(row) / 1000)];
  return [field];
});

export const ANTREA_CSV_FIELD_COUNT = CSV_FIELDS.length;

/**
 * A line break inside a field would end the line there and start a forged one: Antrea writes fields as
 * they are, and an exporter sending IPFIX may put anything in a name. Kubernetes names and label values
 * cannot hold one, so only such input changes: each CR or LF becomes a space.
 */
const LINE_BREAKS = /[\r\n]/g;

/** A field of one of Antrea's comma-joined lines (this CSV, the flow logger's), with no line break in it. */
export function lineField(value: string | number): string {
  return String(value).replace(LINE_BREAKS, ' ');
}

/** One row as Antrea's writeRecord writes it, without the newline. */
export function antreaCsvLine(row: ExportedRow): string {
  return CSV_FIELDS.map((field) => lineField(field(row))).join(',');
}

/** The batch's object body: its lines, each ending in "\n", gzipped when `gzip`. */
export function encodeAntreaCsv(rows: readonly ExportedRow[], gzip: boolean): Buffer {
  const text = Buffer.from(rows.map((row) => `${antreaCsvLine(row)}\n`).join(''));
  return gzip ? gzipSync(text) : text;
}

const NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** records-<12 of [a-z0-9], from the token>.csv[.gz] under the prefix ("" or ending in "/"). */
export function antreaCsvKey(prefix: string, batch: ExportedBatch, gzip: boolean): string {
  const digest = createHash('sha256').update(batch.token).digest();
  const name = Array.from(digest.subarray(0, 12), (byte) => NAME_ALPHABET[byte % NAME_ALPHABET.length]);
  return `${prefix}records-${name.join('')}.csv${gzip ? '.gz' : ''}`;
}
