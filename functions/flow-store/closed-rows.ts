// The item's closed rows (attribute `rows`, design: index.ts): the rows the export schedule closed in the
// write that stored them, carried to the exporter by the table's stream (NEW_IMAGE). Only that write's
// rows: the next write replaces them, and the stream delivers every write's image once.
//
// A row is the flow as it was at its export step: mostly what the item holds after the write (names,
// addresses, policies), with other deltas, totals, end times and throughputs. So the rows are encoded in
// full (the wire record of core/wire.ts plus the flow's other numbers) and raw-deflated with the item's
// own stored bytes (its wire record and `agg` numbers) as the preset dictionary: what a row shares with the
// item costs a back-reference, about 60-90 bytes a row in all, which keeps the item under 1 KB. Both ends
// build the dictionary from the stored attributes, never from decoded values, so it is byte-identical.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AggregatedFlow, Counters } from '../../core/aggregated-flow.ts';
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import { dedupTokenOf } from '../../core/flow-state/state.ts';
import { decodeWireBatch, encodeWireBatch } from '../../core/wire.ts';

const FORMAT_VERSION = 1;
/** Rows inflate to far less; a bound keeps a hostile or corrupt item from taking memory. */
const MAX_INFLATED_BYTES = 256 * 1024;

export class ClosedRowsError extends Error {
  override name = 'ClosedRowsError';
}

/** Varints, tagged numbers and length-prefixed blocks (also the bucket items' encoding, buckets.ts). */
export class Writer {
  private readonly bytes: number[] = [];
  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.bytes.push(v);
  }
  /** A non-negative safe integer as tag 0 + varint, anything else as tag 1 + float64. */
  number(value: number): void {
    if (Number.isSafeInteger(value) && value >= 0) {
      this.bytes.push(0);
      this.varint(value);
      return;
    }
    this.bytes.push(1);
    this.double(value);
  }
  double(value: number): void {
    const f = Buffer.allocUnsafe(8);
    f.writeDoubleLE(value);
    this.bytes.push(...f);
  }
  block(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.bytes.push(...bytes);
  }
  done(): Buffer {
    return Buffer.from(this.bytes);
  }
}

export class Reader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what = 'closed rows',
  ) {}
  private byte(): number {
    if (this.offset >= this.bytes.length) throw new ClosedRowsError(`${this.what} end early`);
    return this.bytes[this.offset++]!;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new ClosedRowsError('varint longer than 8 bytes');
  }
  number(): number {
    const tag = this.byte();
    if (tag === 0) return this.varint();
    if (tag !== 1) throw new ClosedRowsError(`unknown number tag ${tag}`);
    return this.double();
  }
  double(): number {
    if (this.offset + 8 > this.bytes.length) throw new ClosedRowsError(`${this.what} end early`);
    const value = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, 8).readDoubleLE(0);
    this.offset += 8;
    return value;
  }
  block(): Uint8Array {
    const length = this.varint();
    if (this.offset + length > this.bytes.length) throw new ClosedRowsError(`${this.what} end early`);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  get atEnd(): boolean {
    return this.offset === this.bytes.length;
  }
}

const COUNTER_GROUPS = [
  'statsFromSourceNode',
  'reverseStatsFromSourceNode',
  'statsFromDestinationNode',
  'reverseStatsFromDestinationNode',
] as const;
const THROUGHPUTS = [
  'throughput',
  'reverseThroughput',
  'throughputFromSourceNode',
  'reverseThroughputFromSourceNode',
  'throughputFromDestinationNode',
  'reverseThroughputFromDestinationNode',
] as const;

function flagsOf(flow: AggregatedFlow): number {
  return (flow.correlationRequired ? 1 : 0) | (flow.readyToSend ? 2 : 0) | (flow.incomplete ? 4 : 0);
}

function writeFlowNumbers(out: Writer, flow: AggregatedFlow): void {
  out.number(flagsOf(flow));
  out.number(flow.flowEndSecondsFromSourceNode);
  out.number(flow.flowEndSecondsFromDestinationNode);
  for (const group of COUNTER_GROUPS) {
    const c = flow[group];
    out.number(c.packetTotalCount);
    out.number(c.packetDeltaCount);
    out.number(c.octetTotalCount);
    out.number(c.octetDeltaCount);
  }
  for (const name of THROUGHPUTS) out.number(flow[name]);
}

function readCounters(input: Reader): Counters {
  return {
    packetTotalCount: input.number(),
    packetDeltaCount: input.number(),
    octetTotalCount: input.number(),
    octetDeltaCount: input.number(),
  };
}

/** The preset dictionary of an item's rows: its stored wire record (inflated) and its `agg` numbers. */
export function rowsDictionaryOf(recordWire: Uint8Array, aggregation: readonly number[]): Buffer {
  const out = new Writer();
  for (const value of aggregation) out.number(value);
  // Deflate looks back at most 32 KB and prefers recent bytes: the record, which rows repeat most, last.
  return Buffer.concat([out.done(), recordWire]);
}

