// A bucket's entries (functions/flow-store/buckets.ts): each flow's state with its names left out, its
// numbers column by column as differences between flows, and the bucket's due key. Pure: no AWS import.
// Hand-written rather than a general serialiser (JSON, MessagePack): DynamoDB bills every byte of the item
// on every write, and columns of small differences deflate to about a fifth of the same numbers entry by
// entry (docs/flow-state-and-scale-out.md#buckets).
import { emptyFlowRecord, type FlowRecord } from '../../core/flow-record.ts';
import type { FlowState } from '../../core/flow-state/state.ts';
import { WIRE_FIELDS_V1 } from '../../core/wire.ts';
import { Reader, Writer } from './closed-rows.ts';
import { aggregationListOf, FlowItemError, flowStateOf, inflateBucketEntries } from './marshal.ts';

const ENTRIES_FORMAT = 1;

/** Record fields that change with records and so stay in the bucket; every other string is a name. */
const CHANGING_STRINGS = new Set<keyof FlowRecord>(['exporterAddress', 'tcpState']);
const NAME_FIELDS = (Object.keys(emptyFlowRecord()) as Array<keyof FlowRecord>).filter(
  (field) => typeof emptyFlowRecord()[field] === 'string' && !CHANGING_STRINGS.has(field),
);

/** One flow's part of a bucket. */
export interface BucketEntry {
  state: FlowState;
  /** The bucket version whose write set this entry: the flow's own version (StoredFlow.version). */
  changedAt: number;
  /** The due key its last writer chose (advance.ts indexKeyOf); undefined once closed. */
  dueBy: number | undefined;
  /** TTL, epoch seconds. */
  expiresAt: number;
  /** The TTL its names item was written with, epoch seconds. */
  namesExpireAt: number;
}

/** A bucket as read: absent (version undefined) or at a version, with its entries and due key. */
export interface Bucket {
  pk: string;
  version: number | undefined;
  entries: Map<string, BucketEntry>;
  dueKey: number | undefined;
}

function _withoutNames(record: FlowRecord): FlowRecord {
  const out = { ...record } as Record<string, unknown>;
  for (const field of NAME_FIELDS) out[field] = '';
  return out as unknown as FlowRecord;
}

function withNames(record: FlowRecord, names: FlowRecord | undefined): FlowRecord {
  if (!names) return record;
  const out = { ...record } as Record<string, unknown>;
  for (const field of NAME_FIELDS) out[field] = names[field];
  return out as unknown as FlowRecord;
}

/** The record's names differ from the stored ones (or none are stored). */
export function namesChanged(record: FlowRecord, names: FlowRecord | undefined): boolean {
  return names === undefined || NAME_FIELDS.some((field) => record[field] !== names[field]);
}

/** The record's number fields, in wire order: one column each. */
const RECORD_NUMBERS = WIRE_FIELDS_V1.filter(([, kind]) => kind === 'number').map(([field]) => field);
/**
 * Columns after the record's numbers and the `agg` list: exportSeq, updated, dueBy + 1, expiresAt,
 * namesExpireAt, changedAt.
 */
const TAIL_COLUMNS = 6;
/** A column whose values are all safe integers is stored as zigzag deltas between entries, else as doubles. */
const COLUMN_DELTAS = 0;
const COLUMN_DOUBLES = 1;

function numbersOf(entry: BucketEntry): number[] {
  const { state } = entry;
  const record = state.flow.record as unknown as Record<string, number>;
  return [
    ...RECORD_NUMBERS.map((field) => record[field]!),
    ...aggregationListOf(state),
    state.exportSeq,
    state.updatedSinceExport ? 1 : 0,
    entry.dueBy === undefined ? 0 : entry.dueBy + 1,
    entry.expiresAt,
    entry.namesExpireAt,
    entry.changedAt,
  ];
}

/**
 * The `flows` attribute's plain bytes (deflated by the caller): per entry its key, exporter address and TCP
 * state, then its numbers column by column (the record's numbers, `agg`, the tail), each column as deltas
 * from the entry before. Flows of a bucket share times, timeouts and flags, so their columns differ by
 * little: about a third fewer bytes deflated than entry by entry.
 */
