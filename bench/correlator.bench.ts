// Correlator throughput and DynamoDB write units per flow record, against DynamoDB Local, on a simulator-
// like workload (80% inter-Node flows reported by both Nodes every 5 s of event time), for the fold design
// (one conditional write per key per batch) and the naive one-UpdateItem-per-record baseline in the same run.
import { CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { flowKeyOf } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { type CorrelatorSettings, correlateBatch } from '../functions/correlator/correlate-batch.ts';
import { foldRecords } from '../functions/correlator/fold.ts';
import {
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
  type FlowItem,
  type ScheduleConfig,
} from '../functions/flow-store/index.ts';
import { startDynamoDb } from '../local/engines/index.ts';
import { asStream, kinesisEvent } from '../test/unit/correlator/kinesis-events.ts';
import { generateRecords, packPayloads } from '../test/unit/correlator/workload.ts';
import type { BenchModule, BenchRow } from './types.ts';

const GROUP = 'correlator';
const INTERVAL_SECONDS = 5;
const RECORDS_PER_KINESIS_RECORD = 100;

/** DynamoDB's item size rules (attribute names + values; numbers ~1 byte per 2 digits + 1). */
export function itemBytes(item: FlowItem): number {
  const valueBytes = (v: FlowItem[string]): number => {
    if (v.S !== undefined) return Buffer.byteLength(v.S);
    if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
    if (v.B !== undefined) return v.B.length;
    if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
    if (v.L !== undefined) return 3 + v.L.reduce((sum, e) => sum + 1 + valueBytes(e), 0);
    return 0;
  };
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

async function scanAll(client: DynamoDBClient, table: string): Promise<FlowItem[]> {
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

/** The correlator path: batches of `windowSeconds` of records, exactly as the handler runs them. */
async function runFold(
  store: DynamoFlowStore,
  records: FlowRecord[],
  perRound: number,
  roundsPerBatch: number,
  settings: CorrelatorSettings,
): Promise<Measured> {
  const m: Measured = { records: 0, seconds: 0, writeUnits: 0, readUnits: 0, writes: 0, invocations: 0 };
  const started = performance.now();
  const batchRecords = perRound * roundsPerBatch;
  for (let i = 0; i < records.length; i += batchRecords) {
    const event = kinesisEvent(
      asStream(packPayloads(records.slice(i, i + batchRecords), RECORDS_PER_KINESIS_RECORD)),
    );
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
  async run({ quick }) {
    const engine = await startDynamoDb();
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: engine.endpoint,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const client = createDynamoDbClient();
    try {
      const schedule: ScheduleConfig = defaultScheduleConfig();
      const settings: CorrelatorSettings = {
        timeouts: {
          activeTimeoutMs: schedule.activeTimeoutMs,
          inactiveTimeoutMs: schedule.inactiveTimeoutMs,
        },
        writeConcurrency: 32,
        maxWriteAttempts: 8,
      };
      const flows = quick ? 300 : 1000;
      const rounds = quick ? 6 : 12; // 30 s / 60 s of event time
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
        await client.send(new CreateTableCommand(createTableInput(name)));
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

      for (const windowSeconds of [10, 5]) {
        const roundsPerBatch = windowSeconds / INTERVAL_SECONDS;
        const tableName = `bench-correlator-fold-${windowSeconds}s`;
        const fold = await runFold(await table(tableName), records, perRound, roundsPerBatch, settings);
        const sizes = (await scanAll(client, tableName)).map(itemBytes);
        const avgItem = sizes.reduce((a, b) => a + b, 0) / sizes.length;
        const wcuPerRecord = fold.writeUnits / fold.records;
        const naiveWcu = naive.writeUnits / naive.records;
        const note = `${flows} flows (80% inter-Node, both Nodes every 5 s), ${rounds} rounds, batch = ${windowSeconds} s of records (${Math.round(perRound * roundsPerBatch)} records, ${(fold.records / fold.writes).toFixed(2)} records folded per write), items avg ${Math.round(avgItem)} B / max ${Math.max(...sizes)} B`;
        const counters: Record<string, number> =
          windowSeconds === 10
            ? {
                correlatorWriteUnitsPerFlowRecord: wcuPerRecord,
                correlatorReadUnitsPerFlowRecord: fold.readUnits / fold.records,
                correlatorFlowRecordsPerInvocation: fold.records / fold.invocations,
                correlatorMsPerInvocation: (fold.seconds * 1000) / fold.invocations,
                naiveWriteUnitsPerFlowRecord: naiveWcu,
                naiveMsPerFlowRecord: (naive.seconds * 1000) / naive.records,
                avgItemBytes: avgItem,
                recordsPerWrite: fold.records / fold.writes,
              }
            : { avgItemBytes: avgItem, recordsPerWrite: fold.records / fold.writes };
        rows.push({
          group: GROUP,
          name: `DynamoDB write units per flow record, ${windowSeconds} s batching window`,
          value: wcuPerRecord,
          unit: 'WCU/record',
          baselineName: 'naive: one UpdateItem per record',
          baseline: naiveWcu,
          target: 0.5,
          better: 'lower',
          counters,
          notes: `${note}; WCU from ReturnConsumedCapacity=TOTAL`,
        });
        rows.push({
          group: GROUP,
          name: `records/s, decode+fold+conditional write, ${windowSeconds} s window (DynamoDB Local)`,
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
      for (const key of [
        'AWS_ENDPOINT_URL_DYNAMODB',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
      ]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  },
};
