// ClickHouse's RowBinaryWithNamesAndTypes input format: a header with the column names and types, then
// every row's values back to back in their binary form. The server parses it several times faster than
// JSON or TSV (no number or date text to read), and checks the header's names and types against the
// table, so a schema drift fails the insert instead of converting values. @clickhouse/client writes only
// text formats, hence this encoder. Pure: no client, no I/O.
import type { InsertColumnType } from './columns.ts';

export class RowBinaryValueError extends Error {
  override name = 'RowBinaryValueError';
}

type Writer = (value: unknown, column: string) => void;

/** Unsigned types of at most 4 bytes (DateTime is seconds as UInt32): their width in bytes. */
const UINT_WIDTH: Partial<Record<InsertColumnType, 1 | 2 | 4>> = {
  UInt8: 1,
  UInt16: 2,
  UInt32: 4,
  DateTime: 4,
};

function uintMax(width: 1 | 2 | 4): number {
  return 2 ** (8 * width) - 1;
}

/** Grows as it is written; one per payload. Starts in the caller's buffer when it is given one. */
class ByteWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes: number, reuse?: Buffer) {
    // Never a slice of Node's shared pool: a caller may keep the whole buffer for the next payload.
    this.buffer = reuse ?? Buffer.allocUnsafeSlow(Math.max(64, initialBytes));
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  varUInt(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.offset++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.offset++] = rest;
  }

  string(text: string): void {
    const length = text.length;
    // Short ASCII text (most of a flow row: names, namespaces, addresses) is copied by hand: cheaper
    // than a call into the UTF-8 encoder per value.
    if (length < 0x80) {
      this.reserve(length + 1);
      const buffer = this.buffer;
      const start = this.offset;
      let at = start + 1;
      for (let i = 0; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) {
          at = -1;
          break;
        }
        buffer[at++] = code;
      }
      if (at >= 0) {
        buffer[start] = length;
        this.offset = at;
        return;
      }
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    this.varUInt(bytes);
    this.reserve(bytes);
    this.offset += this.buffer.write(text, this.offset, 'utf8');
  }

  uint(value: number, bytes: 1 | 2 | 4): void {
    this.reserve(bytes);
    const buffer = this.buffer;
    let at = this.offset;
    buffer[at++] = value & 0xff;
    if (bytes > 1) {
      buffer[at++] = (value >>> 8) & 0xff;
      if (bytes > 2) {
        buffer[at++] = (value >>> 16) & 0xff;
        buffer[at++] = (value >>> 24) & 0xff;
      }
    }
    this.offset = at;
  }

  /** A non-negative safe integer as 8 little-endian bytes (UInt64 and Int64 agree below 2^53). */
  uint64(value: number): void {
    this.reserve(8);
    const buffer = this.buffer;
    let at = this.offset;
    const low = value >>> 0;
    const high = Math.floor(value / 0x1_0000_0000);
    buffer[at++] = low & 0xff;
    buffer[at++] = (low >>> 8) & 0xff;
    buffer[at++] = (low >>> 16) & 0xff;
    buffer[at++] = low >>> 24;
    buffer[at++] = high & 0xff;
    buffer[at++] = (high >>> 8) & 0xff;
    buffer[at++] = (high >>> 16) & 0xff;
    buffer[at++] = high >>> 24;
    this.offset = at;
  }

  bigUint64(value: bigint): void {
    this.reserve(8);
    this.offset = this.buffer.writeBigUInt64LE(value, this.offset);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}

const TWO_TO_64 = 2 ** 64;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * UInt64 from a JS number: exact below 2^53. Above, the pipeline's counters are doubles (Antrea's wrapped
 * throughputs, computed exactly, lose their low bits as numbers), so the nearest UInt64 is written: a
 * double just under 2^64 rounds to 2^64 itself, written as 2^64 - 1. A bigint is written exactly.
 */
function uint64Writer(out: ByteWriter): Writer {
  return (value, column) => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      out.uint64(value);
      return;
    }
    let exact: bigint | undefined;
    if (typeof value === 'bigint') exact = value;
    else if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= TWO_TO_64)
      exact = BigInt(value);
    if (exact === undefined || exact < 0n || exact > 1n << 64n) {
      throw new RowBinaryValueError(
        `column ${column} (UInt64): ${String(value)} is not an unsigned 64-bit integer`,
      );
    }
    out.bigUint64(exact > UINT64_MAX ? UINT64_MAX : exact);
  };
}

function unsignedWriter(out: ByteWriter, type: InsertColumnType): Writer {
  if (type === 'UInt64') return uint64Writer(out);
  const width = UINT_WIDTH[type]!;
  const max = uintMax(width);
  return (value, column) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      throw new RowBinaryValueError(
        `column ${column} (${type}): ${JSON.stringify(value)} is not in 0..${max}`,
      );
    }
    out.uint(value, width);
  };
}

