// Exactly once, whatever the order (issue 14): random flows whose records reach the correlator in random
// order, with random duplicates, random Kinesis batch splits, correlator crashes mid-batch (the batch is
// delivered again) and flusher faults at every step of a round (manifest, marking, insert, acknowledgement
// lost, manifest delete), with 1 to 4 flushers running their rounds at once, each on its own due shards
// and manifest slots (issue 15). The real correlateBatch and Flusher run on an in-memory table with DynamoDB's
// conditional-write semantics and a sink that deduplicates inserts by token, as ClickHouse does.
// Checked per flow: the sum of each delta column equals the truth, the max of each total column equals
// the truth, and no (flow, export) row is inserted twice. The same runs with the extra sinks on (their
// durable outbox, functions/sinks/outbox.ts) add container and outbox faults (see SinkWorld) and check the
// sinks against ClickHouse after recovery: an archive exactly, an IPFIX-like sink at least once, drops
// only over the bound and counted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { correlateBatch, type KinesisRecordLike } from '../../../functions/correlator/correlate-batch.ts';
import { MANIFEST_CHUNK_BYTES } from '../../../functions/flow-store/export-queue.ts';
import type { PendingRow } from '../../../functions/flusher/batch.ts';
import { Flusher } from '../../../functions/flusher/flusher.ts';
import type { FlowRow } from '../../../functions/flusher/rows.ts';
import type { ExportedBatch, ExportedRow } from '../../../functions/sinks/exported-row.ts';
import { type BatchSink, SinkOutbox } from '../../../functions/sinks/outbox.ts';
import { DedupSink, flowSpec, problemsOf, recordsOf, T0 } from '../../support/exactly-once-flows.ts';
import { MemoryFlowTable, type TableOperation } from '../../support/memory-flow-table.ts';
import { MemoryOutboxStore, type OutboxOperation } from '../../support/memory-outbox-store.ts';

const TIMEOUTS = { activeTimeoutMs: 100, inactiveTimeoutMs: 150 };
const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, incompleteAfterMs: 300, dueShardCount: 2 });
const flusherFault = fc.option(
  fc.record({
    operation: fc.constantFrom<TableOperation | 'insert' | 'insert-ack'>(
      'writeBatch',
      'putManifest',
      'deleteManifest',
      'insert',
      'insert-ack',
    ),
    after: fc.nat({ max: 2 }),
  }),
  { nil: undefined },
);
const step = fc.record({
  batchSize: fc.integer({ min: 1, max: 6 }),
  recordsPerKinesisRecord: fc.integer({ min: 1, max: 3 }),
  advanceMs: fc.nat({ max: 120 }),
  crashAfterWrites: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
  flush: fc.boolean(),
  /** Which flusher the fault hits, when there are several. */
  faultyFlusher: fc.nat(),
  flusherFault,
});

