// DynamoDB units of the flow state per live flow, all writers together (issue 15), at correlator windows of
// 10, 20 and 60 s (the cost/latency knob), independent of the machine's speed: live flows over simulated
// time on DynamoDB Local, both Nodes of an inter-Node flow reporting every 5 s (Antrea's
// activeFlowExportTimeout), the real correlator invoked once per batching window with that window's records
// (one lane: a flow's records all reach the same invocation), the real ticker with the deployed settings
// every commit interval. Every request's ConsumedCapacity is summed per writer and per command; after a
// warm-up (flows created, first exports done) the steady state gives:
//   - write units per live flow per minute: correlator writes (with their closed rows and due-index moves),
//     the ticker's writes, the exporter's intents (modelled: the exporter reads no DynamoDB per row);
//   - read units per exported row: the ticker's item reads and the exporter's intent reads, its due-index
//     queries costing per round, not per row;
//   - the items' size (1 write unit per 1 KB).
import { deflateRawSync } from 'node:zlib';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { flowKeyOf } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { DEFAULT_LAZY_INDEX } from '../core/flow-state/advance.ts';
import type {
  ExistingItemWrite,
  ExportQueue,
  FlowStore,
  FlowWrite,
  WriteExtras,
  WriteResult,
} from '../core/flow-state/ports.ts';
import { encodeWireBatch } from '../core/wire.ts';
import {
  BUCKET_UNIT_INPUTS,
  CORRELATOR_UNIT_INPUTS,
  correlatorWritesPerFlowMinute,
  DEFAULT_CLUSTER,
  MEASURED_WINDOW_SECONDS,
  type MeasuredExportSeconds,
} from '../cost/model.ts';
import { correlatorSettingsOf } from '../functions/correlator/config.ts';
import { correlateBatch, type KinesisRecordLike } from '../functions/correlator/correlate-batch.ts';
import { foldRecords } from '../functions/correlator/fold.ts';
import { decodeEntries, encodeEntries } from '../functions/flow-store/bucket-entries.ts';
import { BucketFlowTable } from '../functions/flow-store/buckets.ts';
import { DynamoExportQueue } from '../functions/flow-store/export-queue.ts';
import {
  createTableInput,
  defaultScheduleConfig,
  flowItemOf,
  itemSizeOf,
  type ScheduleConfig,
  storedFlowOf,
} from '../functions/flow-store/index.ts';
import { BUCKET_PK_PREFIX } from '../functions/flow-store/schema.ts';
import { Ticker } from '../functions/ticker/ticker.ts';
import { DEFAULT_CONFIG } from '../lib/config.ts';
import { generateRecords } from '../workloads/correlator-workload.ts';
import { scanAll } from './correlator.bench.ts';
import { type CapacityMeter, meterCapacity, useDynamoDbLocal } from './dynamodb.ts';
import { median } from './stats.ts';
import type { BenchModule, BenchRow } from './types.ts';

const GROUP = 'flow-state';
const AGENT_EXPORT_SECONDS = 5;
const FLOW_RECORDS_PER_KINESIS_RECORD = 200;

/**
 * The ticker's queue with its writes sent as UpdateItem, one per flow: DynamoDB Local reports no units for
 * BatchExecuteStatement, and AWS bills a PartiQL UPDATE as the UpdateItem of the same item.
 */
class WrittenByUpdateItem extends DynamoExportQueue {
  override async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    return Promise.all(writes.map((w) => this.write(w.state, w.expectedVersion, nowMs, w.extras)));
  }
}

/**
 * The exporter's writes, modelled (no stream is read here): two small cursor writes per stream batch with
 * rows. Per stream shard one batch per batching window; the priced cluster's table has about one stream
 * shard per 1,000 write units per second of the correlator (DynamoDB splits partitions at that rate).
 */
const EXPORTER_BATCH_WINDOW_SECONDS = 10;
const EXPORTER_WRITES_PER_BATCH = 2;

type Units = Map<string, number>;

