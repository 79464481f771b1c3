// Issue 14's reproduction as a scripted test: `flowline local --no-demo --data-dir DIR` fed by
// `flowline simulate --connections 200 --seed 21 --truth truth.json`, the whole process tree killed with
// SIGKILL a few seconds later (records in the spool, in Kinesis, half correlated), restarted on the same
// data folder; ClickHouse then holds per flow exactly the simulator's ground truth.
// Real time (local mode's 60 s / 90 s Antrea timeouts): about three minutes, so opt-in with
// FLOWLINE_SLOW_FAULTS=1 (scripts/exactly-once-faults.sh runs it with the 20-seed fault run).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { createClickHouseClient } from '../../clickhouse/client.ts';
import { DEFAULT_CLICKHOUSE_PASSWORD, DEFAULT_CLICKHOUSE_USER } from '../../local/engines/clickhouse.ts';
import { findFreePort } from '../../local/engines/ports.ts';
import type { GroundTruth } from '../../simulator/model.ts';
import { expectSumsMatchTruth, waitFor } from './e2e/harness.ts';

const enabled = process.env.FLOWLINE_SLOW_FAULTS === '1';
const KILL_AFTER_MS = Number(process.env.FLOWLINE_KILL_AFTER_MS ?? 3000);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe.runIf(enabled)('kill -9 of local mode and a restart on the same data folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowline-kill-'));
  const children: ChildProcess[] = [];
  const killTree = (child: ChildProcess) => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  afterAll(() => {
    for (const child of children) killTree(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives per-flow sums equal to the ground truth', async () => {
    const [ipfixPort, clickhousePort] = [await findFreePort(), await findFreePort()];
    const start = () => {
      // Its own process group, so the kill takes the engines (DynamoDB Local, kinesis-mock, ClickHouse) too.
      const child = spawn(
        process.execPath,
        [
          'bin/flowline.js',
          'local',
          '--no-demo',
          '--data-dir',
          join(dir, 'data'),
          '--port',
          String(ipfixPort),
          '--clickhouse-port',
          String(clickhousePort),
        ],
        { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
      return child;
    };
    /** Up when its collector port answers; a local mode that exited (engines failed to start) fails at once. */
    const up = (child: ChildProcess) =>
      waitFor(
        'the collector port',
        () => {
          if (child.exitCode !== null) throw new Error(`flowline local exited with ${child.exitCode}`);
          return portOpen(ipfixPort);
        },
        180_000,
      );
    const first = start();
    await up(first);
    const truthFile = join(dir, 'truth.json');
    const sent = spawnSync(
      process.execPath,
      [
        'bin/flowline.js',
        'simulate',
        '--collector',
        `127.0.0.1:${ipfixPort}:tcp`,
        '--connections',
        '200',
        '--seed',
        '21',
        '--truth',
        truthFile,
      ],
      { encoding: 'utf8' },
    );
    if (sent.status !== 0) throw new Error(`simulate failed: ${sent.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MS));
    killTree(first);
    await waitFor('the killed collector port to close', async () => !(await portOpen(ipfixPort)), 30_000);

    await up(start());
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as GroundTruth;
    const clickhouse = createClickHouseClient({
      url: `http://127.0.0.1:${clickhousePort}`,
      username: DEFAULT_CLICKHOUSE_USER,
      password: DEFAULT_CLICKHOUSE_PASSWORD,
      database: 'default',
    });
    try {
      // Flows are exported at their next export step and again at their inactive expiry (90 s after
      // their last record): wait until the sums match, then once more past every expiry, and check again.
      const matches = () =>
        expectSumsMatchTruth(clickhouse, truth).then(
          () => true,
          () => false,
        );
      await waitFor('ClickHouse sums to reach the ground truth', matches, 300_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100_000));
      await expectSumsMatchTruth(clickhouse, truth);
    } finally {
      await clickhouse.close();
    }
  }, 600_000);
});
