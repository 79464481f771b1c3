// The flow store's ports: what the correlator and the ticker need from the table that holds one item per
// flow (design: functions/flow-store/index.ts). Pure types and limits; the DynamoDB adapters are
// functions/flow-store/store.ts and export-queue.ts, an in-memory one is test/support/memory-flow-table.ts.
import { forEachLimited } from '../concurrency.ts';
import type { ExportedFlow } from './schedule.ts';
import type { FlowState, StoredFlow } from './state.ts';

/**
 * What a write stores beside the state in the stream export model: the rows its export steps closed (the
 * stream carries them to the exporter) and the due-index key its writer chose (advance.ts indexKeyOf).
 * Without it a write stores no rows and the exact next due time.
 */
export interface WriteExtras {
  rows: readonly ExportedFlow[];
  indexKey: number | undefined;
}

export type WriteResult =
  | { ok: true; version: number; consumedWriteUnits: number }
  /**
   * Not written. Without `error`: the item moved on (another writer) and `current` is what is stored now
   * (undefined: absent). With `error`: the write failed for another reason (writeMany only), and the caller
   * gives up on the flow.
   */
  | { ok: false; current: StoredFlow | undefined; error?: unknown };

/** One conditional write of writeMany: `state` as the next version if the flow is still at expectedVersion. */
export interface FlowWrite {
  state: FlowState;
  /** The version read (undefined: the flow was absent). */
  expectedVersion: number | undefined;
  extras?: WriteExtras;
}

export interface ReadResult {
  flows: Map<string, StoredFlow>;
  consumedReadUnits: number;
}

export interface FlowStore {
  /**
   * The stored flows of the given keys; absent keys are missing from the map. May be stale (an eventually
   * consistent read): callers write only conditionally on the version read and fold again on a refusal.
   */
  read(keys: readonly string[]): Promise<ReadResult>;
  /** Writes `state` as the next version if the item is still at expectedVersion (undefined = absent). */
  write(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): Promise<WriteResult>;
  /**
   * The conditional writes of one correlator round, at most `concurrency` requests in flight: a result per
   * write, in order. A store that keeps several flows in one item writes each item once for all of them.
   */
  writeMany(writes: readonly FlowWrite[], nowMs: number, concurrency: number): Promise<WriteResult[]>;
}

/**
 * writeMany for a store that writes each flow on its own: `writeOne` per write, `concurrency` at once; a
 * write that throws is reported in its result, not thrown.
 */
export async function writeEach(
  writes: readonly FlowWrite[],
  concurrency: number,
  writeOne: (write: FlowWrite) => Promise<WriteResult>,
): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array(writes.length);
  await forEachLimited(
    writes.map((write, i) => ({ write, i })),
    concurrency,
    async ({ write, i }) => {
      try {
        results[i] = await writeOne(write);
      } catch (error) {
        results[i] = { ok: false, current: undefined, error };
      }
    },
  );
  return results;
}

/**
 * The part of the due index one of `count` tickers owns: the shards s with s mod count = index. Every flow
 * has one shard, so N tickers never advance the same flow; their conditional writes would refuse it anyway.
 */
export interface TickerPartition {
  index: number;
  count: number;
}

export const SINGLE_TICKER: TickerPartition = { index: 0, count: 1 };

/** Conditional writes per writeBatch: BatchExecuteStatement's limit. */
export const MAX_WRITES_PER_BATCH = 25;

/** A conditional write of an item that exists: `state` as version expectedVersion + 1. */
export interface ExistingItemWrite {
  state: FlowState;
  expectedVersion: number;
  extras?: WriteExtras;
}

/** The port the ticker depends on: the flow store and the due index. */
export interface ExportQueue extends FlowStore {
  /** Flow keys whose due-index key <= nowMs, over the owned shards, at most `limit`. */
  dueKeys(nowMs: number, limit: number): Promise<string[]>;
  /** The earliest due-index key (ms) at or before nowMs over the owned shards; undefined when none. */
  oldestDueAt(nowMs: number): Promise<number | undefined>;
  /**
   * Up to MAX_WRITES_PER_BATCH conditional writes in one request, each applied or refused on its own (no
   * transaction): a result per write, in order, as write() would give it.
   */
  writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]>;
}

/** A place in the exporter's sink outbox: the sequence number of the next entry and the rows before it. */
export interface OutboxPosition {
  seq: number;
  row: number;
  /**
   * A cursor's: which container (lease owner) made each of its last moves, by the seq the move reached, so
   * a container whose answer to a move was lost can tell whether the move was its own.
   */
  movers?: Readonly<Record<string, string>>;
}

/** One exported batch in the outbox, in append order. */
export interface OutboxEntry {
  seq: number;
  /** The batch's ClickHouse deduplication token. */
  token: string;
  rows: number;
  /** Rows appended before this entry (its place in the row count). */
  startRow: number;
  createdAtMs: number;
  /** The encoded rows, in order (empty when read without rows). */
  chunks: Uint8Array[];
}

/**
 * The durable log between the exporter and its extra sinks (functions/sinks/outbox.ts): entries appended
 * in order, and per sink a cursor at the next entry it has to deliver. Exporters of several stream shards
 * append at once: each append is atomic and conditional on the head.
 */
export interface SinkOutboxStore {
  /** The end of the log, and the recorded cursor of each named sink (missing: none recorded). */
  positions(
    sinks: readonly string[],
  ): Promise<{ head: OutboxPosition; cursors: Map<string, OutboxPosition> }>;
  /**
   * If the head is still at `head`: the entry at head.seq and the head past it, together (nothing of the
   * entry is readable otherwise); false if the head moved.
   */
  append(head: OutboxPosition, entry: Omit<OutboxEntry, 'seq' | 'startRow'>): Promise<boolean>;
  /** The entry at seq (its chunks only when withRows); undefined when it is gone. */
  entry(seq: number, withRows: boolean): Promise<OutboxEntry | undefined>;
  /** Moves a sink's cursor if it is still at `from` (undefined: no cursor yet); false if it moved. */
  moveCursor(sink: string, from: OutboxPosition | undefined, to: OutboxPosition): Promise<boolean>;
  /** Deletes the entries from seq `from` up to, not including, `to`. */
  removeEntries(from: number, to: number): Promise<void>;
  /**
   * The sink's delivery lease: taken (or kept) for `owner` until `untilMs` if nobody holds it, its holder's
   * time ran out before `nowMs`, or `owner` holds it already; otherwise who holds it, and until when.
   */
  lease(sink: string, owner: string, nowMs: number, untilMs: number): Promise<LeaseAnswer>;
}

export type LeaseAnswer = { held: true } | { held: false; holder: string; untilMs: number };
