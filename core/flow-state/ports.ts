// The flow store's ports: what the correlator and the flusher need from the table that holds one item per
// flow (design: functions/flow-store/index.ts). Pure types and limits; the DynamoDB adapters are
// functions/flow-store/store.ts and export-queue.ts, an in-memory one is test/support/memory-flow-table.ts.
import type { FlowState, StoredFlow } from './state.ts';

export type WriteResult =
  | { ok: true; version: number; consumedWriteUnits: number }
  /** The item moved on (another writer): `current` is what is stored now (undefined: it was deleted). */
  | { ok: false; current: StoredFlow | undefined };

export interface ReadResult {
  flows: Map<string, StoredFlow>;
  consumedReadUnits: number;
}

export interface FlowStore {
  /** Strongly consistent read of the given keys; absent keys are missing from the map. */
  read(keys: readonly string[]): Promise<ReadResult>;
  /** Writes `state` as the next version if the item is still at expectedVersion (undefined = absent). */
  write(state: FlowState, expectedVersion: number | undefined, nowMs: number): Promise<WriteResult>;
}

/**
 * The part of the work one of `count` flushers owns: the due-index shards s with s mod count = index, and
 * its own manifest slots. Every flow has one shard, so N flushers never export the same flow; their
 * conditional marks would refuse it anyway.
 */
export interface FlusherPartition {
  index: number;
  count: number;
}

export const SINGLE_FLUSHER: FlusherPartition = { index: 0, count: 1 };

/** Conditional writes per writeBatch: BatchExecuteStatement's limit. */
export const MAX_WRITES_PER_BATCH = 25;

/** A conditional write of an item that exists: `state` as version expectedVersion + 1. */
export interface ExistingItemWrite {
  state: FlowState;
  expectedVersion: number;
}

export interface BatchManifest {
  slot: number;
  batchId: string;
  rows: number;
  /** The gzip'd row payload, split into chunks in order. */
  chunks: Uint8Array[];
  createdAtMs: number;
}

/** The port the flusher depends on. */
export interface ExportQueue extends FlowStore {
  /** Flow keys whose nextExportAt <= nowMs, over every shard of the due index, at most `limit`. */
  dueKeys(nowMs: number, limit: number): Promise<string[]>;
  /** The earliest nextExportAt (ms) among flows due at nowMs, over every shard; undefined when none is due. */
  oldestDueAt(nowMs: number): Promise<number | undefined>;
  putManifest(manifest: BatchManifest): Promise<void>;
  /** Open manifests of slots 0..slotCount-1, by slot. */
  openManifests(slotCount: number): Promise<BatchManifest[]>;
  deleteManifest(manifest: BatchManifest): Promise<void>;
  /**
   * Up to MAX_WRITES_PER_BATCH conditional writes in one request, each applied or refused on its own (no
   * transaction): a result per write, in order, as write() would give it.
   */
  writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]>;
}
