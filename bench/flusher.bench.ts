// Flusher benchmarks on the local stack (ClickHouse via chDB behind its HTTP interface, DynamoDB Local):
//  - rows/s of the ClickHouse sink with the flusher's batch size, vs one insert per row (Antrea's
//    Exec-per-row pattern, here as one HTTP insert per row) in the same run;
//  - a whole flusher round: due query, reads, manifest, conditional marks, insert; rows/s and the export
//    latency from the flows being due to their rows being visible in ClickHouse.
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { createClickHouseClient, executorFor } from '../clickhouse/client.ts';
import { applyMigrations } from '../clickhouse/migrations.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../core/flow-record.ts';
import { encodeWireBatch } from '../core/wire.ts';
import { correlateBatch } from '../functions/correlator/correlate-batch.ts';
import { DynamoExportQueue } from '../functions/flow-store/export-queue.ts';
import { createTableInput, defaultScheduleConfig } from '../functions/flow-store/index.ts';
import { batchToken } from '../functions/flusher/batch.ts';
import { ClickHouseRowSink } from '../functions/flusher/clickhouse-sink.ts';
import { Flusher } from '../functions/flusher/flusher.ts';
import { buildFlowRow } from '../functions/flusher/rows.ts';
import { startLocalEngines } from '../local/engines/index.ts';
import { CLUSTER_UUID, workloadFlows } from '../test/integration/flusher-workload.ts';
import type { BenchModule, BenchRow } from './types.ts';

async function sinkThroughput(
  url: string,
  username: string,
  password: string,
  quick: boolean,
): Promise<BenchRow[]> {
  const database = `bench_sink_${process.pid}`;
  const admin = createClickHouseClient({ url, username, password, database: 'default' });
  await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await admin.close();
  const client = createClickHouseClient({ url, username, password, database });
  await applyMigrations(executorFor(client));
  const sink = new ClickHouseRowSink(client);
  const batchSize = quick ? 20_000 : 50_000;
  const batches = quick ? 2 : 4;
  const flows = workloadFlows(batchSize, 7, 1_750_000_000);
  const pending = flows.map((flow, i) => ({
    token: `${flow.flowKey}#1#1`,
    row: buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 1_750_000_000_000 + i }),
  }));
  const rows = pending.map((p) => p.row);
  // Warm-up (connection, first part), then timed batches, each a distinct block (distinct token).
  await sink.insert(rows.slice(0, 1000), `warm-${Date.now()}`);
  const started = performance.now();
  for (let b = 0; b < batches; b++) await sink.insert(rows, `${batchToken(pending)}-${b}-${Date.now()}`);
  const batchedSeconds = (performance.now() - started) / 1000;
  const perRowCount = quick ? 100 : 300;
  const perRowStarted = performance.now();
  for (let i = 0; i < perRowCount; i++) await sink.insert([rows[i]!], `row-${i}-${Date.now()}`);
  const perRowSeconds = (performance.now() - perRowStarted) / 1000;
  await client.close();
  return [
    {
      group: 'flusher',
      name: `ClickHouse insert, ${batchSize.toLocaleString('en-US')} rows per insert (JSONCompactEachRow, gzip)`,
      value: (batchSize * batches) / batchedSeconds,
      unit: 'rows/s',
      baselineName: 'one insert per row',
      baseline: perRowCount / perRowSeconds,
      target: 100_000,
      better: 'higher',
      counters: { batchSize, batches },
    },
  ];
}

