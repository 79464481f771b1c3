// DynamoDB units of the flow state per live flow, all writers together (issue 15), at correlator windows of
// 10, 20 and 60 s (the cost/latency knob), independent of the machine's speed: live flows over simulated
// time on DynamoDB Local, both Nodes of an inter-Node flow
// reporting every 5 s (Antrea's activeFlowExportTimeout), the real correlator invoked once per batching
// window with that window's records (one lane: a flow's records all reach the same invocation), the real
// flusher with the deployed settings every commit interval. Every request's ConsumedCapacity is summed per
// writer and per command; after a warm-up (flows created, first exports done) the steady state gives:
//   - write units per live flow per minute: correlator writes (with the due index's), the flusher's
//     "mark exported" writes (with the index's), its manifests;
//   - read units per exported row: the flusher's item reads, and its due-index queries, which cost the same
//     per round whatever the number of flows, amortised over the priced cluster's rows per round;
//   - the items' size (1 write unit per 1 KB).
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { flowKeyOf } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import type { ExistingItemWrite, WriteResult } from '../core/flow-state/ports.ts';
import { encodeWireBatch } from '../core/wire.ts';
import { DEFAULT_CLUSTER } from '../cost/model.ts';
import { correlateBatch, type KinesisRecordLike } from '../functions/correlator/correlate-batch.ts';
import { DynamoExportQueue } from '../functions/flow-store/export-queue.ts';
import {
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
  itemSizeOf,
  type ScheduleConfig,
} from '../functions/flow-store/index.ts';
import type { RowSink } from '../functions/flusher/clickhouse-sink.ts';
import { flusherConfigFromEnv } from '../functions/flusher/config.ts';
import { Flusher } from '../functions/flusher/flusher.ts';
import type { FlowRow } from '../functions/flusher/rows.ts';
import { DEFAULT_CONFIG } from '../lib/config.ts';
import { generateRecords } from '../workloads/correlator-workload.ts';
import { CLUSTER_UUID } from '../workloads/flusher-workload.ts';
import { scanAll } from './correlator.bench.ts';
import { type CapacityMeter, meterCapacity, useDynamoDbLocal } from './dynamodb.ts';
import { median } from './stats.ts';
import type { BenchModule, BenchRow } from './types.ts';

const GROUP = 'flow-state';
const AGENT_EXPORT_SECONDS = 5;
const FLOW_RECORDS_PER_KINESIS_RECORD = 200;

/**
 * The flusher's queue with its marks sent as UpdateItem, one per flow: DynamoDB Local reports no units
 * for BatchExecuteStatement, and AWS bills a PartiQL UPDATE as the UpdateItem of the same item.
 */
class MarkedByUpdateItem extends DynamoExportQueue {
  override async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    return Promise.all(writes.map((w) => this.write(w.state, w.expectedVersion, nowMs)));
  }
}

/**
 * Keeps the rows, deduplicated by insert token as ClickHouse does: only DynamoDB is measured here. Notes when
 * each flow's first row was inserted (simulated time), for the new-flow latency.
 */
class RowCounter implements RowSink {
  rows = 0;
  readonly firstRowAtMs = new Map<string, number>();
  private readonly tokens = new Set<string>();
  constructor(private readonly clock: () => number = () => 0) {}
  async insert(rows: readonly FlowRow[], token: string) {
    if (!this.tokens.has(token)) {
      this.rows += rows.length;
      for (const row of rows) {
        if (row.exportSeq === 1) this.firstRowAtMs.set(String(row.flowKey), this.clock());
      }
    }
    this.tokens.add(token);
    return [];
  }
}

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
function eventOf(records: readonly FlowRecord[], firstSequence: number): KinesisRecordLike[] {
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
  names: 'short' | 'long';
  flows: number;
  minutes: number;
  rows: number;
  correlatorWrite: number;
  correlatorRead: number;
  markWrite: number;
  manifestWrite: number;
  itemRead: number;
  indexQueryRead: number;
  flusherRounds: number;
  avgItemBytes: number;
  maxItemBytes: number;
}

