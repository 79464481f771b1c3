// `flowline local` (= `npm start`): the whole pipeline on this machine, in real time, with the deployed
// function bundles. Engines on loopback ports, stream and table (with its stream) from the synthesized
// template, the ClickHouse schema, the collector on 4739 (UDP + TCP), the correlator's event source mapping
// on the ingest stream, the tickers on their schedule, the exporter's mapping on the flow table's stream,
// and (unless --no-demo) simulated Antrea agents. One progress line every couple of seconds; Ctrl-C stops
// everything.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { createClient } from '@clickhouse/client';
import {
  createDynamoDbClient,
  createDynamoDbStreamsClient,
  createKinesisClient,
} from '../../adapters/aws-clients.ts';
import { type LocalEndpoints, publishLocalEndpoints } from '../../cli/local-endpoints.ts';
import type { ListenSpec } from '../../collector-edge/config.ts';
import type { FlowLayoutKind } from '../../lib/config.ts';
import { exportSimulation, type SimClock } from '../../simulator/exporter.ts';
import { ClusterSimulation } from '../../simulator/model.ts';
import { type LocalEngines, PortInUseError, startLocalEngines } from '../engines/index.ts';
import { FileCheckpointStore, MemoryCheckpointStore } from '../esm/checkpoint-store.ts';
import { systemClock } from '../esm/clock.ts';
import { JsonLinesFailureDestination } from '../esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../esm/invoker.ts';
import {
  CorrelatorCounters,
  correlatorMapping,
  countingCorrelator,
  exporterMapping,
  type LocalKubernetesOptions,
  startLocalCollector,
  watchingExporter,
} from './components.ts';
import { bundleLiveFunctions, loadLiveHandlers } from './functions.ts';
import { prepareLocalStack } from './prepare.ts';
import { type StartupProgress, startupProgress } from './progress.ts';
import { type LocalSinkOptions, startLocalSinks } from './sinks.ts';
import {
  collectorFlowBucketsOf,
  type FunctionDefinition,
  type LocalTopology,
  loadStackTemplate,
  readLocalTopology,
} from './template.ts';

export interface LiveOptions {
  /** Keep engine data, checkpoints, spool and the cluster UUID here across restarts; default: in memory. */
  dataDir?: string;
  /** Collector port (UDP and TCP). */
  port: number;
  /** Address the collector binds (127.0.0.1; 0.0.0.0 to receive from agents on other machines). */
  listenHost: string;
  clickhousePort?: number;
  demo: boolean;
  demoNodes: number;
  demoConnections: number;
  progressIntervalMs: number;
  /** Keep the functions' own log level (INFO) instead of errors only. */
  verbose: boolean;
  kubernetes?: LocalKubernetesOptions;
  /** Extra sinks of the exporter (IPFIX/JSON export, S3 archive), off unless set. */
  sinks?: LocalSinkOptions;
  /** Ticker functions (the CDK app's context tickerCount), each on its own due shards; default 1. */
  tickers?: number;
  /** The correlator's batching window (context correlatorBatchingWindowSeconds); default: the stack's. */
  correlatorWindowSeconds?: number;
  /** The flow table's layout (context flowLayout); default: the stack's. */
  flowLayout?: FlowLayoutKind;
}

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

interface Progress {
  recordsIn: number;
  decodeErrors: number;
  kinesisRecords: number;
  correlated: number;
  flows: number;
  rows: number;
  lagMs: number;
  errors: number;
}

function clusterUUIDFor(dataDir: string | undefined): string {
  if (!dataDir) return randomUUID();
  const file = join(dataDir, 'cluster-uuid');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const uuid = randomUUID();
    writeFileSync(file, `${uuid}\n`);
    return uuid;
  }
}

