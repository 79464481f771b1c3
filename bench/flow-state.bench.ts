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
  type ScheduleConfig,
} from '../functions/flow-store/index.ts';
import type { RowSink } from '../functions/flusher/clickhouse-sink.ts';
import { flusherConfigFromEnv } from '../functions/flusher/config.ts';
import { Flusher } from '../functions/flusher/flusher.ts';
import type { FlowRow } from '../functions/flusher/rows.ts';
import { DEFAULT_CONFIG } from '../lib/config.ts';
import { generateRecords } from '../workloads/correlator-workload.ts';
import { CLUSTER_UUID } from '../workloads/flusher-workload.ts';
import { itemBytes, scanAll } from './correlator.bench.ts';
import { type CapacityMeter, meterCapacity, useDynamoDbLocal } from './dynamodb.ts';
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

/** Keeps the rows, deduplicated by insert token as ClickHouse does: only DynamoDB is measured here. */
class RowCounter implements RowSink {
  rows = 0;
  private readonly tokens = new Set<string>();
  async insert(rows: readonly FlowRow[], token: string) {
    if (!this.tokens.has(token)) this.rows += rows.length;
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
}

/** Live flows through correlator and flusher in simulated time; units of the measured minutes only. */
async function liveFlows(o: LiveFlowOptions): Promise<LiveFlowFigures> {
  const table = `flow-state-${o.windowSeconds}s-${process.pid}`;
  await o.client.correlator.send(new CreateTableCommand(createTableInput(table)));
  const store = new DynamoFlowStore(o.client.correlator, table, o.schedule);
  const queue = new MarkedByUpdateItem(o.client.flusher, table, o.schedule);
  const deployed = flusherConfigFromEnv({
    CLICKHOUSE_URL: 'http://127.0.0.1:1',
    CLUSTER_UUID,
    // Only the deployed batch and concurrency settings are read; no ClickHouse is reached.
    CLICKHOUSE_PASSWORD: '',
  });
  const sink = new RowCounter();
  const t0 = 1_800_000_000_000;
  let now = t0;
  const flusher = new Flusher(queue, sink, {
    clusterUUID: CLUSTER_UUID,
    schedule: o.schedule,
    maxRowsPerInsert: deployed.maxRowsPerInsert,
    maxInsertsPerRound: deployed.maxInsertsPerRound,
    insertConcurrency: deployed.insertConcurrency,
    writeConcurrency: deployed.writeConcurrency,
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
  });
  const windowMs = o.windowSeconds * 1000;
  const warmEnd = t0 + o.warmupMinutes * 60_000;
  let before: { correlator: Units; flusher: Units; rows: number } | undefined;
  let nextInvocation = t0 + windowMs;
  let nextRound = t0 + commitMs;
  let next = 0;
  let sequence = 0;
  let rounds = 0;
  while (Math.min(nextInvocation, nextRound) <= t0 + totalMs) {
    if (!before && Math.min(nextInvocation, nextRound) > warmEnd) {
      before = {
        correlator: new Map(o.meters.correlator.byCommand),
        flusher: new Map(o.meters.flusher.byCommand),
        rows: sink.rows,
      };
    }
    if (nextInvocation <= nextRound) {
      now = nextInvocation;
      const batch: FlowRecord[] = [];
      while (next < records.length && records[next]!.receivedAtMs <= now) batch.push(records[next++]!);
      const event = eventOf(batch, sequence);
      sequence += event.length;
      const outcome = await correlateBatch(event, { store, now: () => now }, correlatorSettings(o.schedule));
      if (outcome.batchItemFailures.length > 0) throw new Error('flow-state bench: correlator failures');
      nextInvocation += windowMs;
    } else {
      now = nextRound;
      const report = await flusher.round();
      if (!report.ok) throw new Error(`flow-state bench: flusher round failed: ${report.error}`);
      if (before) rounds++;
      nextRound += commitMs;
    }
  }
  if (!before) throw new Error('flow-state bench: no measured minutes');
  const correlator = unitsSince(o.meters.correlator, before.correlator);
  const flushing = unitsSince(o.meters.flusher, before.flusher);
  const sizes = (await scanAll(o.client.correlator, table))
    .filter((item) => item.pk?.S?.includes('|'))
    .map(itemBytes);
  return {
    windowSeconds: o.windowSeconds,
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
  const label = `correlator window ${f.windowSeconds} s`;
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
      }
      return rows;
    } finally {
      client.correlator.destroy();
      client.flusher.destroy();
      await engine.stop();
    }
  },
};