function unitsSince(meter: CapacityMeter, before: Units): Units {
  const diff = new Map<string, number>();
  for (const [command, units] of meter.byCommand) diff.set(command, units - (before.get(command) ?? 0));
  return diff;
}

function sum(units: Units, commands: readonly string[]): number {
  return commands.reduce((total, c) => total + (units.get(c) ?? 0), 0);
}

/** One correlator invocation's event: the records packed FLOW_RECORDS_PER_KINESIS_RECORD to a Kinesis record. */
export function eventOf(records: readonly FlowRecord[], firstSequence: number): KinesisRecordLike[] {
  const event: KinesisRecordLike[] = [];
  for (let i = 0; i < records.length; i += FLOW_RECORDS_PER_KINESIS_RECORD) {
    event.push({
      kinesis: {
        data: encodeWireBatch(records.slice(i, i + FLOW_RECORDS_PER_KINESIS_RECORD)).toString('base64'),
        sequenceNumber: String(firstSequence + event.length).padStart(20, '0'),
      },
    });
  }
  return event;
}

interface LiveFlowFigures {
  windowSeconds: number;
  exportSeconds: number;
  names: 'short' | 'long';
  flows: number;
  minutes: number;
  rows: number;
  layout: FlowLayout;
  /** Rows the correlator's own writes closed (the rest: the ticker's, of flows that fell idle). */
  rowsByCorrelator: number;
  /** Flow records the correlator folded in the measured minutes. */
  records: number;
  correlatorWrite: number;
  correlatorRead: number;
  tickerWrite: number;
  tickerItemRead: number;
  indexQueryRead: number;
  tickerRounds: number;
  avgItemBytes: number;
  maxItemBytes: number;
}

interface LiveFlowOptions {
  client: { correlator: DynamoDBClient; ticker: DynamoDBClient };
  meters: { correlator: CapacityMeter; ticker: CapacityMeter };
  schedule: ScheduleConfig;
  windowSeconds: number;
  /** Antrea's activeFlowExportTimeout: each Node reports each live flow this often (default 5 s). */
  exportSeconds?: number;
  flows: number;
  warmupMinutes: number;
  /**
   * Lazy due-index cycles measured (a live flow's key moves once per slack minus margin): the window is
   * that long, rounded up to whole export periods, so each flow has the same number of rows whatever the
   * phase, and every index move is counted.
   */
  lazyCycles: number;
  /** Realistic long names and Pod labels (workloads/correlator-workload.ts), default short demo names. */
  names?: 'short' | 'long';
  /** The flow store's layout: one item per flow (default) or buckets of about 16 flows (buckets.ts). */
  layout?: FlowLayout;
}

type FlowLayout = 'per-flow' | 'buckets';

/** Live flows per bucket the bucketed layout is sized for (FLOW_BUCKETS = live flows / this). */
const FLOWS_PER_BUCKET = 32;

/** The table of `flows` live flows in its layout, as the correlator and the ticker write it (UpdateItem). */
function flowTableOf(
  layout: FlowLayout | undefined,
  client: DynamoDBClient,
  table: string,
  schedule: ScheduleConfig,
  flows: number,
): ExportQueue {
  if (layout !== 'buckets') return new WrittenByUpdateItem(client, table, schedule);
  return new BucketFlowTable(client, table, schedule, {
    buckets: Math.max(1, Math.round(flows / FLOWS_PER_BUCKET)),
    marginMs: DEFAULT_LAZY_INDEX.marginMs,
  });
}

function storesOf(o: LiveFlowOptions, table: string) {
  return {
    store: flowTableOf(o.layout, o.client.correlator, table, o.schedule, o.flows),
    queue: flowTableOf(o.layout, o.client.ticker, table, o.schedule, o.flows),
  };
}

