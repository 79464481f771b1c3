// End to end, on event time: IPFIX -> collector -> Kinesis -> event source mapping -> bundled correlator ->
// DynamoDB -> table stream -> bundled exporter -> ClickHouse. Vector V-1 gives Antrea's expected row; a simulated cluster
// (inter/intra-Node, to/from external, Services, deny flows, IPv4 and IPv6) gives per flow exactly the
// simulator's ground truth.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ANTREA_INSERT_COLUMNS } from '../../clickhouse/columns.ts';
import { BUCKET_PK_PREFIX } from '../../functions/flow-store/schema.ts';
import { firstEventTime, readFlowRows, readReplayInputs, replayInputs } from '../../local/runner/replay.ts';
import { v1ExpectedInsertArguments } from '../fixtures/v1-expected-row.ts';
import {
  CLUSTER_UUID,
  expectSumsMatchTruth,
  MetricTotals,
  runLockstep,
  SteppedSimulation,
  useE2e,
} from './e2e/harness.ts';

const e2e = useE2e();
const VECTORS = join(import.meta.dirname, '..', 'fixtures', 'vectors');
const v1Files = (family: 'IPv4' | 'IPv6') =>
  ['templatePacket', 'dataPacket1', 'dataPacket2'].map((name) =>
    join(VECTORS, `goipfix_f5c5793_${name}${family}.hex`),
  );

/** UTC text of a DateTime column, as ClickHouse prints it. */
const dateTime = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** peer-cases.md V-1 as Antrea's 51 insert arguments, DateTime columns as ClickHouse prints them. */
function v1ExpectedRow(src: string, dst: string, clusterIP: string): Record<string, unknown> {
  const values = v1ExpectedInsertArguments(src, dst, clusterIP, CLUSTER_UUID);
  return Object.fromEntries(
    ANTREA_INSERT_COLUMNS.map((column, i) => [column, i < 4 ? dateTime(values[i] as number) : values[i]]),
  );
}

