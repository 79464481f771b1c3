// ClickHouse for local mode: the chDB engine behind ClickHouse's HTTP interface, in its own process so
// it can be stopped and restarted like a server (outage tests keep the same port and data).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LOOPBACK, withPort } from './ports.ts';
import {
  type EngineProcess,
  EngineStartError,
  type RunningEngine,
  spawnEngine,
  waitUntilReady,
} from './process.ts';

export interface ClickHouseOptions {
  /** Fixed port; by default a free loopback port. */
  port?: number;
  /** Keep databases in this folder; by default a temporary folder removed by stop(). */
  dataDir?: string;
  user?: string;
  password?: string;
  echoOutput?: boolean;
  startTimeoutMs?: number;
  /** The front appends one line per request it receives to this file (tests count requests). */
  requestLog?: string;
}

export interface RunningClickHouse extends RunningEngine {
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** Kills the server process (connections are refused) but keeps its port and data for endOutage(). */
  simulateOutage(): Promise<void>;
  /** Starts the server again on the same port with the same data. */
  endOutage(): Promise<void>;
}

export const DEFAULT_CLICKHOUSE_USER = 'flowline';
export const DEFAULT_CLICKHOUSE_PASSWORD = 'flowline-local';

const serverScript = join(dirname(fileURLToPath(import.meta.url)), 'clickhouse-http-server.ts');

/** A real query through the front, authenticated: proves the engine answers, not only the socket. */
async function selectOneAnswers(endpoint: string, user: string, password: string): Promise<boolean> {
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    body: 'SELECT 1',
    signal: AbortSignal.timeout(5000),
  });
  return response.ok && (await response.text()) === '1\n';
}

export async function startClickHouse(options: ClickHouseOptions = {}): Promise<RunningClickHouse> {
  const user = options.user ?? DEFAULT_CLICKHOUSE_USER;
  const password = options.password ?? DEFAULT_CLICKHOUSE_PASSWORD;
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir
    ? resolve(options.dataDir)
    : mkdtempSync(join(tmpdir(), 'flowline-clickhouse-'));
  mkdirSync(dataDir, { recursive: true });
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

  const launch = async (port: number): Promise<{ engine: EngineProcess; startupMs: number }> => {
    const started = performance.now();
    const engine = spawnEngine({
      name: 'ClickHouse (chDB)',
      command: process.execPath,
      args: [
        '--import',
        tsxLoader,
        serverScript,
        '--port',
        String(port),
        '--host',
        LOOPBACK,
        '--data-dir',
        dataDir,
        '--user',
        user,
        ...(options.requestLog ? ['--request-log', options.requestLog] : []),
      ],
      env: { ...process.env, FLOWLINE_CLICKHOUSE_PASSWORD: password },
      echoOutput: options.echoOutput,
      removeWhenOrphaned: temporary ? dataDir : undefined,
    });
    await waitUntilReady(engine, () => selectOneAnswers(`http://${LOOPBACK}:${port}`, user, password), {
      ...(options.startTimeoutMs !== undefined ? { timeoutMs: options.startTimeoutMs } : {}),
      what: 'SELECT 1 over HTTP',
    });
    return { engine, startupMs: performance.now() - started };
  };

  try {
    const first = await withPort(
      'ClickHouse',
      options.port,
      async (port) => ({ port, ...(await launch(port)) }),
      (error) => error instanceof EngineStartError && error.portWasTaken,
    );
    const { port, startupMs } = first;
    let engine: EngineProcess | undefined = first.engine;
    return {
      name: 'ClickHouse (chDB)',
      endpoint: `http://${LOOPBACK}:${port}`,
      port,
      get pid() {
        return engine?.pid ?? -1;
      },
      startupMs,
      user,
      password,
      dataDir,
      async simulateOutage() {
        await engine?.stop();
        engine = undefined;
      },
      async endOutage() {
        if (engine) return;
        engine = (await launch(port)).engine;
      },
      async stop() {
        await engine?.stop();
        engine = undefined;
        if (temporary) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