/** Live flows through correlator and ticker in simulated time; units of the measured minutes only. */
async function liveFlows(o: LiveFlowOptions): Promise<LiveFlowFigures> {
  const names = o.names ?? 'short';
  const exportSeconds = o.exportSeconds ?? AGENT_EXPORT_SECONDS;
  const layout = o.layout ?? 'per-flow';
  const table = `flow-state-${o.windowSeconds}s-${exportSeconds}s-${names}-${layout}-${process.pid}`;
  await o.client.correlator.send(new CreateTableCommand(createTableInput(table, { stream: false })));
  const { store, queue } = storesOf(o, table);
  const t0 = 1_800_000_000_000;
  let now = t0;
  const ticker = new Ticker(queue, {
    ...deployedTickerSettings(),
    schedule: o.schedule,
    clock: () => now,
  });
  const commitMs = DEFAULT_CONFIG.commitIntervalSeconds * 1000;
  // Export steps run at their due times, so a flow's period is activeFlowRecordTimeout itself; the window
  // is whole periods long and spans `lazyCycles` moves of each flow's lazy due-index key.
  const periodMs = o.schedule.activeTimeoutMs;
  const lazyCycleMs = DEFAULT_LAZY_INDEX.slackMs - DEFAULT_LAZY_INDEX.marginMs;
  const measuredMs = Math.ceil((o.lazyCycles * lazyCycleMs) / periodMs) * periodMs;
  const totalMs = o.warmupMinutes * 60_000 + measuredMs;
  const records = generateRecords({
    flows: o.flows,
    rounds: totalMs / (exportSeconds * 1000),
    interNodeShare: DEFAULT_CLUSTER.interNodeFraction,
    intervalSeconds: exportSeconds,
    startSeconds: t0 / 1000,
    seed: 15,
    names,
    // Each Node's own phase: with sparse exports, whether a flow's two halves share a correlator window
    // depends on it (all aligned would fold both into one write every time).
    phases: 'spread',
  });
  const warmEnd = t0 + o.warmupMinutes * 60_000;
  let before: { correlator: Units; ticker: Units } | undefined;
  const rows = { correlator: 0, ticker: 0 };
  let rounds = 0;
  await driveTimeline({
    records,
    startMs: t0,
    endMs: t0 + totalMs,
    windowMs: o.windowSeconds * 1000,
    commitMs,
    setNow: (ms) => {
      now = ms;
      if (!before && ms > warmEnd) {
        before = {
          correlator: new Map(o.meters.correlator.byCommand),
          ticker: new Map(o.meters.ticker.byCommand),
        };
      }
    },
    correlate: async (event) => {
      const outcome = await correlateBatch(event, { store, now: () => now }, correlatorSettings(o.schedule));
      if (before) rows.correlator += outcome.stats.rowsClosed;
      return outcome;
    },
    round: async () => {
      const report = await ticker.round();
      if (before) {
        rounds++;
        rows.ticker += report.rowsClosed;
      }
      return report;
    },
  });
  if (!before) throw new Error('flow-state bench: no measured minutes');
  const correlator = unitsSince(o.meters.correlator, before.correlator);
  const ticking = unitsSince(o.meters.ticker, before.ticker);
  const sizes = (await scanAll(o.client.correlator, table))
    .filter((item) =>
      layout === 'buckets' ? item.pk?.S?.startsWith(BUCKET_PK_PREFIX) : item.pk?.S?.includes('|'),
    )
    .map(itemSizeOf);
  return {
    windowSeconds: o.windowSeconds,
    exportSeconds,
    names,
    flows: o.flows,
    minutes: measuredMs / 60_000,
    rows: rows.correlator + rows.ticker,
    rowsByCorrelator: rows.correlator,
    records: records.filter((r) => r.receivedAtMs > warmEnd && r.receivedAtMs <= t0 + totalMs).length,
    layout,
    correlatorWrite: sum(correlator, ['UpdateItemCommand', 'PutItemCommand']),
    correlatorRead: sum(correlator, ['BatchGetItemCommand']),
    tickerWrite: sum(ticking, ['UpdateItemCommand', 'PutItemCommand']),
    tickerItemRead: sum(ticking, ['BatchGetItemCommand']),
    indexQueryRead: sum(ticking, ['QueryCommand']),
    tickerRounds: rounds,
    avgItemBytes: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    maxItemBytes: Math.max(...sizes),
  };
}