describe('V-1 through the whole pipeline', () => {
  it.each([
    ['IPv4', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
    ['IPv6', '2001:0:3238:dfe1:63::fefb', '2001:0:3238:dfe1:63::fefc', '2001:0:3238:bbbb:63::aaaa'],
  ] as const)(
    '%s: template, data1, data2 give Antrea\u2019s expected row, once',
    async (family, src, dst, clusterIP) => {
      const inputs = await readReplayInputs(v1Files(family), (line) => {
        throw new Error(line);
      });
      const exportTime = firstEventTime(inputs) as number; // the template's export time: the clock starts there
      expect(exportTime).toBeGreaterThan(1_636_000_000_000);
      const { pipeline, clickhouse } = await e2e.newRun({ startMs: exportTime });
      const stats = await replayInputs(pipeline, inputs, (line) => {
        throw new Error(line);
      });
      expect(stats).toMatchObject({ messages: 3, problems: 0, firstEventMs: exportTime });
      const rows = await readFlowRows(clickhouse);
      expect(rows).toHaveLength(1);
      const row = rows[0] as Record<string, unknown>;
      const antreaColumns = Object.fromEntries(ANTREA_INSERT_COLUMNS.map((column) => [column, row[column]]));
      expect(antreaColumns).toEqual(v1ExpectedRow(src, dst, clusterIP));
      expect(row).toMatchObject({ flowKey: `${src}|${dst}|6|1234|5678`, exportSeq: 1, incomplete: 0 });
      // Exported by the correlator's write that brought the second half: the flow is due at once, at the
      // records' arrival (the message's export time in a replay).
      expect(row.exportedAt).toBe(new Date(exportTime).toISOString().replace('T', ' ').replace('Z', ''));
      expect(pipeline.rounds.every((round) => round.ok)).toBe(true);
      expect(pipeline.mapping.snapshot()).toMatchObject({ functionErrors: 0, failureRecordsSent: 0 });
    },
  );

  it('`flowline local --replay ... --print-rows` prints that row as JSON Lines and exits 0', () => {
    const result = spawnSync(
      process.execPath,
      [
        'bin/flowline.js',
        'local',
        '--replay',
        ...v1Files('IPv4'),
        '--print-rows',
        '--cluster-uuid',
        CLUSTER_UUID,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const row = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(Object.fromEntries(ANTREA_INSERT_COLUMNS.map((column) => [column, row[column]]))).toEqual(
      v1ExpectedRow('10.0.0.1', '10.0.0.2', '10.0.0.3'),
    );
    expect(result.stderr).toMatch(/replay: 3 IPFIX messages, 2 flow records .* -> 1 rows/);
  }, 120_000);
});

describe('a simulated cluster through the whole pipeline', () => {
  it('gives, per flow, ClickHouse sums equal to the ground truth: nothing lost, nothing double counted', async () => {
    await simulatedClusterMatchesTruth();
  }, 180_000);

  it('does the same with the flow table in buckets (the collector routing by bucket)', async () => {
    // 1,500 connections in 64 buckets: about 25 flows to a bucket, as the layout is sized.
    await simulatedClusterMatchesTruth({ flowLayout: 'buckets', flowBuckets: 64 });
  }, 180_000);
});

async function simulatedClusterMatchesTruth(context?: Record<string, unknown>): Promise<void> {
  {
    const sim = new SteppedSimulation({ seed: 7, nodes: 4, connections: 1500, polls: 6, ipv6Share: 0.3 });
    const metrics = new MetricTotals();
    const { pipeline, clickhouse, topology } = await e2e.newRun({
      startMs: (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000,
      collector: { listen: [{ protocol: 'tcp', host: '127.0.0.1', port: 0 }] },
      correlator: { metrics },
      ...(context ? { context } : {}),
    });
    const truth = await runLockstep(pipeline, sim);
    expect(Object.keys(truth.flows).length).toBeGreaterThan(1500);
    await expectSumsMatchTruth(clickhouse, truth);

    // Every record was applied exactly once. A write that failed (DynamoDB Local can time out on a loaded
    // machine) had its records redelivered, and the redelivered ones were recognised as replays.
    expect(metrics.get('AppliedRecords')).toBe(truth.records);
    if (metrics.get('FailedFlowKeys') === 0) expect(metrics.get('DuplicateRecords')).toBe(0);
    expect(metrics.get('StaleConnectionRecords')).toBe(0);
    expect(pipeline.mapping.snapshot()).toMatchObject({ functionErrors: 0, failureRecordsSent: 0 });
    expect(pipeline.rounds.every((round) => round.ok)).toBe(true);

    // The workload covers every kind of flow the issue names.
    const kinds = await clickhouse.query({
      query: `SELECT
          countIf(flowType = 1) AS intraNode, countIf(flowType = 2) AS interNode,
          countIf(flowType = 3) AS toExternal, countIf(flowType = 4) AS fromExternal,
          countIf(destinationServicePortName != '') AS service,
          countIf(egressNetworkPolicyRuleAction IN (2, 3) OR ingressNetworkPolicyRuleAction IN (2, 3)) AS deny,
          countIf(position(sourceIP, ':') > 0) AS ipv6, countIf(position(sourceIP, ':') = 0) AS ipv4
        FROM flows`,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const [counts] = await kinds.json<Record<string, number>>();
    for (const [kind, count] of Object.entries(counts ?? {})) expect(count, kind).toBeGreaterThan(0);

    // The flows are where the layout puts them: their own items, or buckets and names items.
    const pks: string[] = [];
    const scan = { TableName: topology.table.name, ProjectionExpression: 'pk' };
    for await (const page of paginateScan({ client: e2e.engines().dynamodb }, scan)) {
      for (const item of page.Items ?? []) pks.push(item.pk?.S ?? '');
    }
    const buckets = pks.filter((pk) => pk.startsWith(BUCKET_PK_PREFIX)).length;
    if (context?.flowLayout === 'buckets') expect(buckets).toBeGreaterThan(32);
    else expect(buckets).toBe(0);
  }
}