function pairs(count: number, receivedAtMs: number): FlowRecord[] {
  const records: FlowRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base: FlowRecord = {
      ...emptyFlowRecord(),
      sourceIP: `10.7.${i >> 8}.${i & 255}`,
      destinationIP: `10.8.${i >> 8}.${i & 255}`,
      sourceTransportPort: 40000 + (i % 20000),
      destinationTransportPort: 443,
      protocolIdentifier: 6,
      flowStartSeconds: 1_799_999_000,
      flowEndSeconds: 1_799_999_990,
      flowEndReason: 2,
      flowType: FlowType.InterNode,
      packetTotalCount: 10,
      packetDeltaCount: 10,
      octetTotalCount: 1000,
      octetDeltaCount: 1000,
      sourcePodName: `client-${i}`,
      sourcePodNamespace: 'shop',
      destinationPodName: `server-${i}`,
      destinationPodNamespace: 'shop',
      receivedAtMs,
    };
    records.push({ ...base, destinationPodName: '', exporterAddress: '192.168.0.1' });
    records.push({ ...base, sourcePodName: '', exporterAddress: '192.168.0.2' });
  }
  return records;
}

async function flusherRound(quick: boolean): Promise<BenchRow[]> {
  const engines = await startLocalEngines({ kinesis: false });
  try {
    Object.assign(process.env, engines.env());
    const dynamodb = createDynamoDbClient();
    const table = `flows-bench-flusher-${process.pid}`;
    await dynamodb.send(new CreateTableCommand(createTableInput(table)));
    const schedule = defaultScheduleConfig();
    const queue = new DynamoExportQueue(dynamodb, table, schedule);
    const url = engines.endpoints.clickhouse!;
    const { user, password } = engines.clickhouse!;
    const client = createClickHouseClient({ url, username: user, password, database: 'default' });
    await applyMigrations(executorFor(client));
    const flows = quick ? 1000 : 4000;
    const t0 = 1_800_000_000_000;
    const records = pairs(flows, t0);
    for (let i = 0; i < records.length; i += 1000) {
      await correlateBatch(
        [
          {
            kinesis: {
              data: encodeWireBatch(records.slice(i, i + 1000)).toString('base64'),
              sequenceNumber: `${i}`,
            },
          },
        ],
        { store: queue, now: () => t0 },
        {
          timeouts: { activeTimeoutMs: 60_000, inactiveTimeoutMs: 90_000 },
          writeConcurrency: 32,
          maxWriteAttempts: 20,
        },
      );
    }
    const flusher = new Flusher(queue, new ClickHouseRowSink(client), {
      clusterUUID: CLUSTER_UUID,
      schedule,
      maxRowsPerInsert: 50_000,
      maxInsertsPerRound: 4,
      writeConcurrency: 64,
      clock: () => t0 + 1000,
    });
    const started = performance.now();
    const report = await flusher.round();
    const [visible] = await executorFor(client).queryRows<{ c: string }>('SELECT count() AS c FROM flows');
    const seconds = (performance.now() - started) / 1000;
    if (!report.ok || Number(visible!.c) !== flows)
      throw new Error(`flusher round failed: ${JSON.stringify(report)}`);
    await client.close();
    dynamodb.destroy();
    return [
      {
        group: 'flusher',
        name: `flusher round on DynamoDB Local + ClickHouse (${flows} due flows, one insert)`,
        value: flows / seconds,
        unit: 'rows/s',
        counters: { flows, inserts: report.inserts },
        notes: 'due query + consistent reads + manifest + conditional marks + insert; DynamoDB Local bound',
      },
      {
        group: 'flusher',
        name: `export latency: flows due -> rows visible in ClickHouse (${flows} flows)`,
        value: seconds * 1000,
        unit: 'ms',
        better: 'lower',
        notes: 'add up to one commit interval (8 s) of waiting for the next round on AWS',
      },
    ];
  } finally {
    await engines.stop();
  }
}

export const flusherBench: BenchModule = {
  async run({ quick }) {
    const engines = await startLocalEngines({ dynamodb: false, kinesis: false });
    let rows: BenchRow[];
    try {
      const { user, password } = engines.clickhouse!;
      rows = await sinkThroughput(engines.endpoints.clickhouse!, user, password, quick);
    } finally {
      await engines.stop();
    }
    return [...rows, ...(await flusherRound(quick))];
  },
};