/**
 * Simulated time: the correlator invoked every batching window with the records received since, the
 * ticker every commit interval; `setNow` is told each step's time before it runs.
 */
async function driveTimeline(t: {
  records: readonly FlowRecord[];
  startMs: number;
  endMs: number;
  windowMs: number;
  commitMs: number;
  setNow: (ms: number) => void;
  correlate: (event: KinesisRecordLike[]) => Promise<{ batchItemFailures: unknown[] }>;
  round: () => Promise<{ ok: boolean; error?: string }>;
}): Promise<void> {
  let nextInvocation = t.startMs + t.windowMs;
  let nextRound = t.startMs + t.commitMs;
  let next = 0;
  let sequence = 0;
  while (Math.min(nextInvocation, nextRound) <= t.endMs) {
    if (nextInvocation <= nextRound) {
      t.setNow(nextInvocation);
      const batch: FlowRecord[] = [];
      while (next < t.records.length && t.records[next]!.receivedAtMs <= nextInvocation)
        batch.push(t.records[next++]!);
      const event = eventOf(batch, sequence);
      sequence += event.length;
      const outcome = await t.correlate(event);
      if (outcome.batchItemFailures.length > 0) throw new Error('flow-state bench: correlator failures');
      nextInvocation += t.windowMs;
    } else {
      t.setNow(nextRound);
      const report = await t.round();
      if (!report.ok) throw new Error(`flow-state bench: ticker round failed: ${report.error}`);
      nextRound += t.commitMs;
    }
  }
}

/**
 * New flows arriving one after another (one every `spacingMs`, both Nodes of an inter-Node flow in the
 * same poll), each its first records only: per flow, the simulated time from its first record's arrival to
 * the write that closed its first row (the correlator every window, the ticker every commit interval),
 * plus the exporter's batching window in full (the stream's own delay, about a second, and ClickHouse's
 * insert time are not included). Speed-independent: the times are the schedule's, not the machine's.
 */
async function newFlowLatency(o: {
  client: DynamoDBClient;
  schedule: ScheduleConfig;
  windowSeconds: number;
  flows: number;
  spacingMs: number;
  layout?: FlowLayout;
}): Promise<number[]> {
  const table = `flow-state-latency-${o.windowSeconds}s-${o.layout ?? 'per-flow'}-${process.pid}`;
  await o.client.send(new CreateTableCommand(createTableInput(table, { stream: false })));
  const t0 = 1_800_000_000_000;
  let now = t0;
  const firstRowAtMs = new Map<string, number>();
  const noteFirstRows = (extras: WriteExtras | undefined) => {
    for (const row of extras?.rows ?? []) if (row.exportSeq === 1) firstRowAtMs.set(row.flow.flowKey, now);
  };
  const base = flowTableOf(o.layout, o.client, table, o.schedule, o.flows);
  const noted = async (writes: readonly FlowWrite[], results: Promise<WriteResult[]>) => {
    const done = await results;
    for (const [i, result] of done.entries()) if (result.ok) noteFirstRows(writes[i]!.extras);
    return done;
  };
  // The correlator's and the ticker's writes, each first row noted with the time it was closed.
  const queue: ExportQueue = {
    read: (keys) => base.read(keys),
    write: (state, expectedVersion, nowMs, extras) => base.write(state, expectedVersion, nowMs, extras),
    writeMany: (writes, nowMs, concurrency) => noted(writes, base.writeMany(writes, nowMs, concurrency)),
    writeBatch: (writes, nowMs) => noted(writes, base.writeBatch(writes, nowMs)),
    dueKeys: (at, limit) => base.dueKeys(at, limit),
    oldestDueAt: (at) => base.oldestDueAt(at),
  };
  const store: FlowStore = queue;
  const ticker = new Ticker(queue, { ...deployedTickerSettings(), schedule: o.schedule, clock: () => now });
  const arrivals = new Map<string, number>();
  const records = generateRecords({
    flows: o.flows,
    rounds: 1,
    interNodeShare: DEFAULT_CLUSTER.interNodeFraction,
    intervalSeconds: AGENT_EXPORT_SECONDS,
    startSeconds: t0 / 1000,
    seed: 16,
  }).map((record) => {
    const key = flowKeyOf(record);
    if (!arrivals.has(key)) arrivals.set(key, record.receivedAtMs + arrivals.size * o.spacingMs);
    const receivedAtMs = arrivals.get(key) as number;
    const shiftSeconds = Math.floor((receivedAtMs - record.receivedAtMs) / 1000);
    return {
      ...record,
      receivedAtMs,
      exportTime: record.exportTime + shiftSeconds,
      flowStartSeconds: record.flowStartSeconds + shiftSeconds,
      flowEndSeconds: record.flowEndSeconds + shiftSeconds,
    };
  });
  records.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  const lastArrival = Math.max(...arrivals.values());
  await driveTimeline({
    records,
    startMs: t0,
    endMs: lastArrival + o.windowSeconds * 1000 + 2 * DEFAULT_CONFIG.commitIntervalSeconds * 1000,
    windowMs: o.windowSeconds * 1000,
    commitMs: DEFAULT_CONFIG.commitIntervalSeconds * 1000,
    setNow: (ms) => {
      now = ms;
    },
    correlate: (event) => correlateBatch(event, { store, now: () => now }, correlatorSettings(o.schedule)),
    round: () => ticker.round(),
  });
  return [...arrivals].map(([key, arrivedAt]) => {
    const closed = firstRowAtMs.get(key);
    if (closed === undefined) throw new Error(`flow-state bench: new flow ${key} has no row`);
    return (closed - arrivedAt) / 1000 + EXPORTER_BATCH_WINDOW_SECONDS;
  });
}

