// Exactly once in the stream export model (docs/flow-state-and-scale-out.md): random flows whose records
// reach the real correlator in random order, with duplicates, random Kinesis batch splits and correlator
// crashes mid-batch; stale reads (an item as it was before its latest write, as DynamoDB's eventually
// consistent reads may return) for the correlator and the ticker; the real ticker closing idle flows (its
// writes failing now and then); and the real
// exporter reading the table's change feed (four stream shards, items hashed to them, in order per item)
// with crashes at every step: its intent read failing, its intent write refused or stored with the answer
// lost, ClickHouse refusing the insert or writing it and losing the acknowledgement; a failed batch is
// delivered again, as the event source mapping does, and a successful one now and then too. Checked per flow: the sum of each delta column equals the truth, the max of each total
// column equals the truth, and no (flow, export) row is inserted twice.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { correlateBatch, type KinesisRecordLike } from '../../../functions/correlator/correlate-batch.ts';
import {
  type ChangeRecord,
  type ExportIntent,
  type IntentStore,
  StreamExporter,
} from '../../../functions/exporter/export-batch.ts';
import { closedRowsOf, type FlowItem } from '../../../functions/flow-store/marshal.ts';
import { ATTR } from '../../../functions/flow-store/schema.ts';
import type { SinkOutbox } from '../../../functions/sinks/outbox.ts';
import { Ticker } from '../../../functions/ticker/ticker.ts';
import { DedupSink, flowSpec, problemsOf, recordsOf, T0 } from '../../support/exactly-once-flows.ts';
import { MemoryFlowTable } from '../../support/memory-flow-table.ts';
import {
  immediate,
  type SinkScenario,
  SinkWorld,
  sinkProblemsOf,
  sinkScenarioOf,
} from '../../support/sink-world.ts';

const TIMEOUTS = { activeTimeoutMs: 100, inactiveTimeoutMs: 150 };
const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, incompleteAfterMs: 300, dueShardCount: 2 });
const SHARDS = 4;

class InjectedCrash extends Error {}

type IntentFault = 'put' | 'put-ack' | 'get';

/** The exporter's intents in memory, with an injectable fault. */
class MemoryIntentStore implements IntentStore {
  readonly intents = new Map<string, ExportIntent>();
  fault: { kind: IntentFault; after: number } | undefined;
  private trip(kind: IntentFault, message: string): void {
    if (this.fault?.kind === kind && this.fault.after-- <= 0) {
      this.fault = undefined;
      throw new InjectedCrash(message);
    }
  }
  async get(firstEventId: string) {
    this.trip('get', 'intent read failed');
    return structuredClone(this.intents.get(firstEventId));
  }
  async put(firstEventId: string, intent: ExportIntent) {
    this.trip('put', 'intent write refused');
    this.intents.set(firstEventId, structuredClone(intent));
    this.trip('put-ack', 'intent stored, answer lost');
  }
}

function shardOf(item: FlowItem): number {
  const pk = item[ATTR.pk]!.S!;
  let hash = 0;
  for (let i = 0; i < pk.length; i++) hash = (hash * 31 + pk.charCodeAt(i)) >>> 0;
  return hash % SHARDS;
}

/**
 * The table's stream as the event source mapping reads it: per shard the records in order and a
 * checkpoint that moves only when a batch succeeded; a failed batch is delivered again, the same records.
 * Now and then a successful batch is delivered again from the checkpoint before it (the rare duplicate
 * delivery Lambda allows), possibly with more records.
 */
class StreamShards {
  private readonly records: ChangeRecord[][] = Array.from({ length: SHARDS }, () => []);
  private readonly checkpoint = new Array<number>(SHARDS).fill(0);
  private readonly previousCheckpoint = new Array<number>(SHARDS).fill(0);
  /** Records of the last successful batch: a delivery from its start is never shorter (the stream only grows). */
  private readonly previousLength = new Array<number>(SHARDS).fill(0);
  private readonly retrySize = new Array<number | undefined>(SHARDS).fill(undefined);
  private read = 0;

  constructor(private readonly table: MemoryFlowTable) {}

  /** New changes of the table, to their shards. */
  private poll(): void {
    for (; this.read < this.table.changes.length; this.read++) {
      const item = this.table.changes[this.read]!;
      this.records[shardOf(item)]!.push({ eventId: `event-${this.read}`, rows: closedRowsOf(item) });
    }
  }

  /** Delivers the next batch of `shard` (up to `size` records); false when it has none. */
  async deliver(shard: number, size: number, exporter: StreamExporter, again = false): Promise<boolean> {
    this.poll();
    const redelivery = again && this.retrySize[shard] === undefined;
    const start = redelivery ? this.previousCheckpoint[shard]! : this.checkpoint[shard]!;
    const length = redelivery ? Math.max(size, this.previousLength[shard]!) : (this.retrySize[shard] ?? size);
    const batch = this.records[shard]!.slice(start, start + length);
    if (batch.length === 0) return false;
    try {
      await exporter.exportBatch(batch);
      if (start + batch.length > this.checkpoint[shard]!) {
        this.previousCheckpoint[shard] = start;
        this.previousLength[shard] = batch.length;
        this.checkpoint[shard] = start + batch.length;
      }
      this.retrySize[shard] = undefined;
    } catch {
      this.retrySize[shard] = batch.length;
    }
    return true;
  }

