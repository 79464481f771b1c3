// The end-to-end harness: a fresh stream, table and ClickHouse database per run (names from the synthesized
// template plus a suffix), the event-time pipeline over them, the simulator driven in lock-step with event time,
// and the checks against the simulator's ground truth. Endpoint-agnostic: everything reaches the engines
// through test/support (local engines, or LocalStack with FLOWLINE_TEST_TARGET=localstack).
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterEach, beforeAll, expect } from 'vitest';
import { createClickHouseClient } from '../../../clickhouse/client.ts';
import { type FlowStore, writeEach } from '../../../core/flow-state/ports.ts';
import type { LambdaHandler } from '../../../local/esm/invoker.ts';
import type { CloudFormationTemplate } from '../../../local/esm/settings.ts';
import type { MetricSink } from '../../../local/runner/event-time-functions.ts';
import {
  EventTimePipeline,
  type EventTimePipelineOptions,
} from '../../../local/runner/event-time-pipeline.ts';
import { prepareLocalStack, renameResources } from '../../../local/runner/prepare.ts';
import { type LocalTopology, loadStackTemplate, readLocalTopology } from '../../../local/runner/template.ts';
import { type CollectorAddress, exportSimulation } from '../../../simulator/exporter.ts';
import { ClusterSimulation, type GroundTruth, type PollExport } from '../../../simulator/model.ts';
import { type TestEngines, type UseEnginesOptions, useEngines } from '../../support/engines.ts';

export const CLUSTER_UUID = '5c8a4f0e-2b7d-4e61-9a3c-1f0e2d3c4b5a';

export interface E2eRun {
  pipeline: EventTimePipeline;
  topology: LocalTopology;
  clickhouse: ClickHouseClient;
  workDir: string;
  database: string;
}

export interface E2eHarness {
  engines(): TestEngines;
  newRun(
    options?: Partial<
      Omit<EventTimePipelineOptions, 'topology' | 'streamArn' | 'tableStreamArn' | 'kinesis' | 'workDir'>
    > & {
      /** A provisioned stream of this many shards instead of the template's (default: one). */
      streamShards?: number;
      /** Ticker functions (the template synthesized with context tickerCount; default: one). */
      tickers?: number;
      /** More CDK context for the template (e.g. flowLayout), synthesized for this run. */
      context?: Record<string, unknown>;
    },
  ): Promise<E2eRun>;
}

/** Call at the top of a test file: engines for the file, a template, and cleanup of every run. */
/**
 * The lazy due-index key of the end-to-end runs: 120 s of slack instead of the deployed 1,200, so that a
 * run's idle flows close (and `finish()` ends) minutes of event time after the last record, not twenty.
 * The slack's own behaviour is tested on the pure model and on DynamoDB Local (test/unit/correlator,
 * test/integration/exporter.test.ts).
 */
export const E2E_INDEX_SLACK_SECONDS = 120;
const E2E_CONTEXT = { indexSlackSeconds: E2E_INDEX_SLACK_SECONDS, indexMarginSeconds: 20 };

export function useE2e(engineOptions: UseEnginesOptions = {}): E2eHarness {
  const engines = useEngines(engineOptions);
  let template: CloudFormationTemplate;
  const runs: E2eRun[] = [];
  let count = 0;
  beforeAll(async () => {
    template = await loadStackTemplate({ context: E2E_CONTEXT });
    Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' });
  });
  // Each test's runs stop when it ends: a live run's exporter mapping keeps polling the table's stream, and
  // a file's runs polling at once take DynamoDB Local's CPU from the test that is running.
  afterEach(async () => {
    for (const run of runs.splice(0)) {
      await run.pipeline.stop().catch(() => undefined);
      await run.clickhouse.close();
      rmSync(run.workDir, { recursive: true, force: true });
    }
  });
  return {
    engines,
    async newRun({ streamShards, tickers = 1, context, ...options } = {}) {
      const suffix = `${process.pid}-${++count}`;
      const runTemplate =
        tickers === 1 && context === undefined
          ? template
          : await loadStackTemplate({ context: { ...E2E_CONTEXT, tickerCount: tickers, ...context } });
      const named = renameResources(readLocalTopology(runTemplate), `e2e-${suffix}`);
      const topology = streamShards
        ? {
            ...named,
            stream: { ...named.stream, streamMode: 'PROVISIONED' as const, shardCount: streamShards },
          }
        : named;
      const database = `e2e_${suffix.replace(/-/g, '_')}`;
      const connection = { ...engines().clickhouseConnection, database };
      const prepared = await prepareLocalStack({
        topology,
        kinesis: engines().kinesis,
        dynamodb: engines().dynamodb,
        clickhouse: connection,
        clusterUUID: CLUSTER_UUID,
        enableTtl: false,
      });
      const workDir = mkdtempSync(join(tmpdir(), 'flowline-e2e-'));
      const pipeline = await EventTimePipeline.start({
        topology,
        streamArn: prepared.streamArn,
        tableStreamArn: prepared.tableStreamArn,
        kinesis: engines().kinesis,
        workDir,
        startMs: options.startMs ?? Date.now(),
        ...options,
      });
      const run = { pipeline, topology, clickhouse: createClickHouseClient(connection), workDir, database };
      runs.push(run);
      return run;
    },
  };
}

