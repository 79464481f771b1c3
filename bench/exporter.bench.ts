// Exporter benchmarks on the local stack (ClickHouse via chDB behind its HTTP interface, DynamoDB Local and
// its table stream):
//  - rows/s of the ClickHouse sink at the exporter's batch size (schema with Theia's three views, and the
//    flows table alone), vs one insert per row (Antrea's Exec-per-row pattern) in the same run, next to
//    the engine alone (chDB in this process, no HTTP, no client) as the reference that bounds them;
//  - one stream batch through the exporter: the items' NEW_IMAGE decoded to rows, its intent, the insert;
//    rows/s, ms and DynamoDB units per row; and 4 exporters at once (4 stream shards, a batch each) against one;
//  - the export schedule over simulated time (correlator every window, ticker every commit interval): rows
//    per live flow per activeFlowRecordTimeout, read from the table's stream.
// The counters the cost model reads (cost/model.ts MeasuredInputs) are on the rows that measure them.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { type ClickHouseExecutor, createClickHouseClient, executorFor } from '../clickhouse/client.ts';
import { FLOWLINE_INSERT_COLUMNS, FLOWS_TABLE } from '../clickhouse/columns.ts';
import {
  applyMigrations,
  DEFAULT_TTL,
  loadMigrations,
  parseRetention,
  renderMigration,
  splitStatements,
} from '../clickhouse/migrations.ts';
import { forEachLimited } from '../core/concurrency.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../core/flow-record.ts';
import { DEFAULT_LAZY_INDEX } from '../core/flow-state/advance.ts';
import type { FlowStore } from '../core/flow-state/ports.ts';
import type { ScheduleConfig } from '../core/flow-state/state.ts';
import { encodeWireBatch } from '../core/wire.ts';
import { correlatorSettingsOf } from '../functions/correlator/config.ts';
import { correlateBatch } from '../functions/correlator/correlate-batch.ts';
import {
  ClickHouseRowSink,
  DEFAULT_INSERT_GZIP_LEVEL,
  encodeInsertBody,
  gzipInsertBody,
  INSERT_STATEMENT,
  insertSettings,
  type RejectedRow,
} from '../functions/exporter/clickhouse-sink.ts';
import { compressionFor } from '../functions/exporter/clickhouse-target.ts';
import { type ChangeRecord, StreamExporter } from '../functions/exporter/export-batch.ts';
import { DynamoIntentStore } from '../functions/exporter/intent-store.ts';
import { buildFlowRow, type FlowRow, rowValues } from '../functions/exporter/rows.ts';
import { changeRecordsOf } from '../functions/exporter/stream-event.ts';
import { DynamoExportQueue } from '../functions/flow-store/export-queue.ts';
import { createTableInput, DynamoFlowStore, defaultScheduleConfig } from '../functions/flow-store/index.ts';
import { Ticker } from '../functions/ticker/ticker.ts';
import { DEFAULT_CONFIG, EXPORTER_BATCH_SIZE } from '../lib/config.ts';
import {
  embeddedEngineSession,
  insertBinaryThroughFile,
  loadNativeBinding,
} from '../local/engines/clickhouse-http-server.ts';
import { startLocalEngines } from '../local/engines/index.ts';
import { TableStream } from '../local/esm/table-stream.ts';
import { CLUSTER_UUID, workloadFlows } from '../workloads/exported-flows.ts';
import { meterCapacity } from './dynamodb.ts';
import { median, medianBy } from './stats.ts';
import type { BenchModule, BenchRow } from './types.ts';

const VIEW_TABLES = ['pod_view_table', 'node_view_table', 'policy_view_table'];

function distinctRows(count: number): FlowRow[] {
  return workloadFlows(count, 7, 1_750_000_000).map((flow, i) =>
    buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 1_750_000_000_000 + i }),
  );
}

/**
 * The exporter's own work before a request leaves, per batch: RowBinary encoding (into a reused buffer, as
 * the sink does), then gzip as the sink does it; the median of several passes over a warm encoder.
 */
function clientSideWork(rows: readonly FlowRow[]): {
  encodeMs: number;
  gzipMs: number;
  rawBytes: number;
  gzipBytes: number;
} {
  let reuse = encodeInsertBody(rows); // warms the encoder and sizes the buffer
  const encodeMs: number[] = [];
  const gzipMs: number[] = [];
  let gzipBytes = 0;
  for (let pass = 0; pass < 5; pass++) {
    const started = performance.now();
    const body = encodeInsertBody(rows, reuse);
    const encoded = performance.now();
    gzipBytes = gzipInsertBody(body).length;
    gzipMs.push(performance.now() - encoded);
    encodeMs.push(encoded - started);
    reuse = body;
  }
  return { encodeMs: median(encodeMs), gzipMs: median(gzipMs), rawBytes: reuse.length, gzipBytes };
}

async function createDatabase(url: string, username: string, password: string, database: string) {
  const admin = createClickHouseClient({ url, username, password, database: 'default' });
  await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await admin.close();
  return createClickHouseClient({ url, username, password, database });
}