export function encodeEntries(entries: Iterable<BucketEntry>): Buffer {
  const list = [...entries];
  const rows = list.map(numbersOf);
  const width = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== width)) throw new FlowItemError('bucket entries of different layouts');
  const out = new Writer();
  out.varint(ENTRIES_FORMAT);
  out.varint(list.length);
  out.varint(width);
  for (const { state } of list) {
    out.block(Buffer.from(state.flow.flowKey));
    out.block(Buffer.from(state.flow.record.exporterAddress));
    out.block(Buffer.from(state.flow.record.tcpState));
  }
  for (let c = 0; c < width; c++) {
    const column = rows.map((r) => r[c]!);
    if (column.every(Number.isSafeInteger)) {
      out.varint(COLUMN_DELTAS);
      let previous = 0;
      for (const value of column) {
        out.varint(zigzag(value - previous));
        previous = value;
      }
    } else {
      out.varint(COLUMN_DOUBLES);
      for (const value of column) out.double(value);
    }
  }
  return out.done();
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** The entries of a `flows` attribute, each record with the names given for its flow (blank without). */
export function decodeEntries(
  bytes: Uint8Array,
  pk: string,
  namesOf: (flowKey: string) => FlowRecord | undefined,
): Map<string, BucketEntry> {
  const input = new Reader(inflateBucketEntries(bytes, pk), `bucket ${pk}`);
  const format = input.varint();
  if (format !== ENTRIES_FORMAT)
    throw new FlowItemError(`bucket ${pk}: entries format ${format} not supported`);
  const count = input.varint();
  const width = input.varint();
  const aggregationLength = width - RECORD_NUMBERS.length - TAIL_COLUMNS;
  if (aggregationLength < 1) throw new FlowItemError(`bucket ${pk}: ${width} columns`);
  const text = () => Buffer.from(input.block()).toString();
  const heads = Array.from({ length: count }, () => ({
    flowKey: text(),
    exporterAddress: text(),
    tcpState: text(),
  }));
  const rows = heads.map(() => new Array<number>(width));
  for (let c = 0; c < width; c++) {
    const mode = input.varint();
    let previous = 0;
    for (const row of rows) {
      if (mode === COLUMN_DELTAS) previous += unzigzag(input.varint());
      else if (mode === COLUMN_DOUBLES) previous = input.double();
      else throw new FlowItemError(`bucket ${pk}: column mode ${mode}`);
      row[c] = previous;
    }
  }
  if (!input.atEnd) throw new FlowItemError(`bucket ${pk} has trailing bytes`);
  const entries = new Map<string, BucketEntry>();
  for (const [e, head] of heads.entries()) {
    const numbers = rows[e]!;
    const record = { ...emptyFlowRecord(), exporterAddress: head.exporterAddress, tcpState: head.tcpState };
    RECORD_NUMBERS.forEach((field, i) => {
      (record as unknown as Record<string, number>)[field] = numbers[i]!;
    });
    const aggregation = numbers.slice(RECORD_NUMBERS.length, RECORD_NUMBERS.length + aggregationLength);
    const [exportSeq, updated, dueBy, expiresAt, namesExpireAt, changedAt] = numbers.slice(-TAIL_COLUMNS) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const state = flowStateOf(head.flowKey, withNames(record, namesOf(head.flowKey)), aggregation, {
      updated: updated === 1,
      exportSeq,
    });
    entries.set(head.flowKey, {
      state,
      changedAt,
      dueBy: dueBy === 0 ? undefined : dueBy - 1,
      expiresAt,
      namesExpireAt,
    });
  }
  return entries;
}

/**
 * The bucket's due-index key after a write at nowMs: its current key while that is at least marginMs ahead
 * and no flow needs an earlier look (its writer's due key), else the earliest flow's due key. The
 * correlator's writers keep a live flow's key at the bucket's while it is far enough ahead (its stored
 * indexKey is the bucket's), so the key of a bucket of live flows moves once per slack, not once per flow.
 */
export function bucketKeyOf(
  currentKey: number | undefined,
  entries: Iterable<BucketEntry>,
  nowMs: number,
  marginMs: number,
): number | undefined {
  let earliest: number | undefined;
  for (const entry of entries) {
    if (entry.dueBy !== undefined && (earliest === undefined || entry.dueBy < earliest))
      earliest = entry.dueBy;
  }
  if (earliest === undefined) return undefined;
  const keep = currentKey !== undefined && currentKey <= earliest && currentKey >= nowMs + marginMs;
  return keep ? currentKey : earliest;
}
