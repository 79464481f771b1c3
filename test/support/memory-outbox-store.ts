// The sink outbox's store in memory (the SinkOutboxStore port, core/flow-state/ports.ts) with the
// DynamoDB adapter's conditional semantics (functions/flow-store/sink-outbox.ts), for unit tests of
// functions/sinks/outbox.ts; a fault hook before each operation and one after it (its answer lost). Integration tests use DynamoDB Local.
import type {
  LeaseAnswer,
  OutboxEntry,
  OutboxPosition,
  SinkOutboxStore,
} from '../../core/flow-state/ports.ts';

export type OutboxOperation = 'positions' | 'append' | 'entry' | 'moveCursor' | 'removeEntries' | 'lease';

export class MemoryOutboxStore implements SinkOutboxStore {
  /** Called before each operation; throwing from it fails the operation before it takes effect. */
  beforeOperation: (operation: OutboxOperation) => void = () => {};
  /** Called after each operation took effect; throwing from it loses the answer (the write stays). */
  afterOperation: (operation: OutboxOperation) => void = () => {};
  head: OutboxPosition = { seq: 0, row: 0 };
  readonly cursors = new Map<string, OutboxPosition>();
  readonly entries = new Map<number, OutboxEntry>();
  readonly leases = new Map<string, { owner: string; untilMs: number }>();

  async positions(sinks: readonly string[]) {
    await this.enter('positions');
    const cursors = new Map<string, OutboxPosition>();
    for (const sink of sinks) {
      const cursor = this.cursors.get(sink);
      if (cursor) cursors.set(sink, { ...cursor });
    }
    return { head: { ...this.head }, cursors };
  }

  async append(head: OutboxPosition, entry: Omit<OutboxEntry, 'seq' | 'startRow'>): Promise<boolean> {
    await this.enter('append');
    // The entry and the head move together, conditional on the head (one transaction in DynamoDB).
    if (this.head.seq !== head.seq) return this.leave('append', false);
    this.entries.set(head.seq, { ...entry, seq: head.seq, startRow: head.row });
    this.head = { seq: head.seq + 1, row: head.row + entry.rows };
    return this.leave('append', true);
  }

  async entry(seq: number, withRows: boolean): Promise<OutboxEntry | undefined> {
    await this.enter('entry');
    const entry = this.entries.get(seq);
    return entry && { ...entry, chunks: withRows ? entry.chunks : [] };
  }

  async moveCursor(sink: string, from: OutboxPosition | undefined, to: OutboxPosition): Promise<boolean> {
    await this.enter('moveCursor');
    const current = this.cursors.get(sink);
    if (current && (!from || current.seq !== from.seq)) return this.leave('moveCursor', false);
    this.cursors.set(sink, { ...to });
    return this.leave('moveCursor', true);
  }

  async removeEntries(from: number, to: number): Promise<void> {
    await this.enter('removeEntries');
    for (let seq = from; seq < to; seq++) this.entries.delete(seq);
  }

  async lease(sink: string, owner: string, nowMs: number, untilMs: number): Promise<LeaseAnswer> {
    await this.enter('lease');
    const current = this.leases.get(sink);
    if (current && current.owner !== owner && current.untilMs >= nowMs)
      return this.leave('lease', { held: false, holder: current.owner, untilMs: current.untilMs });
    this.leases.set(sink, { owner, untilMs });
    return this.leave('lease', { held: true });
  }

  private leave<T>(operation: OutboxOperation, result: T): T {
    this.afterOperation(operation);
    return result;
  }

  private async enter(operation: OutboxOperation): Promise<void> {
    await Promise.resolve();
    this.beforeOperation(operation);
  }
}
