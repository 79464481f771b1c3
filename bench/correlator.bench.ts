// Correlator throughput and DynamoDB write units per flow record, against DynamoDB Local, on a simulator-
// like workload (80% inter-Node flows reported by both Nodes every 5 s of event time), for the fold design
// (one conditional write per key per batch) and the naive one-UpdateItem-per-record baseline in the same run.
//
// What drives write units per flow record: one write per flow key per invocation, so it is about
// 1 / (records of one key folded into one invocation) x the item's write units. Agents report every
// connection every 5 s (both Nodes for inter-Node flows), so the fold factor is about
// 1.8 x (span of one invocation / 5 s). The span is not simply the batching window: the event source
// mapping also stops at BatchSize and at the 6 MB invocation payload (base64 data), and with
// ParallelizationFactor N a shard's records are split over N lanes by partition key, each filling N times
// slower. The "deployed configuration" row computes that span for the deployed settings (lib/config.ts) and
// the priced cluster (cost/model.ts), then measures batches of that span through the real correlator;
// the cost model reads that row.

import { CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { DEFAULT_PARTITION_LANES, type SealedBatch, ShardPacker } from '../collector-edge/packer.ts';
import { flowKeyOf } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { DEFAULT_CLUSTER, flowRecordsPerSecond, inputsFromRows, provisionedShards } from '../cost/model.ts';
import { correlatorSettingsOf } from '../functions/correlator/config.ts';
import { type CorrelatorSettings, correlateBatch } from '../functions/correlator/correlate-batch.ts';
import { foldRecords } from '../functions/correlator/fold.ts';
import {
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
  type FlowItem,
  itemSizeOf,
  type ScheduleConfig,
} from '../functions/flow-store/index.ts';
import { DEFAULT_CONFIG } from '../lib/config.ts';
import { laneOf } from '../local/esm/shard-worker.ts';
import { generateRecords } from '../workloads/correlator-workload.ts';
import { asStream, kinesisEvent } from '../workloads/kinesis-events.ts';
import { useDynamoDbLocal } from './dynamodb.ts';
import type { BenchModule, BenchRow } from './types.ts';

const GROUP = 'correlator';
const INTERVAL_SECONDS = 5;
/** Kinesis record size the collector packs to (collector-edge FLOWLINE_BATCH_TARGET_BYTES default). */
const KINESIS_RECORD_TARGET_BYTES = 25_000;
/**
 * Lambda's synchronous invocation payload limit, "6 MB" (Lambda quotas); the smaller decimal reading, so the bound is never flattering.
 */
export const INVOKE_PAYLOAD_BYTES = 6_000_000;

/** Packs records into Kinesis records with the collector's own packer (lane partition keys, 25 KB). */
function pack(records: readonly FlowRecord[]): SealedBatch[] {
  const sealed: SealedBatch[] = [];
  const packer = new ShardPacker({
    targetBytes: KINESIS_RECORD_TARGET_BYTES,
    lingerMs: Number.POSITIVE_INFINITY,
    now: () => 0,
    onSealed: (batch) => sealed.push(batch),
  });
  for (const record of records) packer.add(record);
  packer.flushAll();
  return sealed;
}

export interface InvocationShapeInputs {
  /** Flow records per second the whole cluster sends. */
  flowRecordsPerSecond: number;
  wireBytesPerFlowRecord: number;
  flowRecordsPerKinesisRecord: number;
  batchSize: number;
  batchingWindowSeconds: number;
  parallelizationFactor: number;
  /** Lane partition keys per shard (collector-edge/packer.ts). */
  laneKeys: number;
  /** Bytes of the event around one Kinesis record's base64 data (eventID, ARNs, sequence number...). */
  eventBytesPerKinesisRecord: number;
}

export interface InvocationShape {
  shards: number;
  /** Share of a shard's records in its busiest ParallelizationFactor lane. */
  busiestLaneShare: number;
  laneFlowRecordsPerSecond: number;
  /** Seconds of records one invocation holds, and the limit that set it. */
  spanSeconds: number;
  bound: 'batching window' | 'BatchSize' | '6 MB payload';
  flowRecordsPerInvocation: number;
}

/**
 * What one correlator invocation holds in production: min(window, BatchSize, 6 MB payload) of one lane's
 * records. Shards are sized as the cost model sizes them (75 % of the 1 MB/s write limit); lane keys are
 * assigned to lanes by partition key hash (modelled as the local event source mapping does it), and the
 * busiest lane is taken, since it fills first and folds least.
 */
export function invocationShape(input: InvocationShapeInputs): InvocationShape {
  const kinesisRecordsPerSecond = input.flowRecordsPerSecond / input.flowRecordsPerKinesisRecord;
  const bytesPerSecond = input.flowRecordsPerSecond * input.wireBytesPerFlowRecord;
  const shards = provisionedShards(kinesisRecordsPerSecond, bytesPerSecond);
  const perLane = new Array<number>(input.parallelizationFactor).fill(0);
  for (let key = 0; key < input.laneKeys; key++) perLane[laneOf(`l${key}`, input.parallelizationFactor)]!++;
  const busiestLaneShare = Math.max(...perLane) / input.laneKeys;
  const laneFlowRecordsPerSecond = (input.flowRecordsPerSecond / shards) * busiestLaneShare;
  const kinesisRecordBytes = input.flowRecordsPerKinesisRecord * input.wireBytesPerFlowRecord;
  const eventBytes = input.eventBytesPerKinesisRecord + 4 * Math.ceil(kinesisRecordBytes / 3);
  const payloadRecords = Math.floor(INVOKE_PAYLOAD_BYTES / eventBytes) * input.flowRecordsPerKinesisRecord;
  const batchRecords = input.batchSize * input.flowRecordsPerKinesisRecord;
  const bounds: Array<[InvocationShape['bound'], number]> = [
    ['batching window', input.batchingWindowSeconds],
    ['BatchSize', batchRecords / laneFlowRecordsPerSecond],
    ['6 MB payload', payloadRecords / laneFlowRecordsPerSecond],
  ];
  const [bound, spanSeconds] = bounds.reduce((a, b) => (b[1] < a[1] ? b : a));
  return {
    shards,
    busiestLaneShare,
    laneFlowRecordsPerSecond,
    spanSeconds,
    bound,
    flowRecordsPerInvocation: spanSeconds * laneFlowRecordsPerSecond,
  };
}

/** Event bytes around one record's data, measured on a real event shape (lane key, 56-digit sequence). */
function eventBytesPerKinesisRecord(): number {
  const one = kinesisEvent(asStream([{ data: Buffer.alloc(0), partitionKey: 'l15' }]));
  const two = kinesisEvent(
    asStream([
      { data: Buffer.alloc(0), partitionKey: 'l15' },
      { data: Buffer.alloc(0), partitionKey: 'l15' },
    ]),
  );
  return JSON.stringify(two).length - JSON.stringify(one).length;
}

export async function scanAll(client: DynamoDBClient, table: string): Promise<FlowItem[]> {
  const items: FlowItem[] = [];
  let start: FlowItem | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

interface Measured {
  records: number;
  seconds: number;
  writeUnits: number;
  readUnits: number;
  writes: number;
  invocations: number;
}

/** The correlator path: consecutive batches of `batchRecords` records, exactly as the handler runs them. */
async function runFold(
  store: DynamoFlowStore,
  records: FlowRecord[],
  batchRecords: number,
  settings: CorrelatorSettings,
): Promise<Measured> {
  const m: Measured = { records: 0, seconds: 0, writeUnits: 0, readUnits: 0, writes: 0, invocations: 0 };
  // Packing is the collector's work, not the correlator's: done before the clock starts.
  const events = [];
  for (let i = 0; i < records.length; i += batchRecords)
    events.push(kinesisEvent(asStream(pack(records.slice(i, i + batchRecords)))));
  const started = performance.now();
  for (const event of events) {
    const out = await correlateBatch(event.Records, { store, now: Date.now }, settings);
    if (out.batchItemFailures.length > 0)
      throw new Error(`correlator bench: ${out.batchItemFailures.length} failures`);
    m.records += out.stats.flowRecords;
    m.writeUnits += out.stats.consumedWriteUnits;
    m.readUnits += out.stats.consumedReadUnits;
    m.writes += out.stats.writes;
    m.invocations++;
  }
  m.seconds = (performance.now() - started) / 1000;
  return m;
}

/** Naive baseline: every record read, folded alone and written (one UpdateItem per record). */
async function runNaive(
  store: DynamoFlowStore,
  records: FlowRecord[],
  settings: CorrelatorSettings,
): Promise<Measured> {
  const m: Measured = { records: 0, seconds: 0, writeUnits: 0, readUnits: 0, writes: 0, invocations: 0 };
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) {
    const key = flowKeyOf(r);
    const list = byKey.get(key) ?? [];
    list.push(r);
    byKey.set(key, list);
  }
  const keys = [...byKey.keys()];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      for (const record of byKey.get(key)!) {
        const read = await store.read([key]);
        m.readUnits += read.consumedReadUnits;
        const folded = foldRecords(key, read.flows.get(key), [record], Date.now(), settings.timeouts);
        if (!folded.state) continue;
        const written = await store.write(folded.state, read.flows.get(key)?.version, Date.now());
        if (!written.ok) throw new Error('naive baseline: unexpected conflict');
        m.writeUnits += written.consumedWriteUnits;
        m.writes++;
        m.records++;
      }
    }
  };
  await Promise.all(Array.from({ length: settings.writeConcurrency }, worker));
  m.seconds = (performance.now() - started) / 1000;
  return m;
}