/** The deployed ticker's settings. */
function deployedTickerSettings() {
  return { maxFlowsPerRound: 10_000, writeConcurrency: 8 };
}

function latencyRow(
  windowSeconds: number,
  seconds: number[],
  spacingMs: number,
  layout: FlowLayout = 'per-flow',
): BenchRow {
  const sorted = [...seconds].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return {
    group: GROUP,
    name: `new flow received -> row inserted, p50, correlator window ${windowSeconds} s${layout === 'buckets' ? `, buckets of ${FLOWS_PER_BUCKET} flows` : ''}`,
    value: median(sorted),
    unit: 's',
    ...(windowSeconds === 20 ? { target: 26 } : {}),
    better: 'lower',
    counters: { p95Seconds: at(0.95), maxSeconds: sorted.at(-1) as number, flows: sorted.length },
    notes: `p95 ${at(0.95).toFixed(1)} s, max ${(sorted.at(-1) as number).toFixed(1)} s over ${sorted.length} new flows arriving one every ${spacingMs / 1000} s; simulated time: correlator every ${windowSeconds} s, ticker every ${DEFAULT_CONFIG.commitIntervalSeconds} s, plus the exporter's batching window; DynamoDB Local; the stream's delay and ClickHouse's insert time not included`,
  };
}

function correlatorSettings(schedule: ScheduleConfig) {
  return correlatorSettingsOf(schedule, { writeConcurrency: 32, maxWriteAttempts: 8 });
}

/** Stream shards of the priced cluster's table: about one per 1,000 write units per second. */
function pricedStreamShards(correlatorUnitsPerFlowMinute: number): number {
  return Math.max(1, Math.ceil((DEFAULT_CLUSTER.connections * correlatorUnitsPerFlowMinute) / 60 / 1000));
}

/**
 * The cost model's inputs (cost/model.ts CORRELATOR_UNIT_INPUTS): the correlator's steady-state units per
 * live flow per minute at the deployed window, for each export interval the model takes a point at.
 */
