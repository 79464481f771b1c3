// The endpoints of a running local mode (`npm start`), in a file other commands read: `flowline flows`
// finds local mode's DynamoDB Local and table here instead of guessing a table name. Local mode writes
// <data dir>/endpoints.json when it has a data dir, and always the well-known file below (the last local mode
// started wins); it removes both when it stops. A file whose process is gone is ignored.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface LocalEndpoints {
  pid: number;
  startedAt: string;
  dataDir?: string;
  region: string;
  dynamodb: string;
  kinesis: string;
  table: string;
  stream: string;
  clickhouse: { url: string; user: string; password: string; database: string };
  collector: { udp: string; tcp: string };
  metrics: string;
}

/** `$TMPDIR/flowline-<uid>/local-endpoints.json`: per user, so two users' local modes never mix. */
export function wellKnownEndpointsFile(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : 'user';
  return join(tmpdir(), `flowline-${user}`, 'local-endpoints.json');
}

export function dataDirEndpointsFile(dataDir: string): string {
  return join(dataDir, 'endpoints.json');
}

/** Writes the files; returns a function that removes those that still describe this process. */
export function publishLocalEndpoints(endpoints: LocalEndpoints): () => void {
  const files = [
    wellKnownEndpointsFile(),
    ...(endpoints.dataDir ? [dataDirEndpointsFile(endpoints.dataDir)] : []),
  ];
  for (const file of files) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
  }
  return () => {
    for (const file of files) {
      if (readEndpointsFile(file)?.pid === endpoints.pid) rmSync(file, { force: true });
    }
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readEndpointsFile(file: string): LocalEndpoints | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
  } catch {
    return undefined;
  }
}

/** The endpoints of the local mode running with `dataDir` (or the last one started), if it is running. */
export function runningLocalEndpoints(dataDir?: string): LocalEndpoints | undefined {
  const endpoints = readEndpointsFile(dataDir ? dataDirEndpointsFile(dataDir) : wellKnownEndpointsFile());
  return endpoints && alive(endpoints.pid) ? endpoints : undefined;
}
