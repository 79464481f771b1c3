// The extra sinks in the exactly-once property tests (test/unit/exporter/stream-exactly-once.property.test.ts):
// every exporter container hands each batch to the durable outbox before its insert; an "archive" sink keyed
// by batch token (a batch's object is overwritten by its replays) and an "IPFIX-like" sink that appends
// whatever it receives (at least once), with container, outbox and sink faults, and the checks of what the
// sinks got against ClickHouse.
import fc from 'fast-check';
import { expect } from 'vitest';
import type { PendingRow } from '../../functions/exporter/batch.ts';
import type { FlowRow } from '../../functions/exporter/rows.ts';
import { OUTBOX_CHUNK_BYTES } from '../../functions/flow-store/sink-outbox.ts';
import type { ExportedBatch, ExportedRow } from '../../functions/sinks/exported-row.ts';
import { type BatchSink, SinkOutbox } from '../../functions/sinks/outbox.ts';
import type { DedupSink } from './exactly-once-flows.ts';
import { MemoryOutboxStore, type OutboxOperation } from './memory-outbox-store.ts';

// With sinks (docs/sinks.md): every exporter container hands each batch to the durable outbox before the
// insert; an "archive" sink keyed by batch token (a batch's object is overwritten by its replays) and an
// "IPFIX-like" sink that appends whatever it receives (at least once). Faults on top of the exporter's: a
// container replaced (new exporter, new outbox on the same stores), the outbox append failing (before it
// is stored, or stored with its answer lost), a sink down for a while and back, a cursor write lost
// (not stored, or stored with its answer lost).
export type SinkName = 'ipfix' | 'archive';
const outboxFaultOf = (operations: Array<`${'append' | 'moveCursor'}${'' | '-ack'}` | 'positions'>) =>
  fc.record({ operation: fc.constantFrom(...operations), times: fc.integer({ min: 1, max: 3 }) });
/** undefined `weight` times as often as a value. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight: number) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight }, { arbitrary, weight: 1 });
/**
 * `duplicates`: the faults that put a batch in the log twice (a new container handing over a batch delivered
 * again; an append stored whose answer was lost). Without them every drop is of a batch no
 * sink got, so rows dropped = rows missing exactly.
 */
export const sinkStepOf = (duplicates: boolean) =>
  fc.record({
    /**
     * The faulty exporter's next invocation runs in another container: "recycled", the current one is
     * gone (stopped: only the stores keep its work) and a new one starts; "new", a new one starts while
     * the current one lives on (its workers keep going, as an overlapping container's would); "warm", an
     * earlier live one that kept its state from then.
     */
    container: duplicates
      ? sometimes(fc.record({ kind: fc.constantFrom('recycled', 'new', 'warm'), pick: fc.nat() }), 2)
      : fc.constant(undefined),
    outboxFault: sometimes(
      outboxFaultOf(
        duplicates
          ? ['append', 'append-ack', 'moveCursor', 'moveCursor-ack', 'positions']
          : ['append', 'moveCursor', 'moveCursor-ack', 'positions'],
      ),
      3,
    ),
    toggleSink: sometimes(fc.constantFrom<SinkName>('ipfix', 'archive'), 3),
    /** Event-loop turns the sinks' workers get (retries wait one turn) before the step's flush. */
    workerTurns: fc.nat({ max: 3 }),
  });
export const sinkScenarioOf = (bound: fc.Arbitrary<number>, duplicates: boolean) =>
  fc.record({ bound, steps: fc.array(sinkStepOf(duplicates), { minLength: 40, maxLength: 40 }) });
export type SinkScenario = typeof sinkScenarioOf extends (...a: never[]) => fc.Arbitrary<infer T> ? T : never;
type OutboxFault = NonNullable<SinkScenario['steps'][number]['outboxFault']>;

export const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The sinks, one outbox store per exporter (as outboxPrefixOf partitions the table), their containers. */
export class SinkWorld {
  readonly archive = new Map<string, ExportedRow[]>();
  readonly ipfix: ExportedRow[] = [];
  readonly down: Record<SinkName, boolean> = { ipfix: false, archive: false };
  readonly drops: Array<{ sink: string; token: string | undefined; rows: number }> = [];
  /** Every container's outbox, replaced ones too (their counters), and each exporter's current one. */
  readonly outboxes: SinkOutbox[] = [];
  readonly current: SinkOutbox[] = [];
  readonly stores: MemoryOutboxStore[];
  private readonly sinks: ReadonlyMap<string, BatchSink>;

  /**
   * `leaseMs`: the sinks' delivery lease, in the scenario's timescale (its steps move the clock up to 120 ms),
   * so leases run out now and then and other containers take a sink over.
   */
  constructor(
    exporters: number,
    private readonly bound: number,
    private readonly clock: () => number,
    readonly leaseMs = 50,
  ) {
    this.stores = Array.from({ length: exporters }, () => new MemoryOutboxStore());
    const sink = (name: SinkName, take: (batch: ExportedBatch) => void): BatchSink => ({
      name,
      deliver: async (batch) => {
        await Promise.resolve();
        if (this.down[name]) throw new Error(`injected: ${name} sink down`);
        take(structuredClone(batch));
      },
    });
    this.sinks = new Map([
      ['ipfix', sink('ipfix', (batch) => this.ipfix.push(...batch.rows))],
      ['archive', sink('archive', (batch) => this.archive.set(batch.token, batch.rows))],
    ]);
  }