function costInputsOf(f: LiveFlowFigures): Record<string, number> {
  const inputs = f.layout === 'buckets' ? BUCKET_UNIT_INPUTS : CORRELATOR_UNIT_INPUTS;
  const names = inputs[f.exportSeconds as MeasuredExportSeconds];
  if (!names || f.windowSeconds !== MEASURED_WINDOW_SECONDS || f.names !== 'short') return {};
  return {
    [names.write]: f.correlatorWrite / f.flows / f.minutes,
    [names.read]: f.correlatorRead / f.flows / f.minutes,
    correlatorWritesModelledPerFlowMinute: correlatorWritesPerFlowMinute({
      exportSeconds: f.exportSeconds,
      windowSeconds: f.windowSeconds,
      interNodeFraction: DEFAULT_CLUSTER.interNodeFraction,
    }),
  };
}

/** The speed-independent figures of one run, as bench rows. */
function figureRows(f: LiveFlowFigures): BenchRow[] {
  const perFlowMinute = (units: number) => units / f.flows / f.minutes;
  const correlator = perFlowMinute(f.correlatorWrite);
  const shards = pricedStreamShards(correlator);
  const exporter =
    (shards * (60 / EXPORTER_BATCH_WINDOW_SECONDS) * EXPORTER_WRITES_PER_BATCH) / DEFAULT_CLUSTER.connections;
  const writers = { correlator, ticker: perFlowMinute(f.tickerWrite), exporter };
  const total = writers.correlator + writers.ticker + writers.exporter;
  const rowsPerFlowPerMinute = f.rows / f.flows / f.minutes;
  const pricedRowsPerMinute = DEFAULT_CLUSTER.connections * rowsPerFlowPerMinute;
  const queryReadPerMinute = f.indexQueryRead / f.minutes;
  // The exporter reads its cursor once per batch (consistent, 1 unit); its rows come with the stream.
  const exporterReadPerMinute = shards * (60 / EXPORTER_BATCH_WINDOW_SECONDS);
  const readPerRow =
    f.tickerItemRead / f.rows + (queryReadPerMinute + exporterReadPerMinute) / pricedRowsPerMinute;
  const deployedExport = f.exportSeconds === AGENT_EXPORT_SECONDS;
  // Issue 15's targets, at Antrea's default export.
  const target = deployedExport
    ? ({ 20: 3.2, 60: 1.2 } as Record<number, number>)[f.windowSeconds]
    : undefined;
  const label = `correlator window ${f.windowSeconds} s${deployedExport ? '' : `, agents every ${f.exportSeconds} s`}${f.names === 'long' ? ', long names and Pod labels' : ''}${f.layout === 'buckets' ? `, buckets of ${FLOWS_PER_BUCKET} flows` : ''}`;
  const setting = `${f.flows} live flows (${DEFAULT_CLUSTER.interNodeFraction * 100}% inter-Node, agents every ${f.exportSeconds} s at their own phases), ${f.minutes.toFixed(1)} min measured after warm-up, ticker every ${DEFAULT_CONFIG.commitIntervalSeconds} s, DynamoDB Local ConsumedCapacity`;
  const costInputs = costInputsOf(f);
  const modelled =
    costInputs.correlatorWritesModelledPerFlowMinute === undefined
      ? ''
      : `; the cost model's schedule: ${costInputs.correlatorWritesModelledPerFlowMinute.toFixed(2)} correlator writes per flow per minute, measured ${perFlowMinute(f.correlatorRead).toFixed(2)} (one read each)`;
  return [
    {
      group: GROUP,
      name: `DynamoDB write units per live flow per minute, all writers, ${label}`,
      value: total,
      unit: 'WU/flow/min',
      ...(target === undefined ? {} : { target }),
      better: 'lower',
      counters: {
        correlatorWriteUnitsPerFlowMinute: writers.correlator,
        tickerWriteUnitsPerFlowMinute: writers.ticker,
        exporterCursorWriteUnitsPerFlowMinute: writers.exporter,
        rowsPerFlowPerMinute,
        rowsClosedByCorrelatorShare: f.rowsByCorrelator / f.rows,
        ...costInputs,
        avgItemBytes: f.avgItemBytes,
        maxItemBytes: f.maxItemBytes,
      },
      notes: `correlator ${writers.correlator.toFixed(2)} (writes with their closed rows and due-index moves), ticker ${writers.ticker.toFixed(2)}, exporter cursors ${writers.exporter.toFixed(4)} (modelled: ${EXPORTER_WRITES_PER_BATCH} per batch, ${shards} stream shards, a batch per ${EXPORTER_BATCH_WINDOW_SECONDS} s); ${rowsPerFlowPerMinute.toFixed(3)} rows per flow per minute, ${((100 * f.rowsByCorrelator) / f.rows).toFixed(0)} % closed by the correlator; items avg ${Math.round(f.avgItemBytes)} B / max ${f.maxItemBytes} B${modelled}; ${setting}`,
    },
    {
      group: GROUP,
      name: `DynamoDB read units per exported row, ticker and exporter, ${label}`,
      value: readPerRow,
      unit: 'RU/row',
      target: 0.5,
      better: 'lower',
      counters: {
        tickerItemReadUnitsPerRow: f.tickerItemRead / f.rows,
        indexQueryReadUnitsPerMinute: queryReadPerMinute,
      },
      notes: `ticker item reads ${(f.tickerItemRead / f.rows).toFixed(3)} RU/row + due-index queries ${queryReadPerMinute.toFixed(1)} RU/min and exporter cursor reads over the priced cluster's ${Math.round(pricedRowsPerMinute)} rows per minute; correlator reads ${(f.correlatorRead / f.flows / f.minutes).toFixed(2)} RU/flow/min; ${setting}`,
    },
  ];
}

