import { describe, expect, it } from 'vitest';
import {
  FLOWLINE_INSERT_COLUMNS,
  FLOWS_COLUMN_TYPES,
  type InsertColumnType,
} from '../../../clickhouse/columns.ts';
import { encodeRowBinaryWithNamesAndTypes, RowBinaryValueError } from '../../../clickhouse/row-binary.ts';

/** Reads RowBinaryWithNamesAndTypes back, independently of the encoder (LEB128 lengths, little-endian). */
function decode(bytes: Buffer) {
  let at = 0;
  const varUInt = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  const text = () => {
    const length = varUInt();
    const value = bytes.subarray(at, at + length).toString('utf8');
    at += length;
    return value;
  };
  const count = varUInt();
  const names = Array.from({ length: count }, text);
  const types = Array.from({ length: count }, text);
  const rows: Array<Record<string, string | bigint>> = [];
  while (at < bytes.length) {
    const row: Record<string, string | bigint> = {};
    for (const [i, type] of types.entries()) {
      if (type === 'String') row[names[i]!] = text();
      else {
        const width = { UInt8: 1, UInt16: 2, UInt32: 4, DateTime: 4 }[type] ?? 8;
        let value = 0n;
        for (let b = width - 1; b >= 0; b--) value = (value << 8n) | BigInt(bytes[at + b]!);
        at += width;
        row[names[i]!] = value;
      }
    }
    rows.push(row);
  }
  return { names, types, rows };
}

const COLUMNS = ['name', 'port', 'packets', 'end', 'at', 'kind', 'seq'] as const;
const TYPES: InsertColumnType[] = [
  'String',
  'UInt16',
  'UInt64',
  'DateTime',
  "DateTime64(3, 'UTC')",
  'UInt8',
  'UInt32',
];
type Row = Record<(typeof COLUMNS)[number], unknown>;

function encode(rows: Row[]) {
  return encodeRowBinaryWithNamesAndTypes<Row>(COLUMNS, TYPES, rows);
}

describe('RowBinaryWithNamesAndTypes', () => {
  it('writes the header, then each value in its binary form', () => {
    const bytes = encode([
      {
        name: 'pod-1',
        port: 443,
        packets: 2 ** 40 + 7,
        end: 1_750_000_000,
        at: '2025-06-15 15:06:40.397',
        kind: 3,
        seq: 70_000,
      },
    ]);
    const decoded = decode(bytes);
    expect(decoded.names).toEqual([...COLUMNS]);
    expect(decoded.types).toEqual(TYPES);
    expect(decoded.rows).toEqual([
      {
        name: 'pod-1',
        port: 443n,
        packets: 2n ** 40n + 7n,
        end: 1_750_000_000n,
        at: 1_750_000_000_397n,
        kind: 3n,
        seq: 70_000n,
      },
    ]);
    // The first value byte by byte: length 5, then the text.
    const headerEnd =
      bytes.indexOf(Buffer.from("DateTime64(3, 'UTC')")) + 20 + 'UInt8'.length + 1 + 'UInt32'.length + 1;
    expect([...bytes.subarray(headerEnd, headerEnd + 8)]).toEqual([
      5,
      0x70,
      0x6f,
      0x64,
      0x2d,
      0x31,
      443 & 0xff,
      443 >> 8,
    ]);
  });

  it('encodes UTF-8 and long strings with their byte length', () => {
    const long = 'x'.repeat(300);
    const rows = ['', 'é', 'namespace-ü-🚀', long, `${'é'.repeat(70)}`].map((name) => ({
      name,
      port: 0,
      packets: 0,
      end: 0,
      at: 0,
      kind: 0,
      seq: 0,
    }));
    const decoded = decode(encode(rows));
    expect(decoded.rows.map((r) => r.name)).toEqual(['', 'é', 'namespace-ü-🚀', long, 'é'.repeat(70)]);
    // 300 bytes: two-byte length 0xac 0x02.
    const at = encode([rows[3]!]).indexOf(Buffer.from([0xac, 0x02, 0x78]));
    expect(at).toBeGreaterThan(0);
  });

  it('writes into a reused buffer while the payload fits, into its own unpooled buffer when it outgrows it', () => {
    const row = (i: number): Row => ({
      name: `pod-${i}`,
      port: i,
      packets: i,
      end: i,
      at: i,
      kind: 1,
      seq: i,
    });
    const few = [row(1), row(2)];
    const many = Array.from({ length: 200 }, (_, i) => row(i));
    const reuse = Buffer.alloc(4096, 0xee);
    const small = encodeRowBinaryWithNamesAndTypes<Row>(COLUMNS, TYPES, few, reuse);
    expect(small.buffer).toBe(reuse.buffer);
    expect(small).toEqual(encode(few));
    const grown = encodeRowBinaryWithNamesAndTypes<Row>(COLUMNS, TYPES, many, reuse);
    expect(grown.buffer).not.toBe(reuse.buffer);
    expect(grown).toEqual(encode(many));
    // Written over the first payload: a caller reuses a buffer only once its payload is gone.
    const again = encodeRowBinaryWithNamesAndTypes<Row>(COLUMNS, TYPES, [row(9)], reuse);
    expect(decode(again).rows.map((r) => r.name)).toEqual(['pod-9']);
    // Fresh buffers are never slices of Node's shared pool, so a caller may keep one whole.
    const fresh = encode(few);
    expect(fresh.byteOffset).toBe(0);
    expect(fresh.buffer.byteLength).toBeGreaterThanOrEqual(fresh.length);
    expect(fresh.buffer).not.toBe(encode(few).buffer);
  });

  it('writes 64-bit counters exactly below 2^53, bigints exactly, and a double of 2^64 as the largest UInt64', () => {
    const decoded = decode(
      encode(
        [Number.MAX_SAFE_INTEGER, 2n ** 64n - 2n, 2 ** 64, 2 ** 60].map((packets) => ({
          name: '',
          port: 0,
          packets,
          end: 0,
          at: '1970-01-01 00:00:00.000',
          kind: 0,
          seq: 0,
        })),
      ),
    );
    expect(decoded.rows.map((r) => r.packets)).toEqual([
      2n ** 53n - 1n,
      2n ** 64n - 2n,
      2n ** 64n - 1n,
      2n ** 60n,
    ]);
  });

  it('rejects a value that does not fit its column, naming the column', () => {
    const good: Row = { name: 'a', port: 1, packets: 1, end: 1, at: 1, kind: 1, seq: 1 };
    const cases: Array<[Partial<Row>, RegExp]> = [
      [{ port: 70_000 }, /column port \(UInt16\): 70000 is not in 0\.\.65535/],
      [{ kind: -1 }, /column kind \(UInt8\)/],
      [{ seq: 1.5 }, /column seq \(UInt32\)/],
      [{ packets: -3 }, /column packets \(UInt64\)/],
      [{ packets: 2 ** 65 }, /column packets \(UInt64\)/],
      [{ name: 7 }, /column name \(String\): 7 is not a string/],
      [{ end: '2025-01-01' }, /column end \(DateTime\)/],
      [{ at: 'yesterday' }, /column at \(DateTime64\(3\)\)/],
    ];
    for (const [change, message] of cases) {
      expect(() => encode([{ ...good, ...change }])).toThrow(RowBinaryValueError);
      expect(() => encode([{ ...good, ...change }])).toThrow(message);
    }
  });

  it('has a type for every column the exporter writes', () => {
    expect(Object.keys(FLOWS_COLUMN_TYPES).sort()).toEqual([...FLOWLINE_INSERT_COLUMNS].sort());
  });
});
