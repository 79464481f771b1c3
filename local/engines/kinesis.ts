// kinesis-mock, the Node build from the npm package `kinesis-local` (the engine LocalStack uses for Kinesis),
// kept on 127.0.0.1 by loopback-only.cjs.
// Clients must use the HTTP/1.1 handler: its HTTP/2 path fails randomly (see adapters/aws-clients.ts).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort, withPort } from './ports.ts';
import { EngineStartError, type RunningEngine, runningHttpEngine, spawnEngine } from './process.ts';

export interface KinesisOptions {
  /** Fixed plain-HTTP port; by default a free loopback port. */
  port?: number;
  /** Persist streams and records to this folder (off by default: large payloads make persistence slow). */
  dataDir?: string;
  /** Region kinesis-mock reports in ARNs. */
  region?: string;
  /** Shards allowed per account (kinesis-mock's default is 50). */
  shardLimit?: number;
  echoOutput?: boolean;
  startTimeoutMs?: number;
}

// Stream state changes take 500 ms each by default; tests want them immediate.
const ZERO_DELAY_SETTINGS = [
  'CREATE_STREAM_DURATION',
  'DELETE_STREAM_DURATION',
  'REGISTER_STREAM_CONSUMER_DURATION',
  'DEREGISTER_STREAM_CONSUMER_DURATION',
  'START_STREAM_ENCRYPTION_DURATION',
  'STOP_STREAM_ENCRYPTION_DURATION',
  'MERGE_SHARDS_DURATION',
  'SPLIT_SHARD_DURATION',
  'UPDATE_SHARD_COUNT_DURATION',
  'UPDATE_STREAM_MODE_DURATION',
];

const LOOPBACK_PRELOAD = join(dirname(fileURLToPath(import.meta.url)), 'loopback-only.cjs');

async function listStreamsResponds(endpoint: string): Promise<boolean> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
      'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
      authorization:
        'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: '{}',
    signal: AbortSignal.timeout(2000),
  });
  const body = (await response.json()) as { StreamNames?: unknown };
  return response.ok && Array.isArray(body.StreamNames);
}

export async function startKinesis(options: KinesisOptions = {}): Promise<RunningEngine> {
  const packageDir = dirname(createRequire(import.meta.url).resolve('kinesis-local/package.json'));
  const persistence: NodeJS.ProcessEnv = options.dataDir
    ? {
        SHOULD_PERSIST_DATA: 'true',
        PERSIST_PATH: resolve(options.dataDir),
        PERSIST_INTERVAL: '1s',
        LOAD_DATA_IF_EXISTS: 'true',
      }
    : { SHOULD_PERSIST_DATA: 'false' };
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  return withPort(
    'kinesis-mock',
    options.port,
    async (port) => {
      // kinesis-mock always opens a TLS port too; give it a free one so it cannot clash.
      const tlsPort = await findFreePort();
      const started = performance.now();
      const engine = spawnEngine({
        name: 'kinesis-mock',
        command: process.execPath,
        // kinesis-mock binds 0.0.0.0 and has no option for it: the preload keeps it on 127.0.0.1.
        args: ['--require', LOOPBACK_PRELOAD, join(packageDir, 'main.js')],
        env: {
          ...process.env,
          KINESIS_MOCK_PLAIN_PORT: String(port),
          KINESIS_MOCK_TLS_PORT: String(tlsPort),
          // Without it the Node build looks for server.json in the working directory and crashes.
          KINESIS_MOCK_CERT_PATH: join(packageDir, 'server.json'),
          AWS_REGION: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
          SHARD_LIMIT: String(options.shardLimit ?? 100),
          LOG_LEVEL: 'WARN',
          ...Object.fromEntries(ZERO_DELAY_SETTINGS.map((name) => [name, '0ms'])),
          ...persistence,
        },
        echoOutput: options.echoOutput,
      });
      return runningHttpEngine(engine, {
        port,
        startedAt: started,
        probe: listStreamsResponds,
        what: 'ListStreams',
        timeoutMs: options.startTimeoutMs,
      });
    },
    (error) => error instanceof EngineStartError && error.portWasTaken,
  );
}
