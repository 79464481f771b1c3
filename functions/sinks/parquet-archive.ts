// The S3 archive's Parquet format (s3-archive.ts puts the objects): one Parquet object per exported batch
// (@dsnp/parquetjs, the maintained pure-JS Parquet writer), Hive-style partitions by the batch's export
// hour (UTC):
//
//   <prefix>date=YYYY-MM-DD/hour=HH/<batch token>.parquet
//
// The object name is the batch's ClickHouse deduplication token and the partition comes from the rows'
// own exportedAt, so delivering a batch again (a retry after a timeout whose PUT did land) overwrites the
// same object with the same rows: the archive holds every exported batch once.
//
// Schema: the `flows` insert columns (Antrea's 51, then Flowline's), then the per-Node counters and the
// proxy SNAT address that Antrea's IPFIX export carries. DateTime columns are TIMESTAMP_MILLIS (UTC),
// UInt64 counters INT64, UInt8/16/32 INT32, strings UTF8; SNAPPY compression; one row group per object.
import {
  FLOWLINE_INSERT_COLUMNS,
  FLOWS_COLUMN_TYPES,
  type InsertColumnType,
} from '../../clickhouse/columns.ts';
import {
  type ExportedBatch,
  type ExportedRow,
  exportedAtMs,
  PER_NODE_COUNTER_COLUMNS,
  utcTextMs,
} from './exported-row.ts';

type ParquetType = 'TIMESTAMP_MILLIS' | 'INT64' | 'INT32' | 'UTF8';

const PARQUET_TYPE: Record<InsertColumnType, ParquetType> = {
  DateTime: 'TIMESTAMP_MILLIS',
  "DateTime64(3, 'UTC')": 'TIMESTAMP_MILLIS',
  UInt64: 'INT64',
  UInt32: 'INT64', // above 2^31: INT32 is signed
  UInt16: 'INT32',
  UInt8: 'INT32',
  String: 'UTF8',
};

/** Every archived column and its Parquet type, in file order. */
export const ARCHIVE_COLUMNS: ReadonlyArray<readonly [string, ParquetType]> = [
  ...FLOWLINE_INSERT_COLUMNS.map((c) => [c, PARQUET_TYPE[FLOWS_COLUMN_TYPES[c]]] as const),
  ...PER_NODE_COUNTER_COLUMNS.map((c) => [c, 'INT64'] as const),
  ['proxySnatIP', 'UTF8'],
  ['proxySnatPort', 'INT32'],
];

type ParquetLibrary = typeof import('@dsnp/parquetjs');
let parquet:
  | Promise<{ lib: ParquetLibrary; schema: InstanceType<ParquetLibrary['ParquetSchema']> }>
  | undefined;

/**
 * The Parquet library, loaded on first use: evaluating it takes about a second of a cold start, which a
 * exporter without the archive should not pay.
 */
function parquetLibrary() {
  parquet ??= import('@dsnp/parquetjs').then((lib) => ({
    lib,
    schema: new lib.ParquetSchema(
      Object.fromEntries(
        ARCHIVE_COLUMNS.map(([name, type]) => [name, { type, compression: 'SNAPPY' as const }]),
      ),
    ),
  }));
  return parquet;
}

const DATE_TIME_SECONDS = new Set<string>(
  FLOWLINE_INSERT_COLUMNS.filter((c) => FLOWS_COLUMN_TYPES[c] === 'DateTime'),
);

function parquetRow(row: ExportedRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, type] of ARCHIVE_COLUMNS) {
    const value = (row as Record<string, string | number>)[name]!;
    if (type !== 'TIMESTAMP_MILLIS') out[name] = value;
    else out[name] = new Date(DATE_TIME_SECONDS.has(name) ? Number(value) * 1000 : utcTextMs(String(value)));
  }
  return out;
}

/** The object key of a batch: partition of its export hour, name from its token. */
export function archiveKey(prefix: string, batch: ExportedBatch): string {
  const exportedMs = Math.min(...batch.rows.map(exportedAtMs));
  const iso = new Date(exportedMs).toISOString();
  return `${prefix}date=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${batch.token}.parquet`;
}

/** The batch as one Parquet file in memory. */
export async function encodeParquet(rows: readonly ExportedRow[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = {
    write(chunk: Buffer, callback?: (error?: Error | null) => void) {
      chunks.push(Buffer.from(chunk));
      callback?.(null);
      return true;
    },
    end(callback?: () => void) {
      callback?.();
      return this;
    },
  };
  const { lib, schema } = await parquetLibrary();
  const writer = await lib.ParquetWriter.openStream(schema, sink as never, {
    rowGroupSize: Math.max(1, rows.length),
  });
  for (const row of rows) await writer.appendRow(parquetRow(row));
  await writer.close();
  return Buffer.concat(chunks);
}

/** Reads an archived object back: rows keyed by column, timestamps as Date, INT64 as bigint or number. */
export async function decodeParquet(bytes: Buffer): Promise<Array<Record<string, unknown>>> {
  const { lib } = await parquetLibrary();
  const reader = await lib.ParquetReader.openBuffer(bytes);
  const cursor = reader.getCursor();
  const rows: Array<Record<string, unknown>> = [];
  for (let row = await cursor.next(); row; row = await cursor.next())
    rows.push(row as Record<string, unknown>);
  await reader.close();
  return rows;
}