interface LiveFlowOptions {
  client: { correlator: DynamoDBClient; flusher: DynamoDBClient };
  meters: { correlator: CapacityMeter; flusher: CapacityMeter };
  schedule: ScheduleConfig;
  windowSeconds: number;
  flows: number;
  warmupMinutes: number;
  /**
   * Export periods measured. All flows start together, so a window of whole periods (the flusher's
   * period: activeFlowRecordTimeout rounded up to commit intervals) gives each flow the same number of
   * rows, whatever the phase.
   */
  measuredPeriods: number;
  /** Realistic long names and Pod labels (workloads/correlator-workload.ts), default short demo names. */
  names?: 'short' | 'long';
}

/** Live flows through correlator and flusher in simulated time; units of the measured minutes only. */
async function liveFlows(o: LiveFlowOptions): Promise<LiveFlowFigures> {
  const names = o.names ?? 'short';
  const table = `flow-state-${o.windowSeconds}s-${names}-${process.pid}`;
  await o.client.correlator.send(new CreateTableCommand(createTableInput(table)));
  const store = new DynamoFlowStore(o.client.correlator, table, o.schedule);
  const queue = new MarkedByUpdateItem(o.client.flusher, table, o.schedule);
  const sink = new RowCounter();
  const t0 = 1_800_000_000_000;
  let now = t0;
  const flusher = new Flusher(queue, sink, {
    ...deployedFlusherSettings(),
    clusterUUID: CLUSTER_UUID,
    schedule: o.schedule,
    clock: () => now,
  });
  const commitMs = DEFAULT_CONFIG.commitIntervalSeconds * 1000;
  const periodMs = Math.ceil(o.schedule.activeTimeoutMs / commitMs) * commitMs;
  const measuredMs = o.measuredPeriods * periodMs;
  const totalMs = o.warmupMinutes * 60_000 + measuredMs;
  const records = generateRecords({
    flows: o.flows,
    rounds: totalMs / (AGENT_EXPORT_SECONDS * 1000),
    interNodeShare: DEFAULT_CLUSTER.interNodeFraction,
    intervalSeconds: AGENT_EXPORT_SECONDS,
    startSeconds: t0 / 1000,
    seed: 15,
    names,
  });
  const warmEnd = t0 + o.warmupMinutes * 60_000;
  let before: { correlator: Units; flusher: Units; rows: number } | undefined;
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
          flusher: new Map(o.meters.flusher.byCommand),
          rows: sink.rows,
        };
      }
    },
    correlate: (event) => correlateBatch(event, { store, now: () => now }, correlatorSettings(o.schedule)),
    round: async () => {
      if (before) rounds++;
      return flusher.round();
    },
  });
  if (!before) throw new Error('flow-state bench: no measured minutes');
  const correlator = unitsSince(o.meters.correlator, before.correlator);
  const flushing = unitsSince(o.meters.flusher, before.flusher);
  const sizes = (await scanAll(o.client.correlator, table))
    .filter((item) => item.pk?.S?.includes('|'))
    .map(itemSizeOf);
  return {
    windowSeconds: o.windowSeconds,
    names,
    flows: o.flows,
    minutes: measuredMs / 60_000,
    rows: sink.rows - before.rows,
    correlatorWrite: sum(correlator, ['UpdateItemCommand']),
    correlatorRead: sum(correlator, ['BatchGetItemCommand']),
    markWrite: sum(flushing, ['UpdateItemCommand']),
    manifestWrite: sum(flushing, ['PutItemCommand', 'BatchWriteItemCommand', 'DeleteItemCommand']),
    itemRead: sum(flushing, ['BatchGetItemCommand']),
    indexQueryRead: sum(flushing, ['QueryCommand']),
    flusherRounds: rounds,
    avgItemBytes: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    maxItemBytes: Math.max(...sizes),
  };
}

