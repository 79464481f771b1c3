// Cheap at rest (issue 21), in local mode on event time: a burst of traffic, then no traffic, with the
// ticker invoked once a minute as on Lambda. While flows are open each invocation keeps its commit-interval
// rounds; the idle flows' last rows come when their lazy index keys fall due (INDEX_SLACK_SECONDS after
// their due time); once those rows are in, ClickHouse receives no request at all (counted at the local
// ClickHouse front), and each invocation is one round that ends early. The exporter runs only when the
// table's stream has rows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TickReport } from '../../functions/ticker/ticker.ts';
import {
  E2E_INDEX_SLACK_SECONDS,
  expectSumsMatchTruth,
  runLockstep,
  SteppedSimulation,
  useE2e,
} from './e2e/harness.ts';

const logDir = mkdtempSync(join(tmpdir(), 'flowline-at-rest-'));
const requestLog = join(logDir, 'clickhouse-requests.log');
const e2e = useE2e({ clickhouse: { requestLog } });
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

/** Requests the ClickHouse front has received so far. */
function clickhouseRequests(): number {
  try {
    return readFileSync(requestLog, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

interface Invocation {
  atMs: number;
  reports: TickReport[];
  busyMs: number;
  sleptMs: number;
  /** Front requests after the invocation. */
  requests: number;
  rowsInserted: number;
}

const MINUTE = 60_000;
const QUIET_MINUTES = 10;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('at rest after a burst', () => {
  it('no ClickHouse request once the rows are in; one short round a minute; commit-interval rounds while flows are open', async () => {
    // Rows the exporter has inserted so far (each invocation waits for it to catch up with the stream).
    const insertedSoFar = () => pipeline.exports.reduce((sum, r) => sum + r.rowsInserted, 0);
    const sim = new SteppedSimulation({ seed: 21, nodes: 3, connections: 200, polls: 6, ipv6Share: 0.2 });
    const { pipeline, clickhouse } = await e2e.newRun({
      startMs: (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000,
      collector: { listen: [{ protocol: 'tcp', host: '127.0.0.1', port: 0 }] },
    });
    // The burst: 30 s of agent reports, flushed by commit-interval rounds as they arrive.
    const truth = await runLockstep(pipeline, sim, { finish: false });
    const lastRecordMs = pipeline.lastEventMs;

    // Then the scheduled invocations, one a minute, until ten quiet minutes after the last insert.
    const invocations: Invocation[] = [];
    let tick = Math.ceil((pipeline.tickerTimeMs + 1) / MINUTE) * MINUTE;
    const lastInsert = () => invocations.findLastIndex((i) => i.rowsInserted > 0);
    let inserted = insertedSoFar();
    while (invocations.length < 30 && invocations.length - lastInsert() <= QUIET_MINUTES) {
      const { reports, busyMs, sleptMs } = await pipeline.invokeTickers(tick);
      await pipeline.exported();
      const rowsInserted = insertedSoFar() - inserted;
      inserted += rowsInserted;
      invocations.push({
        atMs: tick,
        reports,
        busyMs,
        sleptMs,
        requests: clickhouseRequests(),
        rowsInserted,
      });
      tick += MINUTE;
    }
    const rowsIn = lastInsert();
    expect(rowsIn).toBeGreaterThanOrEqual(0); // the burst's tail was exported by invocations
    expect(invocations.every((i) => i.reports.every((r) => r.ok))).toBe(true);

    // While flows are open an invocation runs every commit interval of its 40 s (5 rounds, 8 s apart).
    const atRest = (i: Invocation) => i.reports.at(-1)?.atRest === true;
    const firstRest = invocations.findIndex(atRest);
    expect(firstRest).toBeGreaterThan(0);
    for (const busy of invocations.slice(0, firstRest)) {
      expect(busy.reports).toHaveLength(5);
      expect(busy.sleptMs).toBe(4 * 8000);
    }
    // Every flow closed within the inactive timeout (90 s), the lazy key's slack and two minutes of
    // schedule after the last record.
    expect(invocations[firstRest]!.atMs - lastRecordMs).toBeLessThanOrEqual(
      90_000 + E2E_INDEX_SLACK_SECONDS * 1000 + 2 * MINUTE,
    );

    // After the rows are in: ten quiet minutes and not one request reached the ClickHouse front.
    const quiet = invocations.slice(rowsIn + 1);
    expect(quiet.length).toBeGreaterThanOrEqual(QUIET_MINUTES);
    expect(quiet.at(-1)!.atMs - invocations[rowsIn]!.atMs).toBeGreaterThanOrEqual(QUIET_MINUTES * MINUTE);
    expect(quiet.map((i) => i.requests)).toEqual(quiet.map(() => invocations[rowsIn]!.requests));

    // At rest each invocation is one round that ends early: no event time slept, only the round's own work.
    const resting = invocations.slice(firstRest + 1);
    expect(resting.length).toBeGreaterThanOrEqual(QUIET_MINUTES - 1);
    for (const i of resting) {
      expect(i.reports).toHaveLength(1);
      expect(i.sleptMs).toBe(0);
    }
    const busy = resting.map((i) => i.busyMs);
    console.log(
      `at rest: ${resting.length} invocations, busy per minute median ${median(busy).toFixed(0)} ms, ` +
        `max ${Math.max(...busy).toFixed(0)} ms (DynamoDB Local); ClickHouse requests after the last insert: ` +
        `${quiet.at(-1)!.requests - invocations[rowsIn]!.requests}`,
    );
    expect(median(busy)).toBeLessThan(1000);

    // And the burst itself arrived whole: per flow, ClickHouse sums equal the simulator's ground truth.
    await expectSumsMatchTruth(clickhouse, truth);
  }, 300_000);
});
