// Local engines: start-up time of each engine, and the insert rate of the ClickHouse HTTP front for a
// 100k-row JSONEachRow batch against chDB's own in-process insert of the same bytes (ratio = front overhead).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import { drainPending } from 'chdb';
import { embeddedEngineSession } from '../local/engines/clickhouse-http-server.ts';
import { startClickHouse, startDynamoDb, startKinesis, startLocalEngines } from '../local/engines/index.ts';
import { median } from './stats.ts';
import type { BenchModule, BenchRow } from './types.ts';

const ROWS = 100_000;

const TABLE_COLUMNS = `(
  timeInserted DateTime,
  flowStartSeconds DateTime,
  sourceIP String,
  destinationIP String,
  sourceTransportPort UInt16,
  destinationTransportPort UInt16,
  protocolIdentifier UInt8,
  packetDeltaCount UInt64,
  octetDeltaCount UInt64,
  sourcePodNamespace LowCardinality(String),
  sourcePodName String,
  trusted UInt8
) ENGINE = MergeTree ORDER BY (sourcePodNamespace, flowStartSeconds)`;

/** Flow-shaped rows, the same on every run. */
function flowRows(count: number): Array<Record<string, string | number>> {
  return Array.from({ length: count }, (_, i) => ({
    timeInserted: 1_760_000_000 + (i % 60),
    flowStartSeconds: 1_760_000_000 - (i % 3600),
    sourceIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    destinationIP: `10.96.${(i * 7) & 255}.${(i * 13) & 255}`,
    sourceTransportPort: 32768 + (i % 28000),
    destinationTransportPort: [80, 443, 53, 8080][i % 4] as number,
    protocolIdentifier: i % 5 === 0 ? 17 : 6,
    packetDeltaCount: (i * 31) % 5000,
    octetDeltaCount: (i * 977) % 3_000_000,
    sourcePodNamespace: `namespace-${i % 23}`,
    sourcePodName: `pod-${i % 1000}-${(i * 7919) % 100000}`,
    trusted: 1,
  }));
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function startupRows(repeats: number): Promise<BenchRow[]> {
  const measure = async (start: () => Promise<{ startupMs: number; stop(): Promise<void> }>) => {
    const samples: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const engine = await start();
      samples.push(engine.startupMs);
      await engine.stop();
    }
    // Best of the runs: start-up is what the engine needs, not what other load on the machine adds.
    return Math.min(...samples);
  };
  const dynamodb = await measure(() => startDynamoDb());
  const kinesis = await measure(() => startKinesis());
  const clickhouse = await measure(() => startClickHouse());
  const together = await measure(async () => {
    const started = performance.now();
    const engines = await startLocalEngines();
    return { startupMs: performance.now() - started, stop: () => engines.stop() };
  });
  const row = (name: string, value: number, notes: string): BenchRow => ({
    group: 'engines',
    name,
    value,
    unit: 'ms',
    better: 'lower',
    notes,
  });
  return [
    row('start-up: DynamoDB Local (JVM, -inMemory -sharedDb)', dynamodb, 'spawn until ListTables answers'),
    row('start-up: kinesis-mock (kinesis-local, Node)', kinesis, 'spawn until ListStreams answers'),
    row('start-up: ClickHouse (chDB + HTTP front)', clickhouse, 'spawn until SELECT 1 answers over HTTP'),
    row('start-up: all three in parallel (startLocalEngines)', together, `best of ${repeats}`),
  ];
}

async function insertRows(repeats: number): Promise<BenchRow[]> {
  const rows = flowRows(ROWS);
  const body = Buffer.from(`${rows.map((row) => JSON.stringify(row)).join('\n')}\n`);
  const clickhouse = await startClickHouse();
  const client = createClient({
    url: clickhouse.endpoint,
    username: clickhouse.user,
    password: clickhouse.password,
  });
  // Baseline: the same bytes inserted by chDB in this process, no HTTP and no JSON encoding in JS.
  const dir = mkdtempSync(join(tmpdir(), 'flowline-bench-chdb-'));
  const session = embeddedEngineSession(dir);
  const objects: number[] = [];
  const bytes: number[] = [];
  const inProcess: number[] = [];
  try {
    // Interleaved, so background load affects the front and the baseline alike.
    for (let i = 0; i < repeats; i++) {
      await client.command({ query: `CREATE TABLE objects_${i} ${TABLE_COLUMNS}` });
      await client.command({ query: `CREATE TABLE bytes_${i} ${TABLE_COLUMNS}` });
      await session.queryAsync(`CREATE TABLE direct_${i} ${TABLE_COLUMNS}`);
      inProcess.push(
        await time(() => session.insert({ table: `direct_${i}`, values: body, format: 'JSONEachRow' })),
      );
      bytes.push(
        await time(async () => {
          const result = await client.exec({
            query: `INSERT INTO bytes_${i} FORMAT JSONEachRow`,
            values: Readable.from([body]),
          });
          result.stream.resume();
          await new Promise((resolve) => result.stream.once('end', resolve));
        }),
      );
      objects.push(
        await time(() => client.insert({ table: `objects_${i}`, values: rows, format: 'JSONEachRow' })),
      );
    }
    const count = await client.query({
      query: `SELECT count() AS n FROM bytes_${repeats - 1}`,
      format: 'JSONEachRow',
    });
    const [{ n } = { n: 0 }] = await count.json<{ n: number | string }>();
    if (Number(n) !== ROWS)
      throw new Error(`engines bench: expected ${ROWS} rows through the front, found ${n}`);
  } finally {
    await client.close();
    await clickhouse.stop();
    session.close();
    await drainPending();
    rmSync(dir, { recursive: true, force: true });
  }

  const rate = (ms: number[]) => ROWS / (median(ms) / 1000);
  const baseline = rate(inProcess);
  const counters = { rows: ROWS, bodyBytes: body.length };
  return [
    {
      group: 'engines',
      name: 'ClickHouse HTTP front: 100k-row JSONEachRow body (client.exec)',
      value: rate(bytes),
      unit: 'rows/s',
      baselineName: 'chDB in-process insert, same bytes',
      baseline,
      better: 'higher',
      counters,
      notes: `median of ${repeats}; ${(body.length / 1e6).toFixed(1)} MB body`,
    },
    {
      group: 'engines',
      name: 'ClickHouse HTTP front: 100k row objects (client.insert, JSON encoding in JS)',
      value: rate(objects),
      unit: 'rows/s',
      baselineName: 'chDB in-process insert, same bytes',
      baseline,
      better: 'higher',
      counters,
      notes: `median of ${repeats}; what the exporter does`,
    },
  ];
}

export const enginesBench: BenchModule = {
  async run({ quick }) {
    const repeats = quick ? 1 : 5;
    return [...(await startupRows(quick ? 1 : 2)), ...(await insertRows(repeats))];
  },
};
