// The flow table's semantics in memory, for property tests that run thousands of pipelines: the
// ExportQueue port (core/flow-state/ports.ts) with DynamoDB's conditional-write behaviour and, when asked,
// its stale reads, a ticker's view
// of the due shards (as functions/flow-store/export-queue.ts partitions them), every state stored as the real
// item encoding (flowItemOf / storedFlowOf), the table's change feed (DynamoDB Streams, NEW_IMAGE), and a
// fault hook before each operation. The integration tests run the same code against DynamoDB Local.
import {
  type ExistingItemWrite,
  type ExportQueue,
  type FlowWrite,
  MAX_WRITES_PER_BATCH,
  type ReadResult,
  SINGLE_TICKER,
  type TickerPartition,
  type WriteExtras,
  type WriteResult,
} from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig } from '../../core/flow-state/state.ts';
import { type FlowItem, flowItemOf, storedFlowOf } from '../../functions/flow-store/marshal.ts';
import { ATTR, ownedDueShards } from '../../functions/flow-store/schema.ts';

/** Stale answers per key and write at most (MemoryFlowTable.staleRead). */
export const STALE_READS_PER_WRITE = 2;

export type TableOperation = 'read' | 'write' | 'writeBatch';

export class MemoryFlowTable implements ExportQueue {
  /** Called before each operation; throwing from it fails the operation before it takes effect. */
  beforeOperation: (operation: TableOperation) => void = () => {};
  /** The table's items by pk. */
  readonly items = new Map<string, FlowItem>();
  /**
   * The table's change feed (DynamoDB Streams, NEW_IMAGE): every successful write's new item, in write
   * order (so in order per item).
   */
  readonly changes: FlowItem[] = [];
  /**
   * DynamoDB's eventually consistent reads: when this says so for a key, read() returns the item as it was
   * before its latest write (missing before its first), at most STALE_READS_PER_WRITE times per write.
   */
  staleRead: (key: string) => boolean = () => false;
  /** Each written key's item before its latest write (undefined: it had none). */
  private readonly before = new Map<string, FlowItem | undefined>();
  /** Stale answers given for each key since its latest write. */
  private readonly staleAnswers = new Map<string, number>();
  private readonly shards: Set<string>;

  /** `partition`: the due shards a ticker of N sees (functions/flow-store/export-queue.ts). */
  constructor(
    private readonly config: ScheduleConfig,
    partition: TickerPartition = SINGLE_TICKER,
  ) {
    this.shards = new Set(ownedDueShards(partition, config.dueShardCount));
  }

  async read(keys: readonly string[]): Promise<ReadResult> {
    this.beforeOperation('read');
    const flows = new Map();
    for (const key of keys) {
      const item = this.isStale(key) ? this.before.get(key) : this.items.get(key);
      if (item) flows.set(key, storedFlowOf(item));
    }
    return { flows, consumedReadUnits: 0 };
  }

  async write(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): Promise<WriteResult> {
    this.beforeOperation('write');
    return this.conditionalWrite(state, expectedVersion, nowMs, extras);
  }

  async writeMany(writes: readonly FlowWrite[], nowMs: number): Promise<WriteResult[]> {
    this.beforeOperation('write');
    return writes.map((w) => this.conditionalWrite(w.state, w.expectedVersion, nowMs, w.extras));
  }

  async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    if (writes.length > MAX_WRITES_PER_BATCH) throw new Error('too many writes in one batch');
    this.beforeOperation('writeBatch');
    return writes.map((w) => this.conditionalWrite(w.state, w.expectedVersion, nowMs, w.extras));
  }

  private conditionalWrite(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): WriteResult {
    const key = state.flow.flowKey;
    const current = this.items.get(key);
    const currentVersion = current ? Number(current[ATTR.version]?.N) : undefined;
    if (currentVersion !== expectedVersion) {
      return { ok: false, current: current ? storedFlowOf(current) : undefined };
    }
    const version = (expectedVersion ?? 0) + 1;
    const item = flowItemOf(state, version, nowMs, this.config, extras);
    this.before.set(key, current);
    this.staleAnswers.delete(key);
    this.items.set(key, item);
    this.changes.push(structuredClone(item));
    return { ok: true, version, consumedWriteUnits: 1 };
  }

  /**
   * A stale answer for this key now? DynamoDB's replicas converge within about a second of a write, so
   * staleness does not last: a key the table keeps answering stale until it is written again would model
   * a store that never converges (a ticker whose every read misses a flow written once never closes it).
   */
  private isStale(key: string): boolean {
    const given = this.staleAnswers.get(key) ?? 0;
    if (!this.before.has(key) || given >= STALE_READS_PER_WRITE || !this.staleRead(key)) return false;
    this.staleAnswers.set(key, given + 1);
    return true;
  }

  async dueKeys(nowMs: number, limit: number): Promise<string[]> {
    return this.due(nowMs)
      .slice(0, limit)
      .map(([key]) => key);
  }

  async oldestDueAt(nowMs: number): Promise<number | undefined> {
    return this.due(nowMs)[0]?.[1];
  }

  private due(nowMs: number): Array<[string, number]> {
    const due: Array<[string, number]> = [];
    for (const [key, item] of this.items) {
      const at = item[ATTR.nextExportAt]?.N;
      const shard = item[ATTR.dueShard]?.S;
      if (at !== undefined && shard && this.shards.has(shard) && Number(at) <= nowMs)
        due.push([key, Number(at)]);
    }
    return due.sort((a, b) => a[1] - b[1]);
  }
}