/** Metrics the correlator publishes, summed by name (what CloudWatch would show). */
export class MetricTotals implements MetricSink {
  readonly totals = new Map<string, number>();
  addMetric(name: string, _unit: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }
  publishStoredMetrics(): void {}
  get(name: string): number {
    return this.totals.get(name) ?? 0;
  }
}

export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A simulation that stops after `limit` polls (raise it to continue) and counts the records it hands out. */
export class SteppedSimulation extends ClusterSimulation {
  limit = Number.POSITIVE_INFINITY;
  handedOut = 0;
  recordsHandedOut = 0;
  lastPoll: PollExport | undefined;

  override nextExport(): PollExport | undefined {
    if (this.handedOut >= this.limit) return undefined;
    const poll = super.nextExport();
    if (poll) {
      this.handedOut += 1;
      this.lastPoll = poll;
      this.recordsHandedOut += poll.byNode.reduce((n, records) => n + records.length, 0);
    }
    return poll;
  }
}

export interface LockstepHooks {
  /** Called with the poll about to be sent, after everything before it went through the pipeline. */
  beforePoll?(poll: number): Promise<void> | void;
  /** Expire and export everything at the end with finish() (default); false leaves that to the caller. */
  finish?: boolean;
}

/**
 * Sends the simulation to the pipeline's in-process collector over TCP, one poll at a time: before a poll
 * goes out, every earlier record has been received, delivered, correlated and every ticker round due before
 * the poll's time has run; the collector then stamps the poll's records with the poll's time. At the end,
 * finish() expires and exports everything.
 */
export async function runLockstep(
  pipeline: EventTimePipeline,
  sim: SteppedSimulation,
  hooks: LockstepHooks = {},
): Promise<GroundTruth> {
  const collector = pipeline.collector;
  if (!collector) throw new Error('lock-step needs the in-process collector');
  const address: CollectorAddress = { host: '127.0.0.1', port: collector.portOf('tcp'), protocol: 'tcp' };
  const received = () => collector.metrics.total('flowline_collector_flow_records_total');
  let recordsBeforePoll = 0;
  const report = await exportSimulation(sim, {
    collector: address,
    pace: {
      // Called after nextExport() handed out the next poll and before it is sent.
      async sleep() {
        const upcoming = sim.lastPoll as PollExport;
        const pollRecords = upcoming.byNode.reduce((n, records) => n + records.length, 0);
        const sentBefore = sim.recordsHandedOut - pollRecords;
        await waitFor(`${sentBefore} records at the collector`, async () => (await received()) >= sentBefore);
        recordsBeforePoll = sentBefore;
        await pipeline.advanceTo(upcoming.exportTime * 1000);
        await hooks.beforePoll?.(upcoming.poll);
      },
    },
  });
  await waitFor(
    `${sim.recordsHandedOut} records at the collector`,
    async () => (await received()) >= sim.recordsHandedOut,
  );
  expect(recordsBeforePoll).toBeLessThanOrEqual(sim.recordsHandedOut);
  if (hooks.finish !== false) await pipeline.finish();
  return report.truth;
}

export interface FlowSums {
  flowKey: string;
  rows: number;
  exports: number;
  packets: number;
  octets: number;
  reversePackets: number;
  reverseOctets: number;
  maxPacketTotal: number;
  maxOctetTotal: number;
  maxReversePacketTotal: number;
  maxReverseOctetTotal: number;
  incomplete: number;
}