/** DateTime64(3): milliseconds since the epoch, from a number or "YYYY-MM-DD hh:mm:ss[.sss]" text in UTC. */
function millisecondsWriter(out: ByteWriter): Writer {
  let lastText = '';
  let lastMs = 0;
  return (value, column) => {
    let ms: number;
    if (typeof value === 'number') ms = value;
    else if (typeof value === 'string') {
      // A round stamps all its rows with one export time: parse it once.
      if (value !== lastText) {
        lastMs = Date.parse(`${value.replace(' ', 'T')}Z`);
        lastText = value;
      }
      ms = lastMs;
    } else ms = Number.NaN;
    if (!Number.isSafeInteger(ms) || ms < 0) {
      throw new RowBinaryValueError(
        `column ${column} (DateTime64(3)): ${JSON.stringify(value)} is not a UTC time`,
      );
    }
    out.uint64(ms);
  };
}

function writerFor(out: ByteWriter, type: InsertColumnType): Writer {
  switch (type) {
    case 'String':
      return (value, column) => {
        if (typeof value !== 'string') {
          throw new RowBinaryValueError(
            `column ${column} (String): ${JSON.stringify(value)} is not a string`,
          );
        }
        out.string(value);
      };
    case "DateTime64(3, 'UTC')":
      return millisecondsWriter(out);
    default:
      return unsignedWriter(out, type);
  }
}

type RowsEncoder = (rows: readonly Record<string, unknown>[], out: ByteWriter, writers: Writer[]) => void;

const compiledEncoders = new Map<string, RowsEncoder>();

/**
 * The row loop, generated once per column list: each value read by a constant key and written by its
 * type's fast path inline (an exporter batch is up to 3,000 rows x 57 columns). Anything off the fast path goes
 * to the column's writer, which writes the rare cases (bigint, 2^64, DateTime64 text) or throws.
 */
function compileRowsEncoder(columns: readonly string[], types: readonly InsertColumnType[]): RowsEncoder {
  const cacheKey = JSON.stringify([columns, types]);
  const cached = compiledEncoders.get(cacheKey);
  if (cached) return cached;
  const lines = columns.map((column, i) => {
    const key = JSON.stringify(column);
    const read = `v = row[${key}];`;
    const type = types[i]!;
    if (type === 'String')
      return `${read} if (typeof v === 'string') out.string(v); else w[${i}](v, ${key});`;
    if (type === 'UInt64') {
      return `${read} if (typeof v === 'number' && v >= 0 && v <= ${Number.MAX_SAFE_INTEGER} && Math.floor(v) === v) out.uint64(v); else w[${i}](v, ${key});`;
    }
    const width = UINT_WIDTH[type];
    if (width !== undefined) {
      const max = uintMax(width);
      return `${read} if (typeof v === 'number' && v >= 0 && v <= ${max} && Math.floor(v) === v) out.uint(v, ${width}); else w[${i}](v, ${key});`;
    }
    return `${read} w[${i}](v, ${key});`;
  });
  const source = `for (let r = 0; r < rows.length; r++) {\n const row = rows[r];\n let v;\n ${lines.join('\n ')}\n}`;
  const encoder = new Function('rows', 'out', 'w', source) as RowsEncoder;
  compiledEncoders.set(cacheKey, encoder);
  return encoder;
}

/**
 * The rows as one RowBinaryWithNamesAndTypes payload, `columns` in this order with these types. A value
 * that does not fit its type throws a RowBinaryValueError naming the column (nothing is sent).
 *
 * `reuse`: a buffer to write into; the payload is a view of it while it fits, of a new buffer when it
 * outgrows it. Either way `payload.buffer` belongs to this payload alone, so a caller can keep it whole
 * for the next call. A batch is MBs: a fresh buffer per insert is external memory, which
 * makes V8 collect the whole heap (holding the batch's rows) sooner.
 */
export function encodeRowBinaryWithNamesAndTypes<Row extends Record<string, unknown>>(
  columns: ReadonlyArray<keyof Row & string>,
  types: readonly InsertColumnType[],
  rows: readonly Row[],
  reuse?: Buffer,
): Buffer {
  if (columns.length !== types.length) {
    throw new RowBinaryValueError(`${columns.length} columns but ${types.length} types`);
  }
  // Sized for the common case (a flow row averages 6 bytes per column), so the buffer rarely grows.
  const out = new ByteWriter(256 + rows.length * columns.length * 8, reuse);
  out.varUInt(columns.length);
  for (const column of columns) out.string(column);
  for (const type of types) out.string(type);
  compileRowsEncoder(columns, types)(
    rows,
    out,
    types.map((type) => writerFor(out, type)),
  );
  return out.bytes();
}