/**
 * The correlator's CPU for its store's encoding, per flow and write: one item per flow (flowItemOf, then
 * storedFlowOf as the next read decodes it) against a bucket of 32 (entries encoded, deflated, decoded).
 * The bucket's deflate is the added work; the row gives it as a ratio to the per-flow baseline, measured in
 * the same run (the machine's speed swings).
 */
function encodingCpuRow(quick: boolean): BenchRow {
  const config = defaultScheduleConfig();
  const t0 = 1_800_000_000_000;
  const records = generateRecords({
    ...{ flows: quick ? 640 : 3200, rounds: 12, interNodeShare: DEFAULT_CLUSTER.interNodeFraction },
    ...{ intervalSeconds: AGENT_EXPORT_SECONDS, startSeconds: t0 / 1000, seed: 3, names: 'short' as const },
  });
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) byKey.set(flowKeyOf(r), [...(byKey.get(flowKeyOf(r)) ?? []), r]);
  const timeouts = { activeTimeoutMs: config.activeTimeoutMs, inactiveTimeoutMs: config.inactiveTimeoutMs };
  const states = [...byKey].map(
    ([key, list]) => foldRecords(key, undefined, list, t0 + 60_000, timeouts, config).state!,
  );
  const names = new Map(states.map((state) => [state.flow.flowKey, state.flow.record]));
  const cpuMsOf = (work: () => void) => {
    work(); // warm
    const start = process.cpuUsage();
    for (let i = 0; i < 5; i++) work();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000 / 5;
  };
  const perFlow = cpuMsOf(() => {
    for (const state of states) storedFlowOf(flowItemOf(state, 1, t0, config));
  });
  const bucketed = cpuMsOf(() => {
    for (let i = 0; i < states.length; i += FLOWS_PER_BUCKET) {
      const entries = states
        .slice(i, i + FLOWS_PER_BUCKET)
        .map((state) => ({ state, changedAt: 1, dueBy: t0, expiresAt: 1, namesExpireAt: 1 }));
      decodeEntries(deflateRawSync(encodeEntries(entries), { level: 9 }), 'bucket', (k) => names.get(k));
    }
  });
  const usPerFlow = (ms: number) => (ms / states.length) * 1000;
  return {
    group: GROUP,
    name: `store encoding CPU per flow and write, buckets of ${FLOWS_PER_BUCKET} flows`,
    value: usPerFlow(bucketed),
    unit: 'us/flow',
    baselineName: 'one item per flow',
    baseline: usPerFlow(perFlow),
    better: 'lower',
    notes: `${states.length} live flows' states (short names): buckets encoded, deflated and decoded against items built and decoded (flowItemOf, storedFlowOf); CPU time, same run`,
  };
}