/**
 * Simulated time: the correlator invoked every batching window with the records received since, the
 * flusher every commit interval; `setNow` is told each step's time before it runs.
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
      if (!report.ok) throw new Error(`flow-state bench: flusher round failed: ${report.error}`);
      nextRound += t.commitMs;
    }
  }
}

/**
 * New flows arriving one after another (one every `spacingMs`, both Nodes of an inter-Node flow in the
 * same poll), each its first records only: per flow, the simulated time from its first record's arrival to
 * the flusher round that inserted its first row, with the correlator every window and the flusher every
 * commit interval (a flusher under load: its one-minute invocation runs rounds back to back, so a
 * correlator's wake-up adds nothing). Speed-independent: the times are the schedule's, not the machine's.
 */
async function newFlowLatency(o: {
  client: DynamoDBClient;
  schedule: ScheduleConfig;
  windowSeconds: number;
  flows: number;
  spacingMs: number;
}): Promise<number[]> {
  const table = `flow-state-latency-${o.windowSeconds}s-${process.pid}`;
  await o.client.send(new CreateTableCommand(createTableInput(table)));
  const store = new DynamoFlowStore(o.client, table, o.schedule);
  const t0 = 1_800_000_000_000;
  let now = t0;
  const sink = new RowCounter(() => now);
  const flusher = new Flusher(new MarkedByUpdateItem(o.client, table, o.schedule), sink, {
    ...deployedFlusherSettings(),
    clusterUUID: CLUSTER_UUID,
    schedule: o.schedule,
    clock: () => now,
  });
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
    round: () => flusher.round(),
  });
  return [...arrivals].map(([key, arrivedAt]) => {
    const inserted = sink.firstRowAtMs.get(key);
    if (inserted === undefined) throw new Error(`flow-state bench: new flow ${key} has no row`);
    return (inserted - arrivedAt) / 1000;
  });
}

/** The deployed flusher's batch and concurrency settings (no ClickHouse is reached). */
function deployedFlusherSettings() {
  const deployed = flusherConfigFromEnv({
    CLICKHOUSE_URL: 'http://127.0.0.1:1',
    CLUSTER_UUID,
    CLICKHOUSE_PASSWORD: '',
  });
  return {
    maxRowsPerInsert: deployed.maxRowsPerInsert,
    maxInsertsPerRound: deployed.maxInsertsPerRound,
    insertConcurrency: deployed.insertConcurrency,
    writeConcurrency: deployed.writeConcurrency,
  };
}

function latencyRow(windowSeconds: number, seconds: number[], spacingMs: number): BenchRow {
  const sorted = [...seconds].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return {
    group: GROUP,
    name: `new flow received -> row inserted, p50, correlator window ${windowSeconds} s`,
    value: median(sorted),
    unit: 's',
    ...(windowSeconds === 20 ? { target: 26 } : {}),
    better: 'lower',
    counters: { p95Seconds: at(0.95), maxSeconds: sorted.at(-1) as number, flows: sorted.length },
    notes: `p95 ${at(0.95).toFixed(1)} s, max ${(sorted.at(-1) as number).toFixed(1)} s over ${sorted.length} new flows arriving one every ${spacingMs / 1000} s; simulated time: correlator every ${windowSeconds} s, flusher every ${DEFAULT_CONFIG.commitIntervalSeconds} s (the deployed schedule under load), DynamoDB Local; ClickHouse's own insert time not included`,
  };
}

function correlatorSettings(schedule: ScheduleConfig) {
  return {
    timeouts: { activeTimeoutMs: schedule.activeTimeoutMs, inactiveTimeoutMs: schedule.inactiveTimeoutMs },
    writeConcurrency: 32,
    maxWriteAttempts: 8,
  };
}

