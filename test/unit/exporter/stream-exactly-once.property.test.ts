// Exactly once in the stream export model (docs/flow-state-and-scale-out.md): random flows whose records
// reach the real correlator in random order, with duplicates, random Kinesis batch splits and correlator
// crashes mid-batch; the real ticker closing idle flows (its writes failing now and then); and the real
// exporter reading the table's change feed (two stream shards, items hashed to them, in order per item)
// with crashes at every step: before or after its cursor writes, ClickHouse refusing the insert or
// writing it and losing the acknowledgement; a failed batch is delivered again, as the event source
// mapping does. Checked per flow: the sum of each delta column equals the truth, the max of each total
// column equals the truth, and no (flow, export) row is inserted twice.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { correlateBatch, type KinesisRecordLike } from '../../../functions/correlator/correlate-batch.ts';
import {
  type ChangeRecord,
  type CursorStore,
  type ShardCursor,
  StreamExporter,
} from '../../../functions/exporter/export-batch.ts';
import { closedRowsOf, type FlowItem } from '../../../functions/flow-store/marshal.ts';
import { ATTR } from '../../../functions/flow-store/schema.ts';
import { Ticker } from '../../../functions/ticker/ticker.ts';
import { DedupSink, flowSpec, problemsOf, recordsOf, T0 } from '../../support/exactly-once-flows.ts';
import { MemoryFlowTable } from '../../support/memory-flow-table.ts';

const TIMEOUTS = { activeTimeoutMs: 100, inactiveTimeoutMs: 150 };
const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, incompleteAfterMs: 300, dueShardCount: 2 });
const SHARDS = 2;

class InjectedCrash extends Error {}

type CursorFault = 'put' | 'put-ack';

/** The exporter's cursors in memory, with DynamoDB's conditional put and an injectable fault. */
class MemoryCursorStore implements CursorStore {
  readonly cursors = new Map<string, { cursor: ShardCursor; version: number }>();
  fault: { kind: CursorFault; after: number } | undefined;
  async get(shardId: string) {
    const stored = this.cursors.get(shardId);
    return { cursor: structuredClone(stored?.cursor ?? {}), version: stored?.version };
  }
  async put(shardId: string, cursor: ShardCursor, expectedVersion: number | undefined) {
    const fault = this.fault;
    if (fault?.kind === 'put' && fault.after-- <= 0) {
      this.fault = undefined;
      throw new InjectedCrash('cursor put refused');
    }
    if (this.cursors.get(shardId)?.version !== expectedVersion) return false;
    this.cursors.set(shardId, { cursor: structuredClone(cursor), version: (expectedVersion ?? 0) + 1 });
    if (fault?.kind === 'put-ack' && fault.after-- <= 0) {
      this.fault = undefined;
      throw new InjectedCrash('cursor put stored, answer lost');
    }
    return true;
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
 */
class StreamShards {
  private readonly records: ChangeRecord[][] = Array.from({ length: SHARDS }, () => []);
  private readonly checkpoint = new Array<number>(SHARDS).fill(0);
  private readonly retrySize = new Array<number | undefined>(SHARDS).fill(undefined);
  private read = 0;

  constructor(private readonly table: MemoryFlowTable) {}

  /** New changes of the table, to their shards. */
  private poll(): void {
    for (; this.read < this.table.changes.length; this.read++) {
      const item = this.table.changes[this.read]!;
      this.records[shardOf(item)]!.push({
        sequenceNumber: String(this.read + 1).padStart(21, '0'),
        rows: closedRowsOf(item),
      });
    }
  }

  /** Delivers the next batch of `shard` (up to `size` records); false when it has none. */
  async deliver(shard: number, size: number, exporter: StreamExporter): Promise<boolean> {
    this.poll();
    const start = this.checkpoint[shard]!;
    const batch = this.records[shard]!.slice(start, start + (this.retrySize[shard] ?? size));
    if (batch.length === 0) return false;
    try {
      await exporter.exportBatch(`shard-${shard}`, batch);
      this.checkpoint[shard] = start + batch.length;
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
    kind: fc.constantFrom<CursorFault | 'insert' | 'insert-ack'>('put', 'put-ack', 'insert', 'insert-ack'),
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
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function hasOpenFlows(table: MemoryFlowTable): boolean {
  return [...table.items.values()].some((item) => item[ATTR.nextExportAt] !== undefined);
}

async function runScenario(s: Scenario) {
  const { records, truth } = recordsOf(s.flows);
  const deliveries = records.map((r, i) => ({ record: r.record, at: r.connection + s.order[i % 60]! }));
  for (const d of s.duplicates) {
    const original = records[d.index % records.length]!;
    deliveries.push({ record: original.record, at: original.connection + d.at });
  }
  deliveries.sort((a, b) => a.at - b.at);

  const table = new MemoryFlowTable(CONFIG);
  const sink = new DedupSink();
  const cursors = new MemoryCursorStore();
  const exporter = new StreamExporter(cursors, sink, { clusterUUID: 'c' });
  const stream = new StreamShards(table);
  let clock = T0;
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
    for (const run of st.exports) {
      if (run.fault?.kind === 'insert') sink.failNext = 'before';
      else if (run.fault?.kind === 'insert-ack') sink.failNext = 'after-ack-lost';
      else if (run.fault) cursors.fault = { kind: run.fault.kind, after: run.fault.after };
      await stream.deliver(run.shard, run.size, exporter);
      sink.failNext = undefined;
      cursors.fault = undefined;
    }
  }
  // Everything delivered, faults over: the ticker closes what is idle, the exporter drains the stream.
  for (let round = 0; round < 60 && (hasOpenFlows(table) || stream.pending); round++) {
    clock += 200;
    const report = await ticker.round();
    expect(report.error).toBeUndefined();
    for (let shard = 0; shard < SHARDS; shard++) while (await stream.deliver(shard, 8, exporter));
  }
  expect(hasOpenFlows(table)).toBe(false);
  expect(stream.pending).toBe(false);
  return { sink, truth };
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
});