function writeRows(out: Writer, rows: readonly ExportedFlow[]): void {
  out.varint(rows.length);
  for (const row of rows) {
    out.varint(row.exportSeq);
    out.number(row.createdAtMs);
    out.number(row.exportedAtMs);
    out.block(encodeWireBatch([row.flow.record]));
    writeFlowNumbers(out, row.flow);
  }
}

/** The `rows` attribute of a write's closed rows; undefined when there are none. */
export function encodeClosedRows(
  rows: readonly ExportedFlow[],
  dictionary: Uint8Array,
): Uint8Array | undefined {
  if (rows.length === 0) return undefined;
  const out = new Writer();
  out.varint(FORMAT_VERSION);
  writeRows(out, rows);
  return deflateRawSync(out.done(), { dictionary });
}

function inflateRows(bytes: Uint8Array, what: string, dictionary?: Uint8Array): Reader {
  let plain: Buffer;
  try {
    plain = inflateRawSync(bytes, {
      ...(dictionary ? { dictionary } : {}),
      maxOutputLength: MAX_INFLATED_BYTES,
    });
  } catch (error) {
    throw new ClosedRowsError(`closed rows of ${what} do not inflate (${String(error)})`);
  }
  const input = new Reader(plain);
  const version = input.varint();
  if (version !== FORMAT_VERSION) throw new ClosedRowsError(`closed rows format ${version} not supported`);
  return input;
}

/** The rows of a `rows` attribute of flow `flowKey`, given the same dictionary. */
export function decodeClosedRows(bytes: Uint8Array, flowKey: string, dictionary: Uint8Array): ExportedFlow[] {
  const input = inflateRows(bytes, flowKey, dictionary);
  const rows = readRows(input, flowKey);
  return rows;
}

/**
 * The `rows` attribute of a write of several flows (a bucket item, buckets.ts): each flow's key and rows,
 * deflated together with the bucket's entries (inflated) as the preset dictionary, since a row repeats its
 * flow's counters and times; undefined when there are none.
 */
export function encodeRowGroups(
  groups: ReadonlyMap<string, readonly ExportedFlow[]>,
  dictionary: Uint8Array,
): Uint8Array | undefined {
  const withRows = [...groups].filter(([, rows]) => rows.length > 0);
  if (withRows.length === 0) return undefined;
  const out = new Writer();
  out.varint(FORMAT_VERSION);
  out.varint(withRows.length);
  for (const [flowKey, rows] of withRows) {
    out.block(Buffer.from(flowKey));
    writeRows(out, rows);
  }
  return deflateRawSync(out.done(), { dictionary });
}

/** The rows of a `rows` attribute written by encodeRowGroups, all flows' in order. */
export function decodeRowGroups(bytes: Uint8Array, what: string, dictionary: Uint8Array): ExportedFlow[] {
  const input = inflateRows(bytes, what, dictionary);
  const rows: ExportedFlow[] = [];
  const groups = input.varint();
  for (let g = 0; g < groups; g++) {
    const flowKey = Buffer.from(input.block()).toString();
    rows.push(...readRows(input, flowKey));
  }
  if (!input.atEnd) throw new ClosedRowsError(`closed rows of ${what} have trailing bytes`);
  return rows;
}

function readRows(input: Reader, flowKey: string): ExportedFlow[] {
  const count = input.varint();
  const rows: ExportedFlow[] = [];
  for (let i = 0; i < count; i++) {
    const exportSeq = input.varint();
    const createdAtMs = input.number();
    const exportedAtMs = input.number();
    const record = decodeWireBatch(input.block())[0];
    if (!record) throw new ClosedRowsError(`closed row ${i} of ${flowKey} holds no record`);
    const flags = input.number();
    const flow: AggregatedFlow = {
      flowKey,
      record,
      correlationRequired: (flags & 1) !== 0,
      readyToSend: (flags & 2) !== 0,
      incomplete: (flags & 4) !== 0,
      flowEndSecondsFromSourceNode: input.number(),
      flowEndSecondsFromDestinationNode: input.number(),
      statsFromSourceNode: readCounters(input),
      reverseStatsFromSourceNode: readCounters(input),
      statsFromDestinationNode: readCounters(input),
      reverseStatsFromDestinationNode: readCounters(input),
      throughput: input.number(),
      reverseThroughput: input.number(),
      throughputFromSourceNode: input.number(),
      reverseThroughputFromSourceNode: input.number(),
      throughputFromDestinationNode: input.number(),
      reverseThroughputFromDestinationNode: input.number(),
    };
    rows.push({
      flow,
      exportSeq,
      createdAtMs,
      exportedAtMs,
      dedupToken: dedupTokenOf(flowKey, createdAtMs, exportSeq),
    });
  }
  return rows;
}