/** Rows one flusher exports per round on the priced cluster, at the measured rows per flow per minute. */
function pricedRowsPerRound(rowsPerFlowPerMinute: number): number {
  return (DEFAULT_CLUSTER.connections * rowsPerFlowPerMinute * DEFAULT_CONFIG.commitIntervalSeconds) / 60;
}

/** The speed-independent figures of one run, as bench rows. */
function figureRows(f: LiveFlowFigures): BenchRow[] {
  const perFlowMinute = (units: number) => units / f.flows / f.minutes;
  const writers = {
    correlator: perFlowMinute(f.correlatorWrite),
    marks: perFlowMinute(f.markWrite),
    manifests: perFlowMinute(f.manifestWrite),
  };
  const total = writers.correlator + writers.marks + writers.manifests;
  const rowsPerFlowPerMinute = f.rows / f.flows / f.minutes;
  const queryReadPerRound = f.indexQueryRead / f.flusherRounds;
  const pricedRows = pricedRowsPerRound(rowsPerFlowPerMinute);
  const readPerRow = f.itemRead / f.rows + queryReadPerRound / pricedRows;
  const target = f.windowSeconds === 20 ? 3.2 : f.windowSeconds === 60 ? 1.2 : undefined;
  const label = `correlator window ${f.windowSeconds} s${f.names === 'long' ? ', long names and Pod labels' : ''}`;
  const setting = `${f.flows} live flows (${DEFAULT_CLUSTER.interNodeFraction * 100}% inter-Node, agents every ${AGENT_EXPORT_SECONDS} s), ${f.minutes.toFixed(1)} min measured after warm-up, flusher every ${DEFAULT_CONFIG.commitIntervalSeconds} s, DynamoDB Local ConsumedCapacity`;
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
        flusherMarkWriteUnitsPerFlowMinute: writers.marks,
        flusherManifestWriteUnitsPerFlowMinute: writers.manifests,
        rowsPerFlowPerMinute,
        avgItemBytes: f.avgItemBytes,
        maxItemBytes: f.maxItemBytes,
      },
      notes: `correlator ${writers.correlator.toFixed(2)} (writes and their due-index writes), flusher marks ${writers.marks.toFixed(2)} (item and due-index move), manifests ${writers.manifests.toFixed(2)}; ${rowsPerFlowPerMinute.toFixed(3)} rows per flow per minute; items avg ${Math.round(f.avgItemBytes)} B / max ${f.maxItemBytes} B; ${setting}`,
    },
    {
      group: GROUP,
      name: `DynamoDB read units per exported row, flusher, ${label}`,
      value: readPerRow,
      unit: 'RU/row',
      target: 0.5,
      better: 'lower',
      counters: {
        flusherItemReadUnitsPerRow: f.itemRead / f.rows,
        flusherIndexQueryReadUnitsPerRound: queryReadPerRound,
      },
      notes: `item reads ${(f.itemRead / f.rows).toFixed(3)} RU/row + due-index queries ${queryReadPerRound.toFixed(1)} RU per round over the priced cluster's ${Math.round(pricedRows)} rows per round (${DEFAULT_CLUSTER.connections.toLocaleString('en-US')} connections; here ${(f.rows / f.flusherRounds).toFixed(1)} rows per round); correlator reads ${(f.correlatorRead / f.flows / f.minutes).toFixed(2)} RU/flow/min; ${setting}`,
    },
  ];
}

export const flowStateBench: BenchModule = {
  async run({ quick }) {
    const engine = await useDynamoDbLocal();
    const client = { correlator: createDynamoDbClient(), flusher: createDynamoDbClient() };
    const meters = { correlator: meterCapacity(client.correlator), flusher: meterCapacity(client.flusher) };
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
          measuredPeriods: quick ? 3 : 6,
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
        measuredPeriods: quick ? 3 : 6,
        names: 'long',
      });
      rows.push(...figureRows(longNamed).slice(0, 1));
      return rows;
    } finally {
      client.correlator.destroy();
      client.flusher.destroy();
      await engine.stop();
    }
  },
};