export const correlatorBench: BenchModule = {
  async run({ quick, previous = [] }) {
    const engine = await useDynamoDbLocal();
    const client = createDynamoDbClient();
    try {
      const schedule: ScheduleConfig = defaultScheduleConfig();
      const settings: CorrelatorSettings = correlatorSettingsOf(schedule, {
        writeConcurrency: 32,
        maxWriteAttempts: 8,
      });
      const flows = quick ? 300 : 1000;
      const rounds = quick ? 8 : 16; // 40 s / 80 s of event time: several deployed-window batches
      const workload = {
        flows,
        rounds,
        interNodeShare: 0.8,
        intervalSeconds: INTERVAL_SECONDS,
        startSeconds: 1_700_000_000,
        seed: 42,
      };
      const records = generateRecords(workload);
      const perRound = records.length / rounds;
      const rows: BenchRow[] = [];
      const table = async (name: string) => {
        await client.send(new CreateTableCommand(createTableInput(name, { stream: false })));
        return new DynamoFlowStore(client, name, schedule);
      };

      // Naive baseline on the first rounds of a subset of flows (its cost per record does not depend on size).
      const naiveFlows = new Set(
        records.slice(0, Math.min(records.length, quick ? 150 : 400)).map(flowKeyOf),
      );
      const naiveRecords = records.filter(
        (r) =>
          naiveFlows.has(flowKeyOf(r)) && r.flowEndSeconds <= workload.startSeconds + 4 * INTERVAL_SECONDS,
      );
      const naive = await runNaive(await table('bench-correlator-naive'), naiveRecords, settings);

      // The deployed configuration on the priced cluster: how many seconds of records one invocation holds.
      const { inputs: measuredPacking } = inputsFromRows(previous);
      const ownPacking = pack(records);
      const ownFlowRecords = ownPacking.reduce((n, b) => n + b.recordCount, 0);
      const packing = {
        wireBytesPerFlowRecord:
          measuredPacking.wireBytesPerFlowRecord ??
          ownPacking.reduce((n, b) => n + b.data.length + Buffer.byteLength(b.partitionKey), 0) /
            ownFlowRecords,
        flowRecordsPerKinesisRecord:
          measuredPacking.flowRecordsPerKinesisRecord ?? ownFlowRecords / ownPacking.length,
      };
      const deployed = {
        batchSize: DEFAULT_CONFIG.correlatorBatchSize,
        batchingWindowSeconds: DEFAULT_CONFIG.correlatorBatchingWindowSeconds,
        parallelizationFactor: DEFAULT_CONFIG.correlatorParallelizationFactor,
      };
      const shape = invocationShape({
        flowRecordsPerSecond: flowRecordsPerSecond(DEFAULT_CLUSTER),
        ...packing,
        ...deployed,
        laneKeys: DEFAULT_PARTITION_LANES,
        eventBytesPerKinesisRecord: eventBytesPerKinesisRecord(),
      });
      const deployedLabel = `deployed configuration (window ${deployed.batchingWindowSeconds} s, ParallelizationFactor ${deployed.parallelizationFactor}, BatchSize ${deployed.batchSize})`;
      const shapeNote = `priced cluster ${Math.round(flowRecordsPerSecond(DEFAULT_CLUSTER))} flow records/s at ${packing.wireBytesPerFlowRecord.toFixed(0)} B, ${Math.round(packing.flowRecordsPerKinesisRecord)} per Kinesis record${measuredPacking.wireBytesPerFlowRecord === undefined ? ' (own packing)' : ' (collector bench)'}: ${shape.shards} shards at 75 % of 1 MB/s, busiest lane ${(shape.busiestLaneShare * 100).toFixed(1)} % of its shard (${DEFAULT_PARTITION_LANES} lane keys over ${deployed.parallelizationFactor} lanes), ${Math.round(shape.laneFlowRecordsPerSecond)} records/s -> ${shape.spanSeconds.toFixed(1)} s per invocation (bound: ${shape.bound}), ${Math.round(shape.flowRecordsPerInvocation)} flow records per production invocation`;

      const cases: Array<{ label: string; spanSeconds: number; feedsCostModel: boolean }> = [
        { label: deployedLabel, spanSeconds: shape.spanSeconds, feedsCostModel: true },
        { label: 'batch = 10 s of records', spanSeconds: 10, feedsCostModel: false },
        { label: 'batch = 5 s of records (one export interval)', spanSeconds: 5, feedsCostModel: false },
      ];
      const naiveWcu = naive.writeUnits / naive.records;
      for (const [index, testCase] of cases.entries()) {
        // The workload stands for one lane's flows; a batch holds `spanSeconds` of its records.
        const batchRecords = Math.max(1, Math.round((perRound * testCase.spanSeconds) / INTERVAL_SECONDS));
        const tableName = `bench-correlator-fold-${index}`;
        const fold = await runFold(await table(tableName), records, batchRecords, settings);
        const sizes = (await scanAll(client, tableName)).map(itemSizeOf);
        const avgItem = sizes.reduce((a, b) => a + b, 0) / sizes.length;
        const wcuPerRecord = fold.writeUnits / fold.records;
        const note = `${flows} flows (80% inter-Node, both Nodes every 5 s), ${rounds} rounds, ${testCase.spanSeconds.toFixed(1)} s of records per batch (${batchRecords} records, ${(fold.records / fold.writes).toFixed(2)} records folded per write, ${(fold.writeUnits / fold.writes).toFixed(2)} WCU per write), items avg ${Math.round(avgItem)} B / max ${Math.max(...sizes)} B`;
        const counters: Record<string, number> = testCase.feedsCostModel
          ? {
              // New flows only (every flow is created in the run): the cost model takes the steady state's
              // units per record from the flow-state bench (correlatorWriteUnitsPerFlowRecord there).
              newFlowsWriteUnitsPerFlowRecord: wcuPerRecord,
              newFlowsReadUnitsPerFlowRecord: fold.readUnits / fold.records,
              // Measured pair: the bench's batches are smaller than production's, so invocations are
              // over-counted (requests cost more), while GB-seconds per record stay as measured.
              correlatorFlowRecordsPerInvocation: fold.records / fold.invocations,
              correlatorMsPerInvocation: (fold.seconds * 1000) / fold.invocations,
              naiveWriteUnitsPerFlowRecord: naiveWcu,
              naiveMsPerFlowRecord: (naive.seconds * 1000) / naive.records,
              avgItemBytes: avgItem,
              recordsPerWrite: fold.records / fold.writes,
              spanSecondsPerInvocation: shape.spanSeconds,
              productionFlowRecordsPerInvocation: shape.flowRecordsPerInvocation,
              shards: shape.shards,
            }
          : { avgItemBytes: avgItem, recordsPerWrite: fold.records / fold.writes };
        rows.push({
          group: GROUP,
          name: `DynamoDB write units per flow record, ${testCase.label}`,
          value: wcuPerRecord,
          unit: 'WCU/record',
          baselineName: 'naive: one UpdateItem per record',
          baseline: naiveWcu,
          // The target applies to what is deployed; the fixed spans show what drives the figure.
          ...(testCase.feedsCostModel ? { target: 0.5 } : {}),
          better: 'lower',
          counters,
          notes: `${testCase.feedsCostModel ? `${shapeNote}; ` : ''}${note}; WCU from ReturnConsumedCapacity=TOTAL`,
        });
        rows.push({
          group: GROUP,
          name: `records/s, decode+fold+conditional write, ${testCase.label} (DynamoDB Local)`,
          value: fold.records / fold.seconds,
          unit: 'records/s',
          baselineName: 'naive: one UpdateItem per record',
          baseline: naive.records / naive.seconds,
          better: 'higher',
          notes: `${fold.invocations} invocations, ${Math.round((fold.seconds * 1000) / fold.invocations)} ms each; read units/record ${(fold.readUnits / fold.records).toFixed(3)}`,
        });
      }
      return rows;
    } finally {
      client.destroy();
      await engine.stop();
    }
  },
};
