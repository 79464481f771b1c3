// WireBatchBuilder's fast paths (string hints, builder reuse, inline varints) must write exactly the bytes of
// the format as core/wire.ts defines it. The reference encoder below is a plain reading of that definition.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyFlowRecord, type FlowRecord } from '../../../core/flow-record.ts';
import { seededRandom } from '../../../core/random.ts';
import {
  decodeWireBatch,
  encodeWireBatch,
  WIRE_FIELDS_V1,
  WIRE_STRING_FIELDS,
  WireBatchBuilder,
} from '../../../core/wire.ts';

/** Unsigned LEB128 of a number field as the encoder treats it (below 128 truncated, else 0 if not a safe integer). */
function referenceVarint(value: number): number[] {
  if (value >= 0 && value < 128) return [Math.trunc(value)];
  let v = value >= 0 && Number.isSafeInteger(value) ? value : 0;
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function referenceEncode(records: readonly FlowRecord[]): Buffer {
  const strings = new Map<string, number>([['', 0]]);
  const body: number[] = [];
  for (const record of records) {
    for (const [field, kind] of WIRE_FIELDS_V1) {
      const value = record[field];
      if (kind === 'number') body.push(...referenceVarint(value as number));
      else {
        if (!strings.has(value as string)) strings.set(value as string, strings.size);
        body.push(...referenceVarint(strings.get(value as string)!));
      }
    }
  }
  const table: number[] = [];
  for (const text of strings.keys()) {
    const bytes = Buffer.from(text, 'utf8');
    table.push(...referenceVarint(bytes.length), ...bytes);
  }
  return Buffer.from([
    0x46,
    0x4c,
    1,
    0,
    ...referenceVarint(strings.size),
    ...table,
    ...referenceVarint(records.length),
    ...body,
  ]);
}

/** Around every boundary of the writer's paths (1 to 5 bytes inline, the rest through writeVarint). */
const EDGE_NUMBERS = [
  0,
  1,
  127,
  128,
  16383,
  16384,
  2097151,
  2097152,
  268435455,
  268435456,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  34359738367,
  34359738368,
  2 ** 42 + 5,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 60,
  0.5,
  127.9,
  128.5,
  3e9 + 0.5,
  -1,
  -0.5,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
];
const TEXTS = ['', 'a', 'pod-1', 'default', '10.0.0.1', 'fd00::1', 'pöd-😀', 'é', 'x'.repeat(130)];

function randomRecords(random: () => number, count: number): FlowRecord[] {
  return Array.from({ length: count }, () => {
    const record = emptyFlowRecord() as unknown as Record<string, number | string>;
    for (const [field, kind] of WIRE_FIELDS_V1) {
      if (kind === 'number')
        record[field] =
          random() < 0.4
            ? EDGE_NUMBERS[Math.floor(random() * EDGE_NUMBERS.length)]!
            : Math.floor(random() * 2 ** (random() * 53));
      else
        record[field] =
          random() < 0.3
            ? TEXTS[Math.floor(random() * TEXTS.length)]!
            : random() < 0.5
              ? ''
              : `s${Math.floor(random() * 400)}`;
    }
    return record as unknown as FlowRecord;
  });
}

/** Hints that are deliberately unreliable: the same hint for different strings, none, or out of range. */
function randomHints(random: () => number): Int32Array {
  return Int32Array.from(WIRE_STRING_FIELDS, () =>
    random() < 0.2 ? -1 : random() < 0.1 ? Math.floor(random() * 2 ** 30) : Math.floor(random() * 40),
  );
}

describe('WireBatchBuilder writes the format, whatever path it takes', () => {
  it('matches the reference encoding for edge and random numbers and strings', () => {
    const random = seededRandom(11);
    for (let batch = 0; batch < 200; batch++) {
      const records = randomRecords(random, 1 + Math.floor(random() * 60));
      expect(encodeWireBatch(records).equals(referenceEncode(records))).toBe(true);
    }
  });

  it('string hints change nothing in the bytes, right or wrong', () => {
    const random = seededRandom(12);
    for (let batch = 0; batch < 200; batch++) {
      const records = randomRecords(random, 1 + Math.floor(random() * 120));
      const builder = new WireBatchBuilder();
      for (const record of records) builder.add(record, randomHints(random), 0);
      expect(builder.finish().equals(referenceEncode(records))).toBe(true);
    }
  });

  it('hints at an offset into a shared buffer', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 30 }), (names) => {
        const records = names.map((name, i) => ({
          ...emptyFlowRecord(),
          sourcePodName: name,
          destinationPodName: names[(i * 7) % names.length]!,
        }));
        const stride = WIRE_STRING_FIELDS.length;
        const hints = new Int32Array(stride * records.length + 3).fill(5); // one hint for every string
        const builder = new WireBatchBuilder();
        records.forEach((record, i) => {
          builder.add(record, hints, 3 + i * stride);
        });
        expect(builder.finish().equals(referenceEncode(records))).toBe(true);
      }),
      { seed: 13, numRuns: 200 },
    );
  });

  it('a builder reused with reset() writes every batch as a new builder would', () => {
    const random = seededRandom(14);
    const builder = new WireBatchBuilder();
    const strings = ['a', 'b', 'c', 'pod-1', 'pod-2'];
    for (let batch = 0; batch < 5_000; batch++) {
      const records = Array.from({ length: 1 + (batch % 3) }, (_, i) => ({
        ...emptyFlowRecord(),
        sourcePodName: strings[(batch + i) % strings.length]!,
        destinationPodName: strings[(batch * 3 + i) % strings.length]!,
      }));
      for (const record of records) builder.add(record, randomHints(random), 0);
      const payload = builder.finish();
      builder.reset();
      if (batch % 50 === 0) expect(payload.equals(referenceEncode(records))).toBe(true);
    }
  });

  it('rollback() takes back the last record: the bytes, and the records added after, are as without it', () => {
    const random = seededRandom(16);
    for (let batch = 0; batch < 300; batch++) {
      const records = randomRecords(random, 2 + Math.floor(random() * 80));
      // Some taken back: new strings (table, hash index, hint table) and ones the batch already had.
      const taken = new Set(records.map((_, i) => i).filter(() => random() < 0.2));
      const builder = new WireBatchBuilder();
      const hints = records.map(() => randomHints(random));
      records.forEach((record, i) => {
        builder.mark();
        builder.add(record, hints[i], 0);
        if (taken.has(i)) builder.rollback(hints[i], 0);
      });
      const kept = records.filter((_, i) => !taken.has(i));
      expect(builder.finish().equals(referenceEncode(kept))).toBe(true);
    }
  });

  it('rollback() after a record whose strings made the table grow, and without hints', () => {
    const builder = new WireBatchBuilder();
    const many = emptyFlowRecord() as unknown as Record<string, number | string>;
    WIRE_STRING_FIELDS.forEach((field, k) => {
      many[field] = `new-${k}`;
    });
    // 21 strings in the table, then 25 more: past half of the hash index's 64 slots, so it grows (rehash).
    const first = emptyFlowRecord() as unknown as Record<string, number | string>;
    WIRE_STRING_FIELDS.forEach((field, k) => {
      first[field] = k < 20 ? `old-${k}` : '';
    });
    first.sourcePodName = 'a';
    builder.add(first as unknown as FlowRecord);
    builder.mark();
    builder.add(many as unknown as FlowRecord);
    builder.rollback();
    const after = { ...emptyFlowRecord(), sourcePodName: 'new-3', destinationPodName: 'a' };
    builder.add(after);
    expect(builder.finish().equals(referenceEncode([first as unknown as FlowRecord, after]))).toBe(true);
  });

  it('batches with more strings than hint entries can index (over 65,535)', () => {
    const random = seededRandom(15);
    const records = Array.from({ length: 3000 }, (_, i) => {
      const record = emptyFlowRecord() as unknown as Record<string, number | string>;
      WIRE_STRING_FIELDS.forEach((field, k) => {
        record[field] = `s${i}-${k}`;
      });
      return record as unknown as FlowRecord;
    });
    const builder = new WireBatchBuilder();
    for (const record of records) builder.add(record, randomHints(random), 0);
    const payload = builder.finish();
    expect(payload.equals(encodeWireBatch(records))).toBe(true);
    expect(decodeWireBatch(payload)).toEqual(records);
  });
});
