// The flow table's semantics in memory, for property tests that run thousands of pipelines: the
// ExportQueue port (functions/flow-store/export-queue.ts) with DynamoDB's conditional-write behaviour,
// every state stored as the real item encoding (flowItemOf / storedFlowOf), and a fault hook before each
// operation. The integration tests run the same code against DynamoDB Local.
import {
  type BatchManifest,
  type ExistingItemWrite,
  type ExportQueue,
  MAX_WRITES_PER_BATCH,
  type ReadResult,
  type WriteResult,
} from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig } from '../../core/flow-state/state.ts';
import { type FlowItem, flowItemOf, storedFlowOf } from '../../functions/flow-store/marshal.ts';
import { ATTR } from '../../functions/flow-store/schema.ts';

export type TableOperation = 'read' | 'write' | 'writeBatch' | 'putManifest' | 'deleteManifest';

export class MemoryFlowTable implements ExportQueue {
  readonly items = new Map<string, FlowItem>();
  readonly manifests = new Map<number, BatchManifest>();
  /** Called before each operation; throwing from it fails the operation before it takes effect. */
  beforeOperation: (operation: TableOperation) => void = () => {};

  constructor(private readonly config: ScheduleConfig) {}

  async read(keys: readonly string[]): Promise<ReadResult> {
    this.beforeOperation('read');
    const flows = new Map();
    for (const key of keys) {
      const item = this.items.get(key);
      if (item) flows.set(key, storedFlowOf(item));
    }
    return { flows, consumedReadUnits: 0 };
  }

  async write(state: FlowState, expectedVersion: number | undefined, nowMs: number): Promise<WriteResult> {
    this.beforeOperation('write');
    return this.conditionalWrite(state, expectedVersion, nowMs);
  }

  async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    if (writes.length > MAX_WRITES_PER_BATCH) throw new Error('too many writes in one batch');
    this.beforeOperation('writeBatch');
    return writes.map((w) => this.conditionalWrite(w.state, w.expectedVersion, nowMs));
  }

  private conditionalWrite(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
  ): WriteResult {
    const key = state.flow.flowKey;
    const current = this.items.get(key);
    const currentVersion = current ? Number(current[ATTR.version]?.N) : undefined;
    if (currentVersion !== expectedVersion) {
      return { ok: false, current: current ? storedFlowOf(current) : undefined };
    }
    const version = (expectedVersion ?? 0) + 1;
    this.items.set(key, flowItemOf(state, version, nowMs, this.config));
    return { ok: true, version, consumedWriteUnits: 1 };
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
      if (at !== undefined && Number(at) <= nowMs) due.push([key, Number(at)]);
    }
    return due.sort((a, b) => a[1] - b[1]);
  }

  async putManifest(manifest: BatchManifest): Promise<void> {
    this.beforeOperation('putManifest');
    this.manifests.set(manifest.slot, structuredClone(manifest));
  }

  async openManifests(slotCount: number): Promise<BatchManifest[]> {
    return [...this.manifests.values()].filter((m) => m.slot < slotCount).sort((a, b) => a.slot - b.slot);
  }

  async deleteManifest(manifest: BatchManifest): Promise<void> {
    this.beforeOperation('deleteManifest');
    if (this.manifests.get(manifest.slot)?.batchId === manifest.batchId) this.manifests.delete(manifest.slot);
  }
}