/** The bucketed layout (-c flowLayout=buckets): the deployed window, short and long names, and 60 s agents. */
async function bucketRows(
  client: LiveFlowOptions['client'],
  meters: LiveFlowOptions['meters'],
  quick: boolean,
): Promise<BenchRow[]> {
  const base = {
    client,
    meters,
    schedule: defaultScheduleConfig(),
    windowSeconds: MEASURED_WINDOW_SECONDS,
    // Enough buckets that a run does not hinge on one: 20 of them (4 when quick).
    flows: (quick ? 4 : 20) * FLOWS_PER_BUCKET,
    warmupMinutes: 2,
    lazyCycles: quick ? 1 : 2,
    layout: 'buckets' as const,
  };
  const rows = figureRows(await liveFlows(base));
  rows.push(...figureRows(await liveFlows({ ...base, names: 'long' })).slice(0, 1));
  const sparse = await liveFlows({ ...base, exportSeconds: 60, warmupMinutes: 3 });
  rows.push(...figureRows(sparse).slice(0, 1));
  const spacingMs = 1_700;
  const latencies = await newFlowLatency({
    client: client.correlator,
    schedule: base.schedule,
    windowSeconds: MEASURED_WINDOW_SECONDS,
    flows: quick ? 40 : 120,
    spacingMs,
    layout: 'buckets',
  });
  rows.push(latencyRow(MEASURED_WINDOW_SECONDS, latencies, spacingMs, 'buckets'));
  return rows;
}

export const flowStateBench: BenchModule = {
  async run({ quick }) {
    const engine = await useDynamoDbLocal();
    const client = { correlator: createDynamoDbClient(), ticker: createDynamoDbClient() };
    const meters = { correlator: meterCapacity(client.correlator), ticker: meterCapacity(client.ticker) };
    try {
      const rows: BenchRow[] = [];
      for (const windowSeconds of [10, 20, 60]) {
        const figures = await liveFlows({
          client,
          meters,
          schedule: defaultScheduleConfig(),
          windowSeconds,
          flows: quick ? 60 : 200,
          warmupMinutes: 2,
          lazyCycles: quick ? 1 : 2,
        });
        rows.push(...figureRows(figures));
        const spacingMs = 1_700; // coprime with the 8 s rounds and the windows: every phase is sampled
        const latencies = await newFlowLatency({
          client: client.correlator,
          schedule: defaultScheduleConfig(),
          windowSeconds,
          flows: quick ? 40 : 120,
          spacingMs,
        });
        rows.push(latencyRow(windowSeconds, latencies, spacingMs));
      }
      // Items with real clusters' long names and Pod labels: still one write unit per write?
      const longNamed = await liveFlows({
        client,
        meters,
        schedule: defaultScheduleConfig(),
        windowSeconds: 20,
        flows: quick ? 60 : 200,
        warmupMinutes: 2,
        lazyCycles: quick ? 1 : 2,
        names: 'long',
      });
      rows.push(...figureRows(longNamed).slice(0, 1));
      // Antrea's activeFlowExportTimeout at 60 s: a flow's records reach fewer windows than every one.
      const sparse = await liveFlows({
        client,
        meters,
        schedule: defaultScheduleConfig(),
        windowSeconds: MEASURED_WINDOW_SECONDS,
        exportSeconds: 60,
        flows: quick ? 60 : 200,
        warmupMinutes: 3,
        lazyCycles: quick ? 1 : 2,
      });
      rows.push(...figureRows(sparse).slice(0, 1));
      rows.push(...(await bucketRows(client, meters, quick)));
      rows.push(encodingCpuRow(quick));
      return rows;
    } finally {
      client.correlator.destroy();
      client.ticker.destroy();
      await engine.stop();
    }
  },
};
