// The collector as a process (`flowline collect`) against kinesis-mock behind a loopback TCP relay that the
// test can cut: Kinesis unreachable while agents export, the collector SIGKILLed with everything in its
// spool, restarted (still no Kinesis), more traffic, Kinesis back: every record arrives exactly once. Then
// SIGTERM drains and exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { findFreePort } from '../../local/engines/ports.ts';
import { exportSimulation } from '../../simulator/exporter.ts';
import { ClusterSimulation } from '../../simulator/model.ts';
import { useEngines } from '../support/engines.ts';
import { createStream, expectExactlyOnce, metricValue, readStream, waitFor } from './collector-support.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const tmp = mkdtempSync(join(tmpdir(), 'flowline-collector-proc-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** A TCP relay to kinesis-mock that can be taken down (connections refused) and brought back. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    this.server = undefined;
  }
}

function startCollector(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['bin/flowline.js', 'collect'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL')
      process.stderr.write(`collector exited ${code} ${signal}\n${stderr}\n`);
  });
  children.push(child);
  return child;
}

test('Kinesis outage, SIGKILL and restart: the spool delivers every record exactly once; SIGTERM exits 0', async () => {
  const kinesisPort = Number(new URL(process.env.AWS_ENDPOINT_URL_KINESIS!).port);
  const relay = new Relay(await findFreePort(), kinesisPort);
  const stream = 'collector-process-it';
  await createStream(engines().kinesis, stream);
  const [tcpPort, httpPort] = [await findFreePort(), await findFreePort()];
  const env = {
    AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${relay.port}`,
    FLOWLINE_STREAM_NAME: stream,
    FLOWLINE_LISTEN: `tcp://127.0.0.1:${tcpPort}`,
    FLOWLINE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    FLOWLINE_SPOOL_DIR: join(tmp, 'spool'),
    FLOWLINE_BATCH_LINGER_MS: '50',
    FLOWLINE_BACKOFF_CAP_MS: '300',
    FLOWLINE_SHARD_REFRESH_MS: '1000',
    FLOWLINE_LOG_LEVEL: 'warn',
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const ready = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  const simulate = async (seed: number, startTimeSeconds: number) =>
    (
      await exportSimulation(
        new ClusterSimulation({ seed, nodes: 3, connections: 120, polls: 4, startTimeSeconds }),
        {
          collector: { host: '127.0.0.1', port: tcpPort, protocol: 'tcp' },
          keepSent: true,
        },
      )
    ).sent!;

  await relay.up();
  const first = startCollector(env);
  await waitFor('collector ready', ready);
  await relay.down(); // Kinesis unreachable from here on

  const sentBefore = await simulate(1, 1_767_225_600);
  await waitFor('first batch accepted, spooled and failing to send', async () => {
    const text = await metrics();
    return (
      metricValue(text, 'flowline_collector_flow_records_total') === sentBefore.length &&
      metricValue(text, 'flowline_packer_open_flow_records') === 0 &&
      metricValue(text, 'flowline_kinesis_retried_records_total') > 0
    );
  });
  expect(metricValue(await metrics(), 'flowline_kinesis_delivered_records_total')).toBe(0);
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));

  const second = startCollector(env);
  await waitFor('restarted collector ready', ready);
  const recovered = metricValue(await metrics(), 'flowline_spool_recovered_records_total');
  expect(recovered).toBeGreaterThan(0);
  const sentAfter = await simulate(2, 1_767_300_000);

  await relay.up(); // Kinesis is back
  const all = [...sentBefore, ...sentAfter];
  await waitFor(
    'everything delivered',
    async () => metricValue(await metrics(), 'flowline_kinesis_delivered_flow_records_total') === all.length,
    60_000,
  );
  const exit = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
  second.kill('SIGTERM');
  expect(await exit).toBe(0);
  await relay.down();

  const { records } = await readStream(engines().kinesis, stream);
  // Kinesis acknowledged nothing before the kill, so not even the documented in-flight duplicates occur.
  expectExactlyOnce(records, all, 0);
});