/** The CDK context local mode synthesizes with: the app's defaults unless told otherwise. */
function stackContext(options: LiveOptions): Record<string, unknown> {
  return {
    ...(options.tickers && options.tickers > 1 ? { tickerCount: options.tickers } : {}),
    ...(options.correlatorWindowSeconds === undefined
      ? {}
      : { correlatorBatchingWindowSeconds: options.correlatorWindowSeconds }),
    ...(options.flowLayout === undefined ? {} : { flowLayout: options.flowLayout }),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

class AbortedError extends Error {}

/** Real-time pacing that stops at once when local mode shuts down. */
function abortablePace(signal: AbortSignal): SimClock {
  return {
    sleep: (ms) =>
      new Promise((resolvePromise, reject) => {
        if (signal.aborted) return reject(new AbortedError());
        const onAbort = () => {
          clearTimeout(timer);
          reject(new AbortedError());
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolvePromise();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
  };
}

export async function runLocal(
  options: LiveOptions,
  io: Output,
  progress: StartupProgress = startupProgress(io.err),
): Promise<number> {
  const started = performance.now() - progress.elapsedMs();
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  const workDir = dataDir ?? mkdtempSync(join(tmpdir(), 'flowline-local-'));
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const step = progress.step;

  step(
    dataDir ? `data folder ${dataDir}` : 'state in memory (use --data-dir DIR to keep it across restarts)',
  );
  const templatePromise = progress
    .track('stack template (CDK synth)', loadStackTemplate({ context: stackContext(options) }))
    .then((template) => {
      step('stack template synthesized (stream, table, mapping and functions come from it)');
      return template;
    });
  const enginesPromise = startEngines(options, dataDir, progress).then((engines) => {
    step(
      `engines up: ${Object.entries(engines.startupMs)
        .map(([name, ms]) => `${name} ${seconds(ms)}`)
        .join(', ')}`,
    );
    return engines;
  });
  // The functions are bundled while the engines start: esbuild needs only the template's entries.
  const bundlesPromise = templatePromise.then((t) => bundleLiveFunctions(readLocalTopology(t)));
  bundlesPromise.catch(() => {}); // awaited below; a failure is reported there
  const [template, engines] = await Promise.all([templatePromise, enginesPromise]);
  const env = engines.env();
  Object.assign(process.env, env);

  const topology = readLocalTopology(template);
  const kinesis = createKinesisClient();
  const dynamodb = createDynamoDbClient();
  const clickhouseConnection = {
    url: env.CLICKHOUSE_URL as string,
    username: env.CLICKHOUSE_USER as string,
    password: env.CLICKHOUSE_PASSWORD as string,
    database: 'default',
  };
  const prepared = await progress.track(
    'stream, table and ClickHouse schema',
    prepareLocalStack({
      topology,
      kinesis,
      dynamodb,
      clickhouse: clickhouseConnection,
      clusterUUID: clusterUUIDFor(dataDir),
      enableTtl: true,
    }),
  );
  // The functions log errors only and publish no EMF metrics here: the progress line replaces both.
  if (!options.verbose) process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  step(
    `stream ${topology.stream.name} (${topology.stream.streamMode}), table ${topology.table.name}, ` +
      `ClickHouse schema (${prepared.migrations.applied.length} migrations applied, ${prepared.migrations.alreadyApplied.length} already there)`,
  );
  const sinks = await startLocalSinks(options.sinks ?? {}, workDir);
  Object.assign(process.env, sinks.env);
  const handlers = await progress.track(
    'function bundles (esbuild)',
    bundlesPromise.then((bundles) => loadLiveHandlers(bundles, topology)),
  );
  step(
    `functions bundled with esbuild in ${seconds(handlers.bundleMs)}` +
      (handlers.tickers.length > 1
        ? ` (${handlers.tickers.length} tickers, each on its own due shards)`
        : ''),
  );

  const listen: ListenSpec[] = [
    { protocol: 'udp', host: options.listenHost, port: options.port },
    { protocol: 'tcp', host: options.listenHost, port: options.port },
  ];
  const collector = await progress.track(
    'collector',
    startLocalCollector({
      streamName: topology.stream.name,
      kinesis,
      listen,
      spoolDir: join(workDir, 'spool'),
      http: '127.0.0.1:0',
      logLevel: 'warn',
      flowBuckets: collectorFlowBucketsOf(topology),
      ...(options.kubernetes ? { kubernetes: options.kubernetes } : {}),
    }),
  );
  const counters = new CorrelatorCounters();
  const failures = new JsonLinesFailureDestination({ directory: workDir, fileName: 'on-failure.jsonl' });
  const mapping = correlatorMapping({
    topology,
    kinesis,
    streamArn: prepared.streamArn,
    handler: countingCorrelator(handlers.correlator, counters),
    destination: failures,
    checkpoints: dataDir
      ? new FileCheckpointStore(join(dataDir, 'esm-checkpoints.json'))
      : new MemoryCheckpointStore(),
    clock: systemClock,
  });
  mapping.start();
  const tickerSchedules = handlers.tickers.map((handler, index) =>
    scheduleTicker(handler, topology.tickers[index] as FunctionDefinition, topology, prepared.streamArn),
  );
  // The first rows are reported the moment the exporter's first insert with rows returns (not at the next
  // progress poll, and not for rows an earlier run left in a --data-dir).
  let firstRowAtMs: number | undefined;
  let trafficStartedAt = performance.now();
  let firstRowsSeen: () => void = () => {};
  const firstRows = new Promise<void>((resolveFirstRows) => {
    firstRowsSeen = resolveFirstRows;
  });
  const firstRowsInserted = () => {
    if (firstRowAtMs !== undefined) return;
    firstRowAtMs = performance.now();
    firstRowsSeen();
    progress.stop();
    io.out(
      `first rows in ClickHouse ${seconds(firstRowAtMs - started)} after start ` +
        `(${seconds(firstRowAtMs - trafficStartedAt)} after the pipeline was up)\n`,
    );
  };
  const streams = createDynamoDbStreamsClient();
  const exporterFailures = new JsonLinesFailureDestination({
    directory: workDir,
    fileName: 'exporter-on-failure.jsonl',
  });
  const exportMapping = exporterMapping({
    topology,
    streams,
    tableStreamArn: prepared.tableStreamArn,
    handler: watchingExporter(handlers.exporter, () => firstRowsInserted()),
    destination: exporterFailures,
    checkpoints: dataDir
      ? new FileCheckpointStore(join(dataDir, 'esm-checkpoints-exporter.json'))
      : new MemoryCheckpointStore(),
    clock: systemClock,
  });
  exportMapping.start();

  const clickhouse = createClient(clickhouseConnection);
  const shutdown = new AbortController();
  const demo = options.demo ? runDemo(options, shutdown.signal, io) : undefined;

  const ch = clickhouseConnection;
  const endpoints: LocalEndpoints = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...(dataDir ? { dataDir } : {}),
    region: env.AWS_REGION as string,
    dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB as string,
    kinesis: env.AWS_ENDPOINT_URL_KINESIS as string,
    table: topology.table.name,
    stream: topology.stream.name,
    clickhouse: { url: ch.url, user: ch.username, password: ch.password, database: ch.database },
    collector: {
      udp: `udp://${options.listenHost}:${options.port}`,
      tcp: `tcp://${options.listenHost}:${options.port}`,
    },
    metrics: `http://127.0.0.1:${collector.httpPort}/metrics`,
  };
  const unpublishEndpoints = publishLocalEndpoints(endpoints);
  io.out(
    [
      '',
      `Flowline local is running (ready in ${seconds(performance.now() - started)}).`,
      `  IPFIX collector   ${endpoints.collector.udp}  ${endpoints.collector.tcp}`,
      `  collector metrics ${endpoints.metrics}`,
      `  Kinesis           ${endpoints.kinesis}  stream ${endpoints.stream}`,
      `  DynamoDB          ${endpoints.dynamodb}  table ${endpoints.table}  (flowline flows reads it)`,
      options.demo
        ? `  demo traffic      ${options.demoNodes} simulated Antrea agents, ${options.demoConnections} connections (--no-demo to turn off)`
        : `  demo traffic      off: point Antrea's flowCollectorAddr at ${options.listenHost}:${options.port}:tcp (or :udp)`,
      `  ClickHouse        ${ch.url}  user ${ch.username}  password ${ch.password}  database ${ch.database}`,
      `  on-failure queues ${failures.path} (correlator)`,
      `                    ${exporterFailures.path} (exporter)`,
      ...sinks.banner,
      '',
      `Query the results. A flow's first row is closed by the correlator's first write of it, after its batching window (${topology.mapping.settings.maximumBatchingWindowSeconds} s), ` +
        `and reaches ClickHouse through the table's stream after the exporter's (${topology.exporterMapping.settings.maximumBatchingWindowSeconds} s) (docs/first-run.md); the line "first rows in ClickHouse" below gives this run's time:`,
      `  curl -s -u ${ch.username}:${ch.password} '${ch.url}/' --data-binary \\`,
      "    'SELECT sourcePodName, destinationPodName, destinationServicePortName, sum(octetDeltaCount) AS bytes FROM flows GROUP BY ALL ORDER BY bytes DESC LIMIT 10 FORMAT PrettyCompact'",
      `  or from Node: createClient({ url: '${ch.url}', username: '${ch.username}', password: '${ch.password}' }) (@clickhouse/client)`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  trafficStartedAt = performance.now();
  void progress.track('first rows in ClickHouse', firstRows);
  let lastFlowsCount = 0;
  let lastFlowsAt = 0;
  const snapshot = async (): Promise<Progress> => {
    const total = (name: string) => collector.metrics.total(name);
    const esm = mapping.snapshot();
    const exporterEsm = exportMapping.snapshot();
    const [recordsIn, decodeErrors, kinesisRecords, rows] = await Promise.all([
      total('flowline_collector_flow_records_total'),
      total('flowline_collector_decode_errors_total'),
      total('flowline_kinesis_delivered_records_total'),
      countRows(clickhouse),
    ]);
    if (performance.now() - lastFlowsAt > 5000) {
      lastFlowsAt = performance.now();
      lastFlowsCount = await countItems(dynamodb, topology.table.name).catch(() => lastFlowsCount);
    }
    return {
      recordsIn,
      decodeErrors,
      kinesisRecords,
      correlated: counters.flowRecordsCompleted,
      flows: lastFlowsCount,
      rows,
      lagMs: esm.iteratorAgeMs,
      errors:
        decodeErrors +
        [esm, exporterEsm].reduce(
          (sum, m) => sum + m.functionErrors + m.pollErrors + m.processingErrors + m.failureRecordsSent,
          0,
        ) +
        tickerSchedules.reduce((sum, schedule) => sum + schedule.failedInvocations, 0),
    };
  };
  const progressLines = setInterval(() => {
    void snapshot().then(
      (p) => {
        const line =
          `${new Date().toISOString().slice(11, 19)}  ipfix records ${p.recordsIn}  kinesis records ${p.kinesisRecords}  ` +
          `correlated ${p.correlated}  flows ${p.flows}  rows ${p.rows}  lag ${seconds(p.lagMs)}  errors ${p.errors}`;
        io.out(`${line}\n`);
        progress.printed();
      },
      (error: unknown) => io.err(`progress: ${String(error)}\n`),
    );
  }, options.progressIntervalMs);

  const code = await new Promise<number>((resolvePromise) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      // A second Ctrl-C exits at once; the engines' exit hook still kills their processes.
      process.once('SIGINT', () => process.exit(130));
      io.err(`\n${signal}: stopping (Ctrl-C again to exit at once)\n`);
      resolvePromise(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  clearInterval(progressLines);
  progress.stop();
  shutdown.abort();
  await demo;
  await stopQuietly('collector', () => collector.drain().then(() => undefined), io);
  await stopQuietly('correlator event source mapping', () => mapping.stop(), io);
  for (const schedule of tickerSchedules) schedule.stop();
  await stopQuietly('exporter event source mapping', () => exportMapping.stop(), io);
  const final = await snapshot().catch(() => undefined);
  if (final) {
    io.out(
      `stopped: ${final.recordsIn} IPFIX records in, ${final.correlated} correlated, ${final.rows} rows in ClickHouse, ${final.errors} errors\n`,
    );
  }
  await stopQuietly('sinks', () => sinks.stop(), io);
  unpublishEndpoints();
  await clickhouse.close();
  kinesis.destroy();
  dynamodb.destroy();
  streams.destroy();
  await engines.stop();
  if (!dataDir) rmSync(workDir, { recursive: true, force: true });
  step('engines stopped');
  return code;
}

async function startEngines(
  options: LiveOptions,
  dataDir: string | undefined,
  progress: StartupProgress,
): Promise<LocalEngines> {
  const sub = (name: string) => (dataDir ? join(dataDir, name) : undefined);
  const start = (clickhousePort: number | undefined) =>
    startLocalEngines({
      track: progress.track,
      dynamodb: { dataDir: sub('dynamodb') },
      kinesis: { dataDir: sub('kinesis') },
      clickhouse: { dataDir: sub('clickhouse'), ...(clickhousePort ? { port: clickhousePort } : {}) },
    });
  try {
    return await start(options.clickhousePort ?? 8123);
  } catch (error) {
    // ClickHouse's usual port is taken (a real server?): any free one will do unless one was asked for.
    if (error instanceof PortInUseError && options.clickhousePort === undefined) return start(undefined);
    throw error;
  }
}

async function countRows(clickhouse: ReturnType<typeof createClient>): Promise<number> {
  const result = await clickhouse.query({ query: 'SELECT count() AS n FROM flows', format: 'JSONEachRow' });
  const [row] = await result.json<{ n: string | number }>();
  return Number(row?.n ?? 0);
}

/** Flows in the table: the items of one flow each (a flow's item, or its names item), not buckets or others. */
async function countItems(dynamodb: ReturnType<typeof createDynamoDbClient>, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: table,
        Select: 'COUNT',
        // A flow key always holds '|' (core/flow-key.ts); buckets, intents and the outbox do not.
        FilterExpression: 'contains(#pk, :bar)',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':bar': { S: '|' } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return count;
}

async function stopQuietly(what: string, stop: () => Promise<void>, io: Output): Promise<void> {
  try {
    await stop();
  } catch (error) {
    io.err(`stopping the ${what}: ${String(error)}\n`);
  }
}

/**
 * EventBridge invokes a ticker every `everySeconds` with reserved concurrency 1: a tick while an invocation
 * still runs is skipped, as the platform throttles it.
 */
function scheduleTicker(
  handler: LambdaHandler,
  ticker: FunctionDefinition,
  topology: LocalTopology,
  streamArn: string,
): { stop(): void; failedInvocations: number } {
  const everySeconds = topology.tickerScheduleSeconds;
  const [, , , region = 'us-east-1', account = '000000000000'] = streamArn.split(':');
  const invoker = new InProcessFunctionInvoker({
    handler,
    functionName: `${topology.stackName}-${ticker.logicalId}`,
    region,
    accountId: account,
    timeoutSeconds: ticker.timeoutSeconds,
    memorySizeMb: ticker.memorySizeMb,
  });
  const state = { failedInvocations: 0, running: false, stopped: false };
  const tick = () => {
    if (state.running || state.stopped) return;
    state.running = true;
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account,
      time: new Date().toISOString(),
      region,
      resources: [],
      detail: {},
    };
    void invoker.invoke(event).then((result) => {
      state.running = false;
      if (!result.ok) state.failedInvocations += 1;
    });
  };
  tick();
  const timer = setInterval(tick, everySeconds * 1000);
  return {
    stop() {
      state.stopped = true;
      clearInterval(timer);
    },
    get failedInvocations() {
      return state.failedInvocations;
    },
  };
}

/** Simulated agents in real time: one poll every 5 s; a new simulated hour when one ends. */
async function runDemo(options: LiveOptions, signal: AbortSignal, io: Output): Promise<void> {
  for (let seed = 1; !signal.aborted; seed++) {
    const sim = new ClusterSimulation({
      seed,
      nodes: options.demoNodes,
      connections: options.demoConnections,
      polls: 720,
      pollIntervalSeconds: 5,
      startTimeSeconds: Math.floor(Date.now() / 1000),
    });
    try {
      await exportSimulation(sim, {
        collector: {
          host: options.listenHost === '0.0.0.0' ? '127.0.0.1' : options.listenHost,
          port: options.port,
          protocol: 'tcp',
        },
        pace: abortablePace(signal),
      });
    } catch (error) {
      if (error instanceof AbortedError || signal.aborted) return;
      io.err(`demo traffic: ${String(error)}; restarting in 5 s\n`);
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}