  get pending(): boolean {
    this.poll();
    return this.records.some((records, shard) => this.checkpoint[shard]! < records.length);
  }
}

const exporterFault = fc.option(
  fc.record({
    kind: fc.constantFrom<IntentFault | 'insert' | 'insert-ack'>(
      'put',
      'put-ack',
      'get',
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
  tick: fc.boolean(),
  tickerFault: fc.boolean(),
  exports: fc.array(
    fc.record({
      shard: fc.nat({ max: SHARDS - 1 }),
      size: fc.integer({ min: 1, max: 8 }),
      fault: exporterFault,
      again: fc.boolean(),
    }),
    { maxLength: 3 },
  ),
});

const scenario = fc.record({
  flows: fc.array(flowSpec, { minLength: 1, maxLength: 4 }),
  order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
  duplicates: fc.array(fc.record({ index: fc.nat(), at: fc.double({ min: 0, max: 2, noNaN: true }) }), {
    maxLength: 12,
  }),
  steps: fc.array(step, { minLength: 40, maxLength: 40 }),
  /** The lazy due-index key's slack and margin, in the scenario's short timescale. */
  slackMs: fc.integer({ min: 0, max: 400 }),
  marginMs: fc.integer({ min: 0, max: 100 }),
  /** Which reads of the correlator and the ticker see an item before its latest write, in turn. */
  staleReads: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function hasOpenFlows(table: MemoryFlowTable): boolean {
  return [...table.items.values()].some((item) => item[ATTR.nextExportAt] !== undefined);
}

/**
 * `redeliverSuccessful`: a successful stream batch delivered again now and then (its token appended to the
 * outbox twice); `exportersAtOnce`: the final drain runs one exporter per stream shard at once, their
 * outboxes' workers on the same sinks, taking the sinks' leases from each other as they run out.
 */
async function runScenario(
  s: Scenario,
  sinks?: SinkScenario,
  { redeliverSuccessful = true, exportersAtOnce = true } = {},
) {
  const { records, truth } = recordsOf(s.flows);
  const deliveries = records.map((r, i) => ({ record: r.record, at: r.connection + s.order[i % 60]! }));
  for (const d of s.duplicates) {
    const original = records[d.index % records.length]!;
    deliveries.push({ record: original.record, at: original.connection + d.at });
  }
  deliveries.sort((a, b) => a.at - b.at);

  const table = new MemoryFlowTable(CONFIG);
  let reads = 0;
  table.staleRead = () => s.staleReads[reads++ % s.staleReads.length]!;
  const sink = new DedupSink();
  const intents = new MemoryIntentStore();
  const stream = new StreamShards(table);
  let clock = T0;
  // With sinks: exporter containers, each with its own outbox on the one outbox store (partition 0).
  const world = sinks && new SinkWorld(1, sinks.bound, () => clock);
  const containers: Array<{ exporter: StreamExporter; outbox: SinkOutbox | undefined; gone: boolean }> = [];
  const start = () => {
    const onBatchExported = world?.open(0);
    const container = {
      exporter: new StreamExporter(intents, sink, { clusterUUID: 'c', onBatchExported }),
      outbox: world?.current[0],
      gone: false,
    };
    containers.push(container);
    return container;
  };
  let current = start();
  const ticker = new Ticker(table, {
    schedule: CONFIG,
    maxFlowsPerRound: 5,
    writeConcurrency: 2,
    clock: () => clock,
  });
  const settings = {
    timeouts: TIMEOUTS,
    schedule: CONFIG,
    lazyIndex: { slackMs: s.slackMs, marginMs: s.marginMs },
    writeConcurrency: 2,
    maxWriteAttempts: 5,
  };
  let sequence = 0;
  let stepIndex = 0;
  for (let next = 0; next < deliveries.length; ) {
    const st = s.steps[stepIndex++ % s.steps.length]!;
    clock += st.advanceMs;
    const batch = deliveries
      .slice(next, next + st.batchSize)
      .map((d) => ({ ...d.record, receivedAtMs: clock }));
    next += batch.length;
    const event: KinesisRecordLike[] = [];
    for (let i = 0; i < batch.length; i += st.recordsPerKinesisRecord) {
      const data = encodeWireBatch(batch.slice(i, i + st.recordsPerKinesisRecord));
      event.push({
        kinesis: { data: data.toString('base64'), sequenceNumber: String(++sequence).padStart(20, '0') },
      });
    }
    let writes = 0;
    table.beforeOperation = (operation) => {
      if (operation === 'write' && st.crashAfterWrites !== undefined && writes++ >= st.crashAfterWrites)
        throw new InjectedCrash('injected correlator crash');
    };
    let outcome = await correlateBatch(event, { store: table, now: () => clock }, settings);
    table.beforeOperation = () => {};
    if (outcome.batchItemFailures.length > 0)
      outcome = await correlateBatch(event, { store: table, now: () => clock }, settings);
    expect(outcome.batchItemFailures).toEqual([]);

    if (st.tick) {
      if (st.tickerFault)
        table.beforeOperation = (operation) => {
          if (operation === 'writeBatch') throw new InjectedCrash('injected ticker write failure');
        };
      await ticker.round();
      table.beforeOperation = () => {};
    }
    const sinkStep = sinks?.steps[(stepIndex - 1) % sinks.steps.length];
    if (world && sinkStep) {
      if (sinkStep.toggleSink) world.down[sinkStep.toggleSink] = !world.down[sinkStep.toggleSink];
      if (sinkStep.outboxFault) world.arm(0, sinkStep.outboxFault);
      // A recycled Lambda: a new exporter and a new outbox on the same outbox store.
      if (sinkStep.container) {
        const { kind, pick } = sinkStep.container;
        const warm = containers.filter((c) => c !== current && !c.gone);
        if (kind === 'warm' && warm.length > 0) {
          current = warm[pick % warm.length]!;
          world.current[0] = current.outbox!;
        } else {
          if (kind === 'recycled') {
            current.gone = true;
            current.outbox!.stop();
          }
          current = start();
        }
      }
      for (let turn = 0; turn < sinkStep.workerTurns; turn++) await immediate();
    }
    for (const run of st.exports) {
      if (run.fault?.kind === 'insert') sink.failNext = 'before';
      else if (run.fault?.kind === 'insert-ack') sink.failNext = 'after-ack-lost';
      else if (run.fault) intents.fault = { kind: run.fault.kind, after: run.fault.after };
      await stream.deliver(run.shard, run.size, current.exporter, redeliverSuccessful && run.again);
      sink.failNext = undefined;
      intents.fault = undefined;
    }
  }
  // Everything delivered, faults over: the ticker closes what is idle, the exporter drains the stream.
  world?.heal();
  for (let round = 0; round < 60 && (hasOpenFlows(table) || stream.pending); round++) {
    clock += 200;
    const report = await ticker.round();
    expect(report.error).toBeUndefined();
    const drainShard = async (shard: number, exporter: StreamExporter) => {
      for (let batch = 0; batch < 1000 && (await stream.deliver(shard, 8, exporter)); batch++);
    };
    // One exporter per stream shard at once, as Lambda runs them: their awaits interleave.
    if (exportersAtOnce)
      await Promise.all(
        Array.from({ length: SHARDS }, (_, shard) =>
          drainShard(shard, shard === 0 ? current.exporter : start().exporter),
        ),
      );
    else for (let shard = 0; shard < SHARDS; shard++) await drainShard(shard, current.exporter);
  }
  expect(hasOpenFlows(table)).toBe(false);
  expect(stream.pending).toBe(false);
  if (world)
    await world.drainAll(() => {
      clock += world.leaseMs + 1;
    });
  return { sink, truth, world };
}

describe('stream export model: exactly once under late, reordered, duplicated records and crashes', () => {
  it('per flow: delta sums and max totals equal the truth, no export inserted twice', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { sink, truth } = await runScenario(s);
        expect(problemsOf(sink, truth)).toEqual([]);
      }),
      { numRuns: Number(process.env.RUNS ?? 200) },
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
      { numRuns: Number(process.env.RUNS ?? 150) },
    );
  }, 120_000);

  it('with sinks over a small bound: what a sink misses is what it dropped, counted', async () => {
    let runsWithDrops = 0;
    await fc.assert(
      fc.asyncProperty(
        scenario,
        sinkScenarioOf(fc.integer({ min: 1, max: 6 }), false),
        fc.boolean(),
        async (s, sinks, exportersAtOnce) => {
          const { sink, truth, world } = await runScenario(s, sinks, {
            redeliverSuccessful: false,
            exportersAtOnce,
          });
          expect(problemsOf(sink, truth)).toEqual([]);
          const { problems, missing } = sinkProblemsOf(world!, sink);
          expect(problems).toEqual([]);
          const counted = { archive: world!.rowsDropped('archive'), ipfix: world!.rowsDropped('ipfix') };
          // One container at a time: exact. Several, with leases running out mid-delivery (the final
          // drain moves the clock past them every round): a batch one delivered and another dropped is
          // counted and not missing, so the count may only be higher.
          if (exportersAtOnce) {
            expect(counted.archive).toBeGreaterThanOrEqual(missing.archive);
            expect(counted.ipfix).toBeGreaterThanOrEqual(missing.ipfix);
          } else expect(counted).toEqual(missing);
          if (world!.drops.length > 0) runsWithDrops++;
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 100) },
    );
    expect(runsWithDrops).toBeGreaterThan(0);
  }, 120_000);
});