/** Compressed bytes on disk of the active parts of `tables`, and the rows of `flows`. */
async function storedBytes(executor: ClickHouseExecutor, tables: readonly string[]) {
  const [parts] = await executor.queryRows<{ bytes: string; flowRows: string }>(
    `SELECT sum(data_compressed_bytes) AS bytes, sumIf(rows, table = 'flows') AS flowRows
       FROM system.parts
      WHERE database = currentDatabase() AND active AND table IN ({tables:Array(String)})`,
    { tables },
  );
  return { bytes: Number(parts?.bytes ?? 0), flowRows: Number(parts?.flowRows ?? 0) };
}

/** The previous insert path, kept as the baseline: @clickhouse/client's insert() in JSONCompactEachRow. */
class JsonRowSink {
  constructor(private readonly client: ClickHouseClient) {}
  async insert(rows: readonly FlowRow[], dedupToken: string): Promise<RejectedRow[]> {
    await this.client.insert({
      table: FLOWS_TABLE,
      values: rows.map(rowValues),
      format: 'JSONCompactEachRow',
      columns: [...FLOWLINE_INSERT_COLUMNS],
      clickhouse_settings: insertSettings(dedupToken),
    });
    return [];
  }
}

/** A /proc/<pid>/stat line's fields after the command name: [0] state, [2] process group, [11] utime, [12] stime. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** User + system CPU time of a stat line's process (all threads), microseconds; USER_HZ is 100 on Linux. */
function cpuMicrosOf(fields: readonly string[]): number {
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

/** CPU time (user + system, all threads) of another process so far, microseconds; Linux /proc. */
function processCpuMicros(pid: number): number {
  return cpuMicrosOf(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8')));
}

/**
 * CPU time so far of every process in the given process groups (each local engine runs as a group of its
 * own), ms; Linux /proc. Other work on the machine is not counted.
 */
function groupsCpuMs(groups: ReadonlySet<number>): number {
  let micros = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fields: string[];
    try {
      fields = statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'));
    } catch {
      continue; // exited meanwhile
    }
    if (groups.has(Number(fields[2]))) micros += cpuMicrosOf(fields);
  }
  return micros / 1000;
}

interface SinkMeasurement {
  /** With CLICKHOUSE_COMPRESSION's default for the local URL, as local mode runs the exporter. */
  local: RoundFigures;
  localGzip: number | false;
  /** gzip level 1, the setting ClickHouse Cloud gets. */
  cloudSetting?: RoundFigures;
  /** The previous insert path (JSONCompactEachRow through insert(), gzip 1). */
  jsonRowsPerSecond?: number;
  perRowInsertsPerSecond?: number;
  compressedBytesPerRow?: { all: number; flowsOnly: number };
}

/** Exporter inserts: `concurrency` batches in flight at once, as on that many stream shards. */
async function timedRound(
  sink: Pick<ClickHouseRowSink, 'insert'>,
  batches: FlowRow[][],
  concurrency: number,
  label: string,
  serverPid: number,
): Promise<{ rowsPerSecond: number; clientMicrosPerRow: number; serverMicrosPerRow: number }> {
  const rows = batches.reduce((sum, batch) => sum + batch.length, 0);
  const cpuBefore = process.cpuUsage();
  const serverBefore = processCpuMicros(serverPid);
  const started = performance.now();
  await forEachLimited([...batches.keys()], concurrency, async (b) => {
    const rejected = await sink.insert(batches[b]!, `${label}-${b}-${Date.now()}`);
    if (rejected.length > 0) throw new Error(`${rejected.length} rows rejected: ${rejected[0]!.reason}`);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    rowsPerSecond: rows / seconds,
    clientMicrosPerRow: (cpu.user + cpu.system) / rows,
    serverMicrosPerRow: (processCpuMicros(serverPid) - serverBefore) / rows,
  };
}

type SinkFactory = (database: string) => { sink: Pick<ClickHouseRowSink, 'insert'>; close(): Promise<void> };

let benchDatabases = 0;

/** Timed rounds per measured configuration; the median is reported (this VM's speed swings). */
const TIMED_ROUNDS = 3;

/**
 * Rounds of exporter inserts into fresh, migrated databases: first an untimed round into a scratch database that is
 * dropped before the timed ones, so both processes are warm (connections, JIT) and no merges of the
 * warm-up parts run during a timed round; then `rounds` timed rounds, each into its own database (the
 * previous one dropped), and the median round by rows/s. Merges of a round's own parts run during and
 * after it, as they do between two commit intervals. The last database is kept for the caller to read.
 */
async function measureRound(
  connection: { url: string; username: string; password: string },
  views: boolean,
  batches: FlowRow[][],
  concurrency: number,
  serverPid: number,
  makeSink: SinkFactory,
  rounds = 1,
): Promise<{ database: string; round: Awaited<ReturnType<typeof timedRound>>; rounds: number[] }> {
  const { url, username, password } = connection;
  const migrations = loadMigrations().filter((m) => views || m.version === 1);
  const prepare = async (purpose: string) => {
    const database = `bench_${purpose}_${++benchDatabases}`;
    const admin = await createDatabase(url, username, password, database);
    await applyMigrations(executorFor(admin), { migrations });
    await admin.close();
    return database;
  };
  const drop = async (database: string) => {
    const dropper = createClickHouseClient({ url, username, password, database: 'default' });
    await dropper.command({ query: `DROP DATABASE ${database} SYNC` });
    await dropper.close();
  };
  let previous = await prepare('warm');
  const warm = makeSink(previous);
  await timedRound(warm.sink, batches, concurrency, 'warm', serverPid);
  await warm.close();
  const measured: Array<Awaited<ReturnType<typeof timedRound>>> = [];
  for (let r = 0; r < rounds; r++) {
    const database = await prepare(views ? 'views' : 'flows');
    await drop(previous);
    previous = database;
    const timed = makeSink(database);
    measured.push(await timedRound(timed.sink, batches, concurrency, `bench-${r}`, serverPid));
    await timed.close();
  }
  return {
    database: previous,
    round: medianBy(measured, (m) => m.rowsPerSecond)!,
    rounds: measured.map((m) => m.rowsPerSecond),
  };
}

/** How a round was measured: the median of its timed rounds, and all of them. */
interface RoundFigures {
  rowsPerSecond: number;
  /** CPU per row of the exporter process (encoding, compression, HTTP), microseconds. */
  clientMicrosPerRow: number;
  /** CPU per row of the local ClickHouse (HTTP front, decompression, engine, its merges), microseconds. */
  serverMicrosPerRow: number;
  rounds: number[];
}

async function measureSink(
  connection: { url: string; username: string; password: string },
  views: boolean,
  batches: FlowRow[][],
  concurrency: number,
  serverPid: number,
  baselines: { json: boolean; cloudSetting: boolean; perRowCount: number },
): Promise<SinkMeasurement> {
  const { url, username, password } = connection;
  // The exporter's sink with a gzip level, or false: uncompressed.
  const rowBinary =
    (gzipLevel: number | false): SinkFactory =>
    (database) => {
      const client = createClickHouseClient({ url, username, password, database });
      return { sink: new ClickHouseRowSink(client, { gzipLevel }), close: () => client.close() };
    };
  const figures = (measured: Awaited<ReturnType<typeof measureRound>>): RoundFigures => ({
    ...measured.round,
    rounds: measured.rounds,
  });
  // As local mode runs it: CLICKHOUSE_COMPRESSION's default (auto) for this URL.
  const localGzip = compressionFor(undefined, url) ? DEFAULT_INSERT_GZIP_LEVEL : false;
  const local = await measureRound(
    connection,
    views,
    batches,
    concurrency,
    serverPid,
    rowBinary(localGzip),
    TIMED_ROUNDS,
  );
  const measurement: SinkMeasurement = { local: figures(local), localGzip };
  const client = createClickHouseClient({ url, username, password, database: local.database });
  try {
    if (views) {
      const executor = executorFor(client);
      const all = await storedBytes(executor, [FLOWS_TABLE, ...VIEW_TABLES]);
      const flowsOnly = await storedBytes(executor, [FLOWS_TABLE]);
      measurement.compressedBytesPerRow = {
        all: all.bytes / all.flowRows,
        flowsOnly: flowsOnly.bytes / flowsOnly.flowRows,
      };
    }
    if (baselines.cloudSetting) {
      const cloud = await measureRound(
        connection,
        views,
        batches,
        concurrency,
        serverPid,
        rowBinary(DEFAULT_INSERT_GZIP_LEVEL),
        TIMED_ROUNDS,
      );
      measurement.cloudSetting = figures(cloud);
    }
    if (baselines.json) {
      const json: SinkFactory = (jsonDatabase) => {
        const jsonClient = createClient({
          url,
          username,
          password,
          database: jsonDatabase,
          compression: { request: { codec: 'gzip', level: DEFAULT_INSERT_GZIP_LEVEL }, response: true },
        });
        return { sink: new JsonRowSink(jsonClient), close: () => jsonClient.close() };
      };
      const jsonRound = await measureRound(connection, views, batches, concurrency, serverPid, json);
      measurement.jsonRowsPerSecond = jsonRound.round.rowsPerSecond;
    }
    if (baselines.perRowCount > 0) {
      const sink = new ClickHouseRowSink(client);
      const rows = batches[0]!;
      const perRowStarted = performance.now();
      for (let i = 0; i < baselines.perRowCount; i++) await sink.insert([rows[i]!], `row-${i}-${Date.now()}`);
      measurement.perRowInsertsPerSecond =
        baselines.perRowCount / ((performance.now() - perRowStarted) / 1000);
    }
    return measurement;
  } finally {
    await client.close();
  }
}

/**
 * chDB in this process, no HTTP and no client: the same RowBinary payloads, settings, schema and
 * concurrency (one connection per insert in flight, as the front opens), engine only; with the views and
 * with the flows table alone (chDB binds one data folder per process: one folder, two databases).
 */
async function engineAlone(
  batches: FlowRow[][],
  concurrency: number,
): Promise<{
  withViews: number;
  withViewsCpuMicrosPerRow: number;
  flowsOnly: number;
  flowsOnlyCpuMicrosPerRow: number;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flowline-bench-chdb-'));
  const native = loadNativeBinding();
  const sessions = Array.from({ length: concurrency + 1 }, () => embeddedEngineSession(dataDir));
  const insertDir = join(dataDir, 'user_files', 'bench-inserts');
  mkdirSync(insertDir, { recursive: true });
  try {
    const payloads = batches.map((rows) => encodeInsertBody(rows));
    const retention = parseRetention(DEFAULT_TTL);
    const [admin, ...workers] = sessions;
    const migrate = async (database: string, views: boolean) => {
      await admin!.queryAsync(`CREATE DATABASE ${database}`);
      await admin!.queryAsync(`USE ${database}`);
      for (const migration of loadMigrations().filter((m) => views || m.version === 1)) {
        for (const statement of splitStatements(renderMigration(migration.sql, retention))) {
          await admin!.queryAsync(statement);
        }
      }
    };
    let nextWorker = 0;
    const round = (database: string, label: string) =>
      forEachLimited([...payloads.keys()], concurrency, async (b) => {
        const session = workers[nextWorker++ % workers.length]!;
        const settings = Object.entries(insertSettings(`${label}-${b}`))
          .map(([name, value]) => `${name} = ${typeof value === 'string' ? `'${value}'` : value}`)
          .join(', ');
        await insertBinaryThroughFile(native, session.connection, insertDir, {
          insertSql: INSERT_STATEMENT.replace(
            `INSERT INTO ${FLOWS_TABLE}`,
            `INSERT INTO ${database}.${FLOWS_TABLE}`,
          ).replace(' FORMAT ', ` SETTINGS ${settings} FORMAT `),
          data: payloads[b]!,
        });
      });
    // As measureRound: warm up in a scratch database, drop it, then time one round into a fresh one.
    // CPU of this process: chDB's threads (the encoding is done before).
    const measure = async (views: boolean): Promise<{ rowsPerSecond: number; cpuMicrosPerRow: number }> => {
      const database = views ? 'bench_views' : 'bench_flows';
      await migrate(`${database}_warm`, views);
      await round(`${database}_warm`, 'warm');
      await admin!.queryAsync(`DROP DATABASE ${database}_warm SYNC`);
      await migrate(database, views);
      const rows = batches.reduce((sum, batch) => sum + batch.length, 0);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await round(database, 'engine');
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      return { rowsPerSecond: rows / seconds, cpuMicrosPerRow: (cpu.user + cpu.system) / rows };
    };
    const withViews = await measure(true);
    const flowsOnly = await measure(false);
    return {
      withViews: withViews.rowsPerSecond,
      withViewsCpuMicrosPerRow: withViews.cpuMicrosPerRow,
      flowsOnly: flowsOnly.rowsPerSecond,
      flowsOnlyCpuMicrosPerRow: flowsOnly.cpuMicrosPerRow,
    };
  } finally {
    for (const session of sessions) session.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function sinkBench(quick: boolean): Promise<BenchRow[]> {
  // Exporter batches at the deployed settings: stream batches of EXPORTER_BATCH_SIZE rows, four in flight
  // (four stream shards' exporters at once).
  const batchSize = EXPORTER_BATCH_SIZE;
  const batchCount = quick ? 4 : 16;
  const concurrency = 4;
  const all = distinctRows(batchSize * batchCount);
  const batches = Array.from({ length: batchCount }, (_, b) => all.slice(b * batchSize, (b + 1) * batchSize));
  const client = clientSideWork(batches[0]!);
  const engines = await startLocalEngines({ dynamodb: false, kinesis: false });
  let withViews: SinkMeasurement;
  let flowsOnly: SinkMeasurement;
  try {
    const { user, password } = engines.clickhouse!;
    const url = engines.endpoints.clickhouse!;
    const serverPid = engines.clickhouse!.pid;
    const connection = { url, username: user, password };
    withViews = await measureSink(connection, true, batches, concurrency, serverPid, {
      json: true,
      cloudSetting: true,
      perRowCount: quick ? 10 : 20,
    });
    flowsOnly = await measureSink(connection, false, batches, concurrency, serverPid, {
      json: false,
      cloudSetting: false,
      perRowCount: 0,
    });
  } finally {
    await engines.stop();
  }
  const engine = await engineAlone(batches, concurrency);
  const encodeUsPerRow = (client.encodeMs * 1000) / batchSize;
  const gzipUsPerRow = (client.gzipMs * 1000) / batchSize;
  const bytes = withViews.compressedBytesPerRow!;
  const round = `${batchCount} x ${batchSize.toLocaleString('en-US')} rows, ${concurrency} in flight`;
  const local = withViews.local;
  const cloud = withViews.cloudSetting!;
  const compression = (gzip: number | false) => (gzip === false ? 'uncompressed' : `gzip ${gzip}`);
  const cpu = (figures: RoundFigures) =>
    `CPU per row: exporter ${figures.clientMicrosPerRow.toFixed(1)} us, local ClickHouse ${figures.serverMicrosPerRow.toFixed(1)} us ` +
    `(front, engine, merges), ${Math.round(1e6 / (figures.clientMicrosPerRow + figures.serverMicrosPerRow))} rows per CPU-second of both`;
  const timed = (figures: RoundFigures) =>
    `median of ${figures.rounds.length} timed rounds (${figures.rounds.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')} rows/s)`;
  return [
    {
      group: 'exporter',
      name: `ClickHouse insert, ${batchCount} exporter batches of ${batchSize.toLocaleString('en-US')} rows (${round}), flows + 3 views, as local mode runs it (RowBinaryWithNamesAndTypes, ${compression(withViews.localGzip)}: CLICKHOUSE_COMPRESSION=auto on loopback)`,
      value: local.rowsPerSecond,
      unit: 'rows/s',
      baselineName: 'JSONCompactEachRow via insert(), gzip 1 (previous path)',
      baseline: withViews.jsonRowsPerSecond,
      target: 100_000,
      better: 'higher',
      counters: {
        batchSize,
        batches: batchCount,
        insertConcurrency: concurrency,
        clickhouseCompressedBytesPerRow: bytes.all,
        clickhouseCompressedBytesPerRowFlowsTable: bytes.flowsOnly,
        encodeMicrosecondsPerRow: encodeUsPerRow,
        gzipMicrosecondsPerRow: gzipUsPerRow,
        requestBytesPerRow: client.rawBytes / batchSize,
        gzipRequestBytesPerRow: client.gzipBytes / batchSize,
        exporterCpuMicrosecondsPerRow: local.clientMicrosPerRow,
        clickhouseCpuMicrosecondsPerRow: local.serverMicrosPerRow,
        rowsPerCpuSecond: 1e6 / (local.clientMicrosPerRow + local.serverMicrosPerRow),
        perRowInsertsPerSecond: withViews.perRowInsertsPerSecond ?? 0,
      },
      notes:
        `${timed(local)}; ${cpu(local)}; ` +
        `the engine alone (no HTTP, no client) inserts ${Math.round(engine.withViews)} rows/s with the views at ${engine.withViewsCpuMicrosPerRow.toFixed(1)} us CPU per row; ` +
        `RowBinary encoding ${encodeUsPerRow.toFixed(1)} us/row, ${Math.round(client.rawBytes / batchSize)} B/row; ` +
        `one insert per row (Antrea's pattern): ${withViews.perRowInsertsPerSecond?.toFixed(1)} rows/s; ` +
        `stored ${bytes.all.toFixed(0)} B/row compressed incl. the view tables (${bytes.flowsOnly.toFixed(0)} B in flows)`,
    },
    {
      group: 'exporter',
      name: `ClickHouse insert, ${batchCount} exporter batches of ${batchSize.toLocaleString('en-US')} rows (${round}), flows + 3 views, gzip ${DEFAULT_INSERT_GZIP_LEVEL} (CLICKHOUSE_COMPRESSION=auto for ClickHouse Cloud)`,
      value: cloud.rowsPerSecond,
      unit: 'rows/s',
      baselineName: `${compression(withViews.localGzip)} (local mode)`,
      baseline: local.rowsPerSecond,
      better: 'higher',
      counters: { gzipExporterCpuMicrosecondsPerRow: cloud.clientMicrosPerRow },
      notes:
        `${timed(cloud)}; ${cpu(cloud)}; gzip ${gzipUsPerRow.toFixed(1)} us/row takes ` +
        `${Math.round(client.rawBytes / batchSize)} B to ${Math.round(client.gzipBytes / batchSize)} B per row: ` +
        'what pays over the internet costs CPU on both ends of a loopback',
    },
    {
      group: 'exporter',
      name: `ClickHouse insert, ${batchCount} exporter batches of ${batchSize.toLocaleString('en-US')} rows (${round}), flows table alone (no views), as local mode runs it`,
      value: flowsOnly.local.rowsPerSecond,
      unit: 'rows/s',
      target: 100_000,
      better: 'higher',
      notes: `${timed(flowsOnly.local)}; ${cpu(flowsOnly.local)}; chDB alone inserts ${Math.round(engine.flowsOnly)} rows/s without the views`,
    },
    {
      group: 'exporter',
      name: `reference: chDB engine alone (in-process, same RowBinary payloads, settings and concurrency), flows + 3 views`,
      value: engine.withViews,
      unit: 'rows/s',
      baselineName: 'flows table alone',
      baseline: engine.flowsOnly,
      better: 'higher',
      counters: { engineCpuMicrosecondsPerRow: engine.withViewsCpuMicrosPerRow },
      notes: `the ceiling of the local ClickHouse on this machine (${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(1)} at the end), ${engine.withViewsCpuMicrosPerRow.toFixed(1)} us CPU per row (${engine.flowsOnlyCpuMicrosPerRow.toFixed(1)} without the views); the views cost ${Math.round((1 - engine.withViews / engine.flowsOnly) * 100)}% of its rate`,
    },
  ];
}

interface PairOptions {
  count: number;
  receivedAtMs: number;
  /** Flow end time, seconds; counters grow with it. */
  endSeconds: number;
  tick?: number;
}

/** Both Nodes' records of `count` inter-Node connections (the correlator pairs them). */
function pairs({ count, receivedAtMs, endSeconds, tick = 0 }: PairOptions): FlowRecord[] {
  const records: FlowRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base: FlowRecord = {
      ...emptyFlowRecord(),
      sourceIP: `10.7.${i >> 8}.${i & 255}`,
      destinationIP: `10.8.${i >> 8}.${i & 255}`,
      sourceTransportPort: 40000 + (i % 20000),
      destinationTransportPort: 443,
      protocolIdentifier: 6,
      flowStartSeconds: endSeconds - 10 - tick * 5,
      flowEndSeconds: endSeconds,
      flowEndReason: 2,
      flowType: FlowType.InterNode,
      packetTotalCount: 10 * (tick + 1),
      packetDeltaCount: 10,
      octetTotalCount: 1000 * (tick + 1),
      octetDeltaCount: 1000,
      sourcePodName: `client-${i}`,
      sourcePodNamespace: 'shop',
      destinationPodName: `server-${i}`,
      destinationPodNamespace: 'shop',
      exportTime: endSeconds,
      sequenceNumber: tick + 1,
      receivedAtMs,
    };
    records.push({ ...base, destinationPodName: '', exporterAddress: '192.168.0.1' });
    records.push({ ...base, sourcePodName: '', exporterAddress: '192.168.0.2' });
  }
  return records;
}

async function correlate(store: FlowStore, records: FlowRecord[], nowMs: number, schedule: ScheduleConfig) {
  const settings = correlatorSettingsOf(schedule, { writeConcurrency: 32, maxWriteAttempts: 20 });
  for (let i = 0; i < records.length; i += 1000) {
    const data = encodeWireBatch(records.slice(i, i + 1000)).toString('base64');
    const outcome = await correlateBatch(
      [{ kinesis: { data, sequenceNumber: `${nowMs}-${i}` } }],
      { store, now: () => nowMs },
      settings,
    );
    if (outcome.batchItemFailures.length > 0) throw new Error('exporter bench: correlator failures');
  }
}

/** The table's whole stream, as change records (every batch read to the end). */
async function changeRecords(stream: TableStream): Promise<ChangeRecord[]> {
  const records: ChangeRecord[] = [];
  for (let event = await stream.next(); event; event = await stream.next()) {
    records.push(...changeRecordsOf(event));
    stream.ack();
  }
  return records;
}

interface ScaleOutFigures {
  rowsPerSecond: number;
  /** The exporters' own CPU (this process) per row, ms. */
  cpuMsPerRow: number;
  /** CPU per row of the exporters and the local engines (DynamoDB Local, ClickHouse) together, ms. */
  pipelineMsPerRow: number;
  /** Cores the exporters and the engines kept busy on average while they ran. */
  busyCores: number;
}

/**
 * `count` exporters started together, each over its own shard's `batchesEach` batches in turn (records
 * dealt round-robin, so every batch is a full one of the same size).
 */
async function scaleOut(
  records: readonly ChangeRecord[],
  count: number,
  batchesEach: number,
  exporter: () => StreamExporter,
  enginesCpuMs: () => number,
): Promise<ScaleOutFigures> {
  const batches = count * batchesEach;
  const shards = Array.from({ length: count }, (_, shard) =>
    Array.from({ length: batchesEach }, (_, b) =>
      records.filter((_, i) => i % batches === shard * batchesEach + b),
    ),
  );
  const cpu = process.cpuUsage();
  const engines = enginesCpuMs();
  const started = performance.now();
  const reports = await Promise.all(
    shards.map(async (shardBatches) => {
      const shardExporter = exporter();
      const done = [];
      for (const batch of shardBatches) done.push(await shardExporter.exportBatch(batch));
      return done;
    }),
  );
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const pipelineMs = enginesCpuMs() - engines + (user + system) / 1000;
  const inserted = reports.flat().reduce((n, r) => n + r.rowsInserted, 0);
  if (inserted !== records.length) throw new Error(`scale-out: ${inserted} rows of ${records.length}`);
  return {
    rowsPerSecond: inserted / (ms / 1000),
    cpuMsPerRow: (user + system) / 1000 / inserted,
    pipelineMsPerRow: pipelineMs / inserted,
    busyCores: pipelineMs / ms,
  };
}

/**
 * The scale-out row. On this machine the local engines share the exporters' cores, so rows/s of 4 cannot
 * pass (cores / cores one exporter keeps busy) times one's: the notes give that ceiling from the same run.
 */
function scaleOutRow(
  one: ScaleOutFigures,
  four: ScaleOutFigures,
  rowsPerBatch: number,
  batchesEach: number,
): BenchRow {
  const cores = os.availableParallelism();
  const ceiling = cores / one.busyCores;
  return {
    group: 'exporter',
    name: `exporter scale-out: rows/s of 4 exporters at once, each over ${batchesEach} stream-shard batches of ${rowsPerBatch} rows in turn (DynamoDB Local + ClickHouse)`,
    value: four.rowsPerSecond,
    unit: 'rows/s',
    baselineName: `one exporter, ${batchesEach} x ${rowsPerBatch} rows`,
    baseline: one.rowsPerSecond,
    target: 3 * one.rowsPerSecond,
    better: 'higher',
    counters: {
      exporterCpuMsPerRowOne: one.cpuMsPerRow,
      exporterCpuMsPerRowFour: four.cpuMsPerRow,
      pipelineCpuMsPerRowOne: one.pipelineMsPerRow,
      pipelineCpuMsPerRowFour: four.pipelineMsPerRow,
      busyCoresOne: one.busyCores,
      busyCoresFour: four.busyCores,
      ceilingRatioOnThisMachine: ceiling,
    },
    notes:
      `one exporter keeps ${one.busyCores.toFixed(2)} of this machine's ${cores} cores busy (the local ClickHouse's inserts most of it), ` +
      `so 4 can reach at most ${ceiling.toFixed(2)}x here; they reach ${((four.rowsPerSecond / one.rowsPerSecond / ceiling) * 100).toFixed(0)} % of that ` +
      `(${four.busyCores.toFixed(2)} cores busy). CPU per row of the exporters and engines together: ${one.pipelineMsPerRow.toFixed(3)} ms alone, ${four.pipelineMsPerRow.toFixed(3)} ms four at once; ` +
      `the exporters' own: ${one.cpuMsPerRow.toFixed(3)} and ${four.cpuMsPerRow.toFixed(3)} ms (an intent per batch, no shared write). ` +
      `Each Lambda has its own vCPU and ClickHouse Cloud its own servers; every row inserted once; load ${os.loadavg()[0]!.toFixed(1)}; target: 3x one (issue 15)`,
  };
}

async function streamBench(quick: boolean): Promise<BenchRow[]> {
  const engines = await startLocalEngines({ kinesis: false });
  const streams: TableStream[] = [];
  try {
    Object.assign(process.env, engines.env());
    const dynamodb = createDynamoDbClient();
    const meter = meterCapacity(dynamodb);
    const schedule = defaultScheduleConfig();
    const url = engines.endpoints.clickhouse!;
    const { user, password } = engines.clickhouse!;
    const t0 = 1_800_000_000_000;
    /** A table whose stream holds `count` new correlated flows' first rows, a database, an exporter. */
    const closedFlows = async (name: string, count: number) => {
      const table = `flows-bench-${name}-${process.pid}`;
      await dynamodb.send(new CreateTableCommand(createTableInput(table)));
      const store = new DynamoFlowStore(dynamodb, table, schedule);
      const client = await createDatabase(url, user, password, `bench_${name}`);
      await applyMigrations(executorFor(client));
      await correlate(store, pairs({ count, receivedAtMs: t0, endSeconds: 1_799_999_990 }), t0, schedule);
      const stream = new TableStream(dynamodb, table);
      streams.push(stream);
      const records = await changeRecords(stream);
      const exporter = () =>
        new StreamExporter(new DynamoIntentStore(dynamodb, table, () => t0), new ClickHouseRowSink(client), {
          clusterUUID: CLUSTER_UUID,
        });
      return { table, store, client, records, exporter };
    };
    // A warm-up batch on its own table first: an exporter container runs batch after batch, so the measured
    // one is a warm process's (JIT, connections), as there.
    const warm = await closedFlows('export_warm', 200);
    await warm.exporter().exportBatch(warm.records);
    await warm.client.close();

    // One stream batch of many rows, as the mapping delivers it: one intent read and write, one insert.
    const flows = quick ? 500 : 1000;
    const { client, records, exporter } = await closedFlows('export', flows);
    const batchExporter = exporter();
    meter.reset();
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const report = await batchExporter.exportBatch(records);
    const batchMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMsPerRow = (cpu.user + cpu.system) / 1000 / flows;
    const [visible] = await executorFor(client).queryRows<{ c: string }>('SELECT count() AS c FROM flows');
    if (report.rowsInserted !== flows || Number(visible!.c) !== flows)
      throw new Error(
        `exporter batch failed: ${JSON.stringify({ ...report, rejected: report.rejected.length })}`,
      );
    const intentReadUnits = meter.read;
    const intentWriteUnits = meter.write;

    // Live flows over simulated time: both Nodes report every 5 s (Antrea agent activeFlowExportTimeout),
    // the correlator every 20 s window, the ticker every commit interval; then silence until every flow is
    // closed. Rows per flow per activeFlowRecordTimeout from the stream, and the ticker's units per row.
    const liveTable = `flows-bench-schedule-${process.pid}`;
    await dynamodb.send(new CreateTableCommand(createTableInput(liveTable)));
    const liveStore = new DynamoFlowStore(dynamodb, liveTable, schedule);
    const liveFlows = 20;
    const intervals = 4;
    const commitMs = DEFAULT_CONFIG.commitIntervalSeconds * 1000;
    const windowMs = DEFAULT_CONFIG.correlatorBatchingWindowSeconds * 1000;
    const agentExportMs = 5000;
    const liveMs = intervals * schedule.activeTimeoutMs;
    let now = t0;
    const ticker = new Ticker(new DynamoExportQueue(dynamodb, liveTable, schedule), {
      schedule,
      maxFlowsPerRound: 10_000,
      writeConcurrency: 8,
      clock: () => now,
    });
    const pending: FlowRecord[] = [];
    let tick = 0;
    for (
      let at = t0 + commitMs;
      at <= t0 + liveMs + DEFAULT_LAZY_INDEX.slackMs + 3 * 60_000;
      at += commitMs
    ) {
      // Agents' records up to `at` while the flows live; the correlator on its window boundaries.
      for (; now + agentExportMs <= at && tick * agentExportMs < liveMs; tick++) {
        now = t0 + tick * agentExportMs;
        pending.push(
          ...pairs({ count: liveFlows, receivedAtMs: now, endSeconds: Math.floor(now / 1000), tick }),
        );
      }
      now = at;
      if (at % windowMs < commitMs && pending.length > 0)
        await correlate(liveStore, pending.splice(0), at, schedule);
      const round = await ticker.round();
      if (!round.ok) throw new Error(`ticker round failed: ${round.error}`);
    }
    const liveStream = new TableStream(dynamodb, liveTable);
    streams.push(liveStream);
    const liveRows = (await changeRecords(liveStream)).flatMap((r) => r.rows);
    const rowsPerFlowPerInterval =
      liveRows.filter((row) => row.exportedAtMs < t0 + liveMs).length / liveFlows / intervals;
    // The exporter's own units: its intent per batch. The ticker's (flows that fell idle) are measured per
    // live flow by the flow-state bench; its index queries cost per round, not per row (cost/at-rest-model).
    const exportUnitsPerRow = { read: intentReadUnits / flows, write: intentWriteUnits / flows };

    // N exporters at once, as Lambda runs one per stream shard, each on its shard's batches one after
    // another (a container's invocations), a shard's full batch each (the cluster's rows grow with its
    // shards): rows/s of 4 against 1, the exporters' own CPU per row, and theirs with the engines.
    const engineGroups = new Set([engines.dynamodb!.pid, engines.clickhouse!.pid]);
    const enginesCpuMs = () => groupsCpuMs(engineGroups);
    const scaleFlows = quick ? 400 : 1000;
    const batchesEach = quick ? 3 : 4;
    const scaled = new Map<number, ScaleOutFigures>();
    for (const count of [1, 4]) {
      const due = await closedFlows(`scale_${count}`, count * batchesEach * scaleFlows);
      scaled.set(count, await scaleOut(due.records, count, batchesEach, due.exporter, enginesCpuMs));
      await due.client.close();
    }
    await client.close();
    dynamodb.destroy();
    return [
      {
        group: 'exporter',
        name: `exporter batch on DynamoDB Local + ClickHouse (${flows} rows from the table stream, one insert)`,
        value: flows / (batchMs / 1000),
        unit: 'rows/s',
        counters: {
          flows,
          inserts: report.inserts,
          exporterMsPerRow: batchMs / flows,
          exporterCpuMsPerRow: cpuMsPerRow,
          exportReadUnitsPerRow: exportUnitsPerRow.read,
          exportWriteUnitsPerRow: exportUnitsPerRow.write,
          clickhouseMaxRowsPerInsert: EXPORTER_BATCH_SIZE,
        },
        notes:
          `intent read + intent write + insert, rows decoded from the items' NEW_IMAGE: ${(batchMs / flows).toFixed(3)} ms/row, ` +
          `of which ${cpuMsPerRow.toFixed(3)} ms CPU in the exporter; ${intentReadUnits} RRU + ${intentWriteUnits} WRU for the batch; ` +
          `${exportUnitsPerRow.read.toFixed(4)} RRU + ${exportUnitsPerRow.write.toFixed(4)} WRU per row at this batch size; ` +
          'wall time bound by DynamoDB Local and the local ClickHouse',
      },
      scaleOutRow(scaled.get(1)!, scaled.get(4)!, scaleFlows, batchesEach),
      {
        group: 'exporter',
        name: `export schedule: rows per live flow per activeFlowRecordTimeout (${liveFlows} flows, ${intervals} x ${schedule.activeTimeoutMs / 1000} s simulated)`,
        value: rowsPerFlowPerInterval,
        unit: 'rows',
        counters: { rowsPerFlowPerInterval },
        notes: `rows of the table stream closed while the flows lived; agents every ${agentExportMs / 1000} s, correlator every ${windowMs / 1000} s, ticker every ${commitMs / 1000} s; ${liveRows.length} rows in all (the last ones by the ticker after the flows fell idle); real correlator and ticker, DynamoDB Local`,
      },
    ];
  } finally {
    for (const stream of streams) stream.close();
    await engines.stop();
  }
}

export const exporterBench: BenchModule = {
  async run({ quick }) {
    return [...(await sinkBench(quick)), ...(await streamBench(quick))];
  },
};