  /** A new container's outbox for exporter `index` (resumed from the store); returns its hand-over. */
  open(index: number): (token: string, rows: readonly PendingRow[]) => Promise<void> {
    const outbox = new SinkOutbox(this.stores[index]!, this.sinks, {
      maxQueuedRows: this.bound,
      maxChunkBytes: OUTBOX_CHUNK_BYTES,
      backoffBaseMs: 1,
      backoffCapMs: 8,
      clock: this.clock,
      sleep: () => immediate(),
      random: () => 0.5,
      leaseMs: this.leaseMs,
      onDrop: (sink, dropped) => this.drops.push({ sink, token: dropped.token, rows: dropped.rows }),
    });
    outbox.resume();
    this.outboxes.push(outbox);
    this.current[index] = outbox;
    return (token, rows) => outbox.append(token, rows);
  }

  /** The next `times` operations of that kind on exporter `index`'s outbox store fail. */
  arm(index: number, fault: OutboxFault): void {
    const store = this.stores[index]!;
    const [operation, ack] = fault.operation.split('-') as [OutboxOperation, string | undefined];
    let left = fault.times;
    const hook = (op: OutboxOperation) => {
      if (op === operation && left-- > 0) throw new Error(`injected: outbox ${fault.operation}`);
    };
    if (ack) store.afterOperation = hook;
    else store.beforeOperation = hook;
  }

  heal(): void {
    for (const store of this.stores) {
      store.beforeOperation = () => {};
      store.afterOperation = () => {};
    }
    this.down.ipfix = false;
    this.down.archive = false;
  }

  /**
   * Every current outbox delivers its whole log (workers run to the end). `passLeases` moves the clock past
   * the leases of containers that went away holding one.
   */
  async drainAll(passLeases: () => void): Promise<void> {
    let tick = 0;
    // Every container's outbox, warm or not, runs until its workers are done; the current ones drain all.
    await Promise.all(this.outboxes.map((outbox) => outbox.drain(Number.POSITIVE_INFINITY, () => tick++)));
    passLeases();
    const drained = await Promise.all(
      this.current.map((outbox) => outbox.drain(Number.POSITIVE_INFINITY, () => tick++)),
    );
    expect(drained).toEqual(this.current.map(() => true));
    for (const store of this.stores) {
      for (const sink of this.sinks.keys()) expect(store.cursors.get(sink)).toMatchObject(store.head);
    }
  }

  rowsDropped(sink: string): number {
    return this.outboxes.reduce((sum, outbox) => sum + outbox.stats(sink).rowsDropped, 0);
  }
}

/** A row as JSON, restricted to the ClickHouse columns (a sink row also has its sink columns). */
function asInserted(row: FlowRow | ExportedRow, columns: readonly string[]): string {
  return JSON.stringify(columns.map((column) => row[column as keyof FlowRow]));
}

/**
 * The sinks against ClickHouse: the archive holds, per token, exactly ClickHouse's rows for it; the
 * IPFIX-like sink got every ClickHouse row at least once and nothing else; a row missing from a sink
 * belongs to a batch that sink dropped. Returns the problems and the rows missing per sink.
 */
export function sinkProblemsOf(world: SinkWorld, clickhouse: DedupSink) {
  const problems: string[] = [];
  const columns = Object.keys(clickhouse.rows[0] ?? {});
  const inserted = new Map<string, { json: string; token: string }>();
  for (const [token, rows] of clickhouse.byToken) {
    for (const row of rows)
      inserted.set(`${row.flowKey}#${row.exportSeq}`, { json: asInserted(row, columns), token });
  }
  const droppedBy = (sink: SinkName) =>
    new Set(world.drops.filter((d) => d.sink === sink).map((d) => d.token));
  const missing = { archive: 0, ipfix: 0 };

  const archiveDropped = droppedBy('archive');
  for (const [token, rows] of clickhouse.byToken) {
    const archived = world.archive.get(token);
    if (!archived) {
      if (archiveDropped.has(token)) missing.archive += rows.length;
      else problems.push(`archive: batch ${token} missing, not dropped`);
    } else if (
      JSON.stringify(archived.map((r) => asInserted(r, columns))) !==
      JSON.stringify(rows.map((r) => asInserted(r, columns)))
    )
      problems.push(`archive: batch ${token} holds other rows than ClickHouse`);
  }
  for (const token of world.archive.keys()) {
    if (!clickhouse.byToken.has(token)) problems.push(`archive: batch ${token} not in ClickHouse`);
  }

  const ipfixDropped = droppedBy('ipfix');
  const received = new Set<string>();
  for (const row of world.ipfix) {
    const id = `${row.flowKey}#${row.exportSeq}`;
    received.add(id);
    const expected = inserted.get(id);
    if (!expected) problems.push(`ipfix: ${id} not in ClickHouse`);
    else if (asInserted(row, columns) !== expected.json)
      problems.push(`ipfix: ${id} differs from ClickHouse's`);
  }
  for (const [id, { token }] of inserted) {
    if (received.has(id)) continue;
    if (ipfixDropped.has(token)) missing.ipfix += 1;
    else problems.push(`ipfix: ${id} never received, its batch not dropped`);
  }
  return { problems, missing };
}