export async function flowSums(clickhouse: ClickHouseClient): Promise<Map<string, FlowSums>> {
  const result = await clickhouse.query({
    query: `SELECT flowKey, count() AS rows, uniqExact(exportSeq) AS exports,
              sum(packetDeltaCount) AS packets, sum(octetDeltaCount) AS octets,
              sum(reversePacketDeltaCount) AS reversePackets, sum(reverseOctetDeltaCount) AS reverseOctets,
              max(packetTotalCount) AS maxPacketTotal, max(octetTotalCount) AS maxOctetTotal,
              max(reversePacketTotalCount) AS maxReversePacketTotal, max(reverseOctetTotalCount) AS maxReverseOctetTotal,
              max(incomplete) AS incomplete
            FROM flows GROUP BY flowKey`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const rows = await result.json<FlowSums>();
  return new Map(rows.map((row) => [row.flowKey, row]));
}

/**
 * The ClickHouse rows of every flow add up to the simulator's ground truth.
 *
 * Antrea's semantics make the expected sums: the common delta counters of an exported row are the deltas
 * accumulated since the previous export by the Node of the latest record (aggregateRecords step 7), and an
 * export resets every delta. Over all exports of a flow, the common deltas therefore add up to everything
 * that Node reported, i.e. its final cumulative total, provided that at every export both Nodes had
 * reported the same polls. The lock-step driver guarantees that (a round runs only after the whole poll went
 * through), and the simulator gives both Nodes of a connection the same counters (asserted below), so:
 *   sum(packetDeltaCount) over the flow's rows = final packetTotalCount of (either) exporting Node,
 * and the same for octets and both reverse counters; the largest exported total equals that final total.
 * Nothing lost: every flow of the truth has rows. Nothing double counted: the sums are not larger, and no
 * (flowKey, exportSeq) appears twice.
 */
export async function expectSumsMatchTruth(clickhouse: ClickHouseClient, truth: GroundTruth): Promise<void> {
  const expected = new Map<string, GroundTruth['flows'][string]['finalTotals']>();
  for (const flow of Object.values(truth.flows)) {
    const other = expected.get(flow.flowKey);
    if (other)
      expect(flow.finalTotals, `both Nodes of ${flow.flowKey} report the same counters`).toEqual(other);
    expected.set(flow.flowKey, flow.finalTotals);
  }
  const sums = await flowSums(clickhouse);
  const problems: string[] = [];
  for (const [flowKey, totals] of expected) {
    const got = sums.get(flowKey);
    if (!got) {
      problems.push(`${flowKey}: no row (lost)`);
      continue;
    }
    const pairs: Array<[string, number, number]> = [
      ['packets', got.packets, totals.packets],
      ['octets', got.octets, totals.octets],
      ['reversePackets', got.reversePackets, totals.reversePackets],
      ['reverseOctets', got.reverseOctets, totals.reverseOctets],
      ['max packetTotalCount', got.maxPacketTotal, totals.packets],
      ['max octetTotalCount', got.maxOctetTotal, totals.octets],
      ['max reversePacketTotalCount', got.maxReversePacketTotal, totals.reversePackets],
      ['max reverseOctetTotalCount', got.maxReverseOctetTotal, totals.reverseOctets],
      ['rows per export', got.rows, got.exports],
      ['incomplete', got.incomplete, 0],
    ];
    for (const [what, actual, wanted] of pairs) {
      if (actual !== wanted) problems.push(`${flowKey}: ${what} ${actual}, expected ${wanted}`);
    }
  }
  for (const flowKey of sums.keys())
    if (!expected.has(flowKey)) problems.push(`${flowKey}: row of a flow never sent`);
  expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
  expect(sums.size).toBe(expected.size);
}

/**
 * A correlator whose invocation dies after `afterWrites` conditional writes, at most `times` times: the
 * writes already made stay, the dead sandbox writes nothing more, and the invocation fails (the mapping
 * retries and bisects). Pass `wrapStore` and `wrapHandler` to the run's correlator options.
 */
export function crashingCorrelator(afterWrites: number, times: number) {
  const invocation = new AsyncLocalStorage<{ writes: number; dead: boolean; die: (error: Error) => void }>();
  const state = { crashes: 0 };
  return {
    get crashes() {
      return state.crashes;
    },
    wrapStore: (store: FlowStore): FlowStore => ({
      read: (keys) => store.read(keys),
      writeMany(writes, nowMs, concurrency) {
        return writeEach(writes, concurrency, (w) => this.write(w.state, w.expectedVersion, nowMs, w.extras));
      },
      async write(flow, expectedVersion, nowMs, extras) {
        const current = invocation.getStore();
        if (current?.dead) return new Promise(() => {}); // a dead sandbox writes nothing more
        // The extras carry the rows the write closes and its index key: the table's stream takes them on.
        const result = await store.write(flow, expectedVersion, nowMs, extras);
        if (current && ++current.writes === afterWrites && state.crashes < times) {
          state.crashes += 1;
          current.dead = true;
          current.die(new Error(`injected crash after ${afterWrites} keys`));
        }
        return result;
      },
    }),
    wrapHandler:
      (handler: LambdaHandler): LambdaHandler =>
      (event, context, callback) =>
        new Promise((resolve, reject) => {
          invocation.run({ writes: 0, dead: false, die: reject }, () => {
            Promise.resolve(handler(event, context, callback)).then(resolve, reject);
          });
        }),
  };
}

/** A collector's Prometheus metric, summed over its labels, from its /metrics endpoint. */
export async function collectorMetric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Rows in ClickHouse right now. */
export async function rowCount(clickhouse: ClickHouseClient): Promise<number> {
  const result = await clickhouse.query({ query: 'SELECT count() AS n FROM flows', format: 'JSONEachRow' });
  const [row] = await result.json<{ n: string | number }>();
  return Number(row?.n ?? 0);
}