const scenario = fc.record({
  flows: fc.array(flowSpec, { minLength: 1, maxLength: 4 }),
  order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
  duplicates: fc.array(fc.record({ index: fc.nat(), at: fc.double({ min: 0, max: 2, noNaN: true }) }), {
    maxLength: 12,
  }),
  steps: fc.array(step, { minLength: 40, maxLength: 40 }),
  maxRowsPerInsert: fc.integer({ min: 1, max: 4 }),
  /** N flushers, each owning its due shards and manifest slots, running their rounds concurrently. */
  flushers: fc.integer({ min: 1, max: 4 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;
type FlusherFault = NonNullable<typeof flusherFault extends fc.Arbitrary<infer T> ? T : never>;

class InjectedCrash extends Error {}

// With sinks (docs/sinks.md): every flusher container hands each batch to its durable outbox before the
// insert; an "archive" sink keyed by batch token (a batch's object is overwritten by its replays) and an
// "IPFIX-like" sink that appends whatever it receives (at least once). Faults on top of the flusher's: a
// container replaced (new Flusher, new outbox on the same stores), the outbox append failing (before it
// is stored, or stored with its answer lost), a sink down for a while and back, a cursor write lost
// (not stored, or stored with its answer lost).
type SinkName = 'ipfix' | 'archive';
const outboxFaultOf = (operations: Array<`${'append' | 'moveCursor'}${'' | '-ack'}` | 'positions'>) =>
  fc.record({ operation: fc.constantFrom(...operations), times: fc.integer({ min: 1, max: 3 }) });
/** undefined `weight` times as often as a value. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight: number) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight }, { arbitrary, weight: 1 });
/**
 * `duplicates`: the faults that put a batch in the log twice (a new container handing over a replayed
 * manifest again; an append stored whose answer was lost). Without them every drop is of a batch no
 * sink got, so rows dropped = rows missing exactly.
 */
const sinkStepOf = (duplicates: boolean) =>
  fc.record({
    /**
     * The faulty flusher's next invocation runs in another container: "recycled", the current one is
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
const sinkScenarioOf = (bound: fc.Arbitrary<number>, duplicates: boolean) =>
  fc.record({ bound, steps: fc.array(sinkStepOf(duplicates), { minLength: 40, maxLength: 40 }) });
type SinkScenario = typeof sinkScenarioOf extends (...a: never[]) => fc.Arbitrary<infer T> ? T : never;
type OutboxFault = NonNullable<SinkScenario['steps'][number]['outboxFault']>;

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The sinks, one outbox store per flusher (as outboxPrefixOf partitions the table), their containers. */
class SinkWorld {
  readonly archive = new Map<string, ExportedRow[]>();
  readonly ipfix: ExportedRow[] = [];
  readonly down: Record<SinkName, boolean> = { ipfix: false, archive: false };
  readonly drops: Array<{ sink: string; token: string | undefined; rows: number }> = [];
  /** Every container's outbox, replaced ones too (their counters), and each flusher's current one. */
  readonly outboxes: SinkOutbox[] = [];
  readonly current: SinkOutbox[] = [];
  readonly stores: MemoryOutboxStore[];
  private readonly sinks: ReadonlyMap<string, BatchSink>;

  constructor(
    flushers: number,
    private readonly bound: number,
    private readonly clock: () => number,
  ) {
    this.stores = Array.from({ length: flushers }, () => new MemoryOutboxStore());
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

  /** A new container's outbox for flusher `index` (resumed from the store); returns its hand-over. */
  open(index: number): (token: string, rows: readonly PendingRow[]) => Promise<void> {
    const outbox = new SinkOutbox(this.stores[index]!, this.sinks, {
      maxQueuedRows: this.bound,
      maxChunkBytes: MANIFEST_CHUNK_BYTES,
      backoffBaseMs: 1,
      backoffCapMs: 8,
      clock: this.clock,
      sleep: () => immediate(),
      random: () => 0.5,
      onDrop: (sink, dropped) => this.drops.push({ sink, token: dropped.token, rows: dropped.rows }),
    });
    outbox.resume();
    this.outboxes.push(outbox);
    this.current[index] = outbox;
    return (token, rows) => outbox.append(token, rows);
  }

  /** The next `times` operations of that kind on flusher `index`'s outbox store fail. */
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

  /** Every current outbox delivers its whole log (workers run to the end; no clock involved). */
  async drainAll(): Promise<void> {
    let tick = 0;
    // Every container's outbox, warm or not, runs until its workers are done; the current ones drain all.
    await Promise.all(this.outboxes.map((outbox) => outbox.drain(Number.POSITIVE_INFINITY, () => tick++)));
    const drained = await Promise.all(
      this.current.map((outbox) => outbox.drain(Number.POSITIVE_INFINITY, () => tick++)),
    );
    expect(drained).toEqual(this.current.map(() => true));
    for (const store of this.stores) {
      for (const sink of this.sinks.keys()) expect(store.cursors.get(sink)).toEqual(store.head);
    }
  }

  rowsDropped(sink: string): number {
    return this.outboxes.reduce((sum, outbox) => sum + outbox.stats(sink).rowsDropped, 0);
  }
}

async function runScenario(s: Scenario, sinks?: SinkScenario) {
  const { records, truth } = recordsOf(s.flows);
  // Delivery order: random, except that a Node's records of a reused 5-tuple's second connection come
  // after the first connection's (a record of an ended connection that arrives after the next one started
  // is the documented, counted exception); duplicates anywhere after that too.
  const deliveries = records.map((r, i) => ({ record: r.record, at: r.connection + s.order[i % 60]! }));
  for (const d of s.duplicates) {
    const original = records[d.index % records.length]!;
    deliveries.push({ record: original.record, at: original.connection + d.at });
  }
  deliveries.sort((a, b) => a.at - b.at);

  const table = new MemoryFlowTable(CONFIG);
  const sink = new DedupSink();
  let clock = T0;
  const world = sinks && new SinkWorld(s.flushers, sinks.bound, () => clock);
  /** Flusher `index` in a new container (with sinks: its own outbox on that flusher's outbox store). */
  const start = (index: number) => {
    const view = table.forFlusher({ index, count: s.flushers });
    const flusher = new Flusher(view, sink, {
      clusterUUID: 'c',
      schedule: CONFIG,
      maxRowsPerInsert: s.maxRowsPerInsert,
      maxInsertsPerRound: 3,
      insertConcurrency: 2,
      writeConcurrency: 2,
      clock: () => clock,
      onBatchExported: world?.open(index),
    });
    const container = { view, flusher, outbox: world?.current[index], gone: false };
    containers[index]!.push(container);
    return container;
  };
  /** Every container each flusher has run in. */
  const containers = Array.from({ length: s.flushers }, () => [] as Array<ReturnType<typeof start>>);
  const flushers = Array.from({ length: s.flushers }, (_, index) => start(index));
  let sequence = 0;
  let stepIndex = 0;
  let crashes = 0;
  for (let next = 0; next < deliveries.length; ) {
    const st = s.steps[stepIndex++ % s.steps.length]!;
    clock += st.advanceMs;
    const batch = deliveries
      .slice(next, next + st.batchSize)
      .map((d) => ({ ...d.record, receivedAtMs: clock }));
    next += batch.length;
    const event: KinesisRecordLike[] = [];
    for (let i = 0; i < batch.length; i += st.recordsPerKinesisRecord) {
      event.push({
        kinesis: {
          data: Buffer.from(encodeWireBatch(batch.slice(i, i + st.recordsPerKinesisRecord))).toString(
            'base64',
          ),
          sequenceNumber: String(++sequence).padStart(20, '0'),
        },
      });
    }
    // A crash after some writes: the invocation dies, the mapping delivers the whole batch again.
    let writes = 0;
    table.beforeOperation = (operation) => {
      if (operation === 'write' && st.crashAfterWrites !== undefined && writes++ >= st.crashAfterWrites) {
        throw new InjectedCrash('injected correlator crash');
      }
    };
    let outcome = await correlateBatch(event, { store: table, now: () => clock }, settings);
    table.beforeOperation = () => {};
    if (outcome.batchItemFailures.length > 0) {
      crashes++;
      outcome = await correlateBatch(event, { store: table, now: () => clock }, settings);
    }
    expect(outcome.batchItemFailures).toEqual([]);
    const sinkStep = sinks?.steps[(stepIndex - 1) % sinks.steps.length];
    if (world && sinkStep) {
      const faulty = st.faultyFlusher % flushers.length;
      if (sinkStep.toggleSink) world.down[sinkStep.toggleSink] = !world.down[sinkStep.toggleSink];
      if (sinkStep.outboxFault) world.arm(faulty, sinkStep.outboxFault);
      // A recycled Lambda: a new Flusher and a new outbox on the same table and outbox store.
      if (sinkStep.container) {
        const { kind, pick } = sinkStep.container;
        const warm = containers[faulty]!.filter((c) => c !== flushers[faulty] && !c.gone);
        if (kind === 'warm' && warm.length > 0) {
          const container = warm[pick % warm.length]!;
          flushers[faulty] = container;
          world.current[faulty] = container.outbox!;
        } else {
          if (kind === 'recycled') {
            flushers[faulty]!.gone = true;
            flushers[faulty]!.outbox!.stop();
          }
          flushers[faulty] = start(faulty);
        }
      }
      for (let turn = 0; turn < sinkStep.workerTurns; turn++) await immediate();
    }
    if (st.flush) await flushRound(flushers, st.faultyFlusher % flushers.length, sink, st.flusherFault);
  }
  // Everything delivered: faults end, sinks are back; rounds until every flow is closed and no manifest is open.
  world?.heal();
  for (let round = 0; round < 40 && (table.manifests.size > 0 || hasOpenFlows(table)); round++) {
    clock += 200;
    const reports = await Promise.all(flushers.map(({ flusher }) => flusher.round()));
    for (const report of reports) expect(report.error).toBeUndefined();
  }
  expect(table.manifests.size).toBe(0);
  expect(hasOpenFlows(table)).toBe(false);
  if (world) await world.drainAll();
  return { sink, truth, crashes, world };
}

const settings = { timeouts: TIMEOUTS, writeConcurrency: 2, maxWriteAttempts: 5 };

function hasOpenFlows(table: MemoryFlowTable): boolean {
  return [...table.items.values()].some((item) => item.nextExportAt !== undefined);
}

async function flushRound(
  flushers: Array<{ view: MemoryFlowTable; flusher: Flusher }>,
  faulty: number,
  sink: DedupSink,
  fault: FlusherFault | undefined,
) {
  const table = flushers[faulty]!.view;
  if (fault) {
    if (fault.operation === 'insert') sink.failNext = 'before';
    else if (fault.operation === 'insert-ack') sink.failNext = 'after-ack-lost';
    else {
      let count = 0;
      table.beforeOperation = (operation) => {
        if (operation === fault.operation && count++ >= fault.after) throw new InjectedCrash(operation);
      };
    }
  }
  await Promise.all(flushers.map(({ flusher }) => flusher.round()));
  table.beforeOperation = () => {};
  sink.failNext = undefined;
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
function sinkProblemsOf(world: SinkWorld, clickhouse: DedupSink) {
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

describe('exactly once under late, reordered, duplicated records and crashes', () => {
  it('per flow: delta sums and max totals equal the truth, no export inserted twice', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { sink, truth } = await runScenario(s);
        expect(problemsOf(sink, truth)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('with sinks: the archive holds exactly the batches ClickHouse holds, IPFIX every row at least once, no drop', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, sinkScenarioOf(fc.constant(1_000_000), true), async (s, sinks) => {
        const { sink, truth, world } = await runScenario(s, sinks);
        expect(problemsOf(sink, truth)).toEqual([]);
        const { problems, missing } = sinkProblemsOf(world!, sink);
        expect(problems).toEqual([]);
        expect(world!.drops).toEqual([]);
        expect(missing).toEqual({ archive: 0, ipfix: 0 });
      }),
      { numRuns: Number(process.env.RUNS ?? 300) },
    );
  }, 120_000);

  it('with sinks over a small bound: what a sink misses is what it dropped, counted', async () => {
    let runsWithDrops = 0;
    await fc.assert(
      fc.asyncProperty(scenario, sinkScenarioOf(fc.integer({ min: 1, max: 6 }), false), async (s, sinks) => {
        const { sink, truth, world } = await runScenario(s, sinks);
        expect(problemsOf(sink, truth)).toEqual([]);
        const { problems, missing } = sinkProblemsOf(world!, sink);
        expect(problems).toEqual([]);
        const counted = { archive: world!.rowsDropped('archive'), ipfix: world!.rowsDropped('ipfix') };
        expect(counted).toEqual(missing);
        if (world!.drops.length > 0) runsWithDrops++;
      }),
      { numRuns: Number(process.env.RUNS ?? 100) },
    );
    expect(runsWithDrops).toBeGreaterThan(0);
  }, 120_000);
});
