// The ClickHouse schema on the real engine (chDB behind the HTTP interface): migrations applied
// idempotently with a retention parameter, the schema check, exactly-once inserts, the three views' sums,
// and every dashboard query against a workload whose expected aggregates are computed here.
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import {
  ANTREA_INSERT_COLUMNS,
  FLOWLINE_INSERT_COLUMNS,
  FLOWS_COLUMN_TYPES,
} from '../../clickhouse/columns.ts';
import { applyMigrations, MIGRATIONS_TABLE } from '../../clickhouse/migrations.ts';
import { dashboardQuery, loadDashboardQueries } from '../../clickhouse/queries.ts';
import { checkFlowsSchema, SchemaMismatchError } from '../../clickhouse/schema-check.ts';
import { batchToken, type PendingRow } from '../../functions/exporter/batch.ts';
import { ClickHouseRowSink } from '../../functions/exporter/clickhouse-sink.ts';
import { buildFlowRow, type FlowRow } from '../../functions/exporter/rows.ts';
import { CLUSTER_UUID, workloadFlows } from '../../workloads/exported-flows.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines({ dynamodb: false, kinesis: false });
const clients: ClickHouseClient[] = [];
let databases = 0;

/** A fresh database and a client bound to it. */
async function freshDatabase(): Promise<{ client: ClickHouseClient; database: string }> {
  const { url, username, password } = engines().clickhouseConnection;
  const database = `schema_${process.pid}_${++databases}`;
  await engines().clickhouse.command({ query: `CREATE DATABASE ${database}` });
  const client = createClickHouseClient({ url, username, password, database });
  clients.push(client);
  return { client, database };
}

afterAll(async () => {
  for (const client of clients) await client.close();
});

/** Antrea's e2e schema types for its 51 INSERT columns (reference 3.2). */
const ANTREA_TYPES: Record<string, string> = Object.fromEntries(
  ANTREA_INSERT_COLUMNS.map((c) => {
    if (/^flow(Start|End)Seconds/.test(c)) return [c, 'DateTime'];
    if (/Count$/.test(c) || /[tT]hroughput/.test(c)) return [c, 'UInt64'];
    if (/Port$/.test(c)) return [c, 'UInt16'];
    if (/(RuleAction|Type|Reason|protocolIdentifier)$/.test(c) || c === 'flowType') return [c, 'UInt8'];
    return [c, 'String'];
  }),
);

describe('migrations', () => {
  it('create flows with Antrea names and types, the views, and track versions; a re-run changes nothing', async () => {
    const { client, database } = await freshDatabase();
    const executor = executorFor(client);
    const first = await applyMigrations(executor, { ttl: '12 HOUR' });
    expect(first.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    const again = await applyMigrations(executor, { ttl: '12 HOUR' });
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied.map((m) => m.version)).toEqual([1, 2, 3]);
    expect(again.retentionChanged).toEqual([]);
    const tracked = await executor.queryRows<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
    expect(tracked.map((t) => Number(t.version)).sort()).toEqual([1, 2, 3]);

    const columns = await executor.queryRows<{ name: string; type: string; default_expression: string }>(
      `SELECT name, type, default_expression FROM system.columns WHERE database = '${database}' AND table = 'flows' ORDER BY position`,
    );
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    for (const column of ANTREA_INSERT_COLUMNS) expect(types[column], column).toBe(ANTREA_TYPES[column]);
    // The types the exporter's RowBinary header declares are the table's own.
    for (const column of FLOWLINE_INSERT_COLUMNS)
      expect(types[column], column).toBe(FLOWS_COLUMN_TYPES[column]);
    expect(columns.find((c) => c.name === 'timeInserted')?.default_expression).toBe('now()');
    expect(columns.find((c) => c.name === 'trusted')?.default_expression).toBe('0');
    const report = await checkFlowsSchema(executor, database, { requireViews: true });
    expect(report.views).toEqual(['flows_node_view', 'flows_pod_view', 'flows_policy_view']);
    // 0003: the pod and policy views no longer group each block; the node view still does.
    const selects = await executor.queryRows<{ name: string; as_select: string }>(
      `SELECT name, as_select FROM system.tables WHERE database = '${database}' AND name LIKE 'flows_%_view' ORDER BY name`,
    );
    expect(selects.map((v) => [v.name, /GROUP BY/i.test(v.as_select)])).toEqual([
      ['flows_node_view', true],
      ['flows_pod_view', false],
      ['flows_policy_view', false],
    ]);
  });

  it('a different --ttl changes the retention of flows and the view tables', async () => {
    const { client } = await freshDatabase();
    const executor = executorFor(client);
    await applyMigrations(executor, { ttl: '12 HOUR' });
    const changed = await applyMigrations(executor, { ttl: '30 DAY' });
    expect(changed.retentionChanged).toEqual([
      'flows',
      'node_view_table',
      'pod_view_table',
      'policy_view_table',
    ]);
    const [flows] = await executor.queryRows<{ engine_full: string }>(
      "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'flows'",
    );
    expect(flows!.engine_full).toContain('TTL timeInserted + toIntervalDay(30)');
    expect(flows!.engine_full).toContain('merge_with_ttl_timeout = 14400');
  });

  it('the schema check names the missing column', async () => {
    const { client, database } = await freshDatabase();
    const executor = executorFor(client);
    await expect(checkFlowsSchema(executor, database)).rejects.toThrow(
      /does not exist: run `flowline migrate`/,
    );
    await applyMigrations(executor);
    await executor.command('ALTER TABLE flows DROP COLUMN egressNodeName');
    const error = await checkFlowsSchema(executor, database).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMismatchError);
    expect((error as SchemaMismatchError).missingColumns).toEqual(['egressNodeName']);
    expect((error as Error).message).toMatch(/lacks column\(s\) egressNodeName/);
  });

  it('the schema check names a column whose type differs from what the exporter writes', async () => {
    const { client, database } = await freshDatabase();
    const executor = executorFor(client);
    await applyMigrations(executor);
    await executor.command('ALTER TABLE flows MODIFY COLUMN octetDeltaCount UInt32');
    const error = await checkFlowsSchema(executor, database).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMismatchError);
    expect((error as SchemaMismatchError).mismatchedTypes).toEqual([
      { column: 'octetDeltaCount', expected: 'UInt64', actual: 'UInt32' },
    ]);
    expect((error as Error).message).toMatch(/octetDeltaCount is UInt32, the exporter writes UInt64/);
  });
});

describe('the sink', () => {
  it('reuses its encode buffers: every batch lands intact, gzip or not, one at a time or two in flight', async () => {
    const flows = workloadFlows(900, 7, 1_750_000_000);
    const rowsOf = (from: number, to: number) =>
      flows.slice(from, to).map((flow, i) =>
        buildFlowRow(flow, {
          clusterUUID: CLUSTER_UUID,
          exportSeq: 1,
          exportedAtMs: 1_750_000_000_000 + i,
        }),
      );
    for (const gzipLevel of [1, false] as const) {
      const { client } = await freshDatabase();
      await applyMigrations(executorFor(client));
      const sink = new ClickHouseRowSink(client, { gzipLevel });
      // Small, large (outgrows the buffer kept from the small one), small again, then two at once.
      const batches = [rowsOf(0, 50), rowsOf(50, 600), rowsOf(600, 650), rowsOf(650, 800), rowsOf(800, 900)];
      for (const [b, rows] of batches.slice(0, 3).entries()) await sink.insert(rows, `reuse-${b}`);
      await Promise.all(batches.slice(3).map((rows, b) => sink.insert(rows, `reuse-${b + 3}`)));
      const stored = await executorFor(client).queryRows<{ flowKey: string; octets: string; pod: string }>(
        'SELECT flowKey, toString(octetDeltaCount) AS octets, sourcePodName AS pod FROM flows ORDER BY flowKey',
      );
      const expected = batches
        .flat()
        .map((r) => ({ flowKey: r.flowKey, octets: String(r.octetDeltaCount), pod: r.sourcePodName }))
        .sort((a, b) => (a.flowKey < b.flowKey ? -1 : a.flowKey > b.flowKey ? 1 : 0));
      expect(stored, `gzipLevel ${gzipLevel}`).toEqual(expected);
    }
  });
});

describe('the sink, with a row no column can hold', () => {
  it('inserts the rows that fit and returns the others with the column; none fit: no insert at all', async () => {
    const { client } = await freshDatabase();
    await applyMigrations(executorFor(client));
    const sink = new ClickHouseRowSink(client);
    const [good, bad, alsoBad] = workloadFlows(3, 11, 1_750_000_000).map((flow, i) =>
      buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 1_750_000_000_000 + i }),
    );
    const overflowing = { ...bad!, destinationServicePort: 70_000 };
    const negative = { ...alsoBad!, octetDeltaCount: -1 };
    const count = async () =>
      Number((await executorFor(client).queryRows<{ c: string }>('SELECT count() AS c FROM flows'))[0]!.c);

    expect(await sink.insert([negative, overflowing], 'none-fit')).toEqual([
      { row: negative, reason: expect.stringMatching(/^column octetDeltaCount \(UInt64\): -1 /) },
      { row: overflowing, reason: expect.stringMatching(/^column destinationServicePort \(UInt16\)/) },
    ]);
    expect(await count()).toBe(0);
    const rejected = await sink.insert([good!, overflowing], 'some-fit');
    expect(rejected.map((r) => r.row.flowKey)).toEqual([overflowing.flowKey]);
    const stored = await executorFor(client).queryRows<{ flowKey: string }>('SELECT flowKey FROM flows');
    expect(stored).toEqual([{ flowKey: good!.flowKey }]);
  });
});

describe('rows, views and dashboard queries on a workload', () => {
  const END_FROM = 1_750_000_000;
  let client: ClickHouseClient;
  let rows: FlowRow[];
  const params = { from: END_FROM - 10, to: END_FROM + 1000, intervalSeconds: 60 };

  beforeAll(async () => {
    ({ client } = await freshDatabase());
    await applyMigrations(executorFor(client));
    const pending: PendingRow[] = workloadFlows(600, 42, END_FROM).map((flow, i) => ({
      token: `${flow.flowKey}#1#1`,
      row: buildFlowRow(flow, {
        clusterUUID: CLUSTER_UUID,
        exportSeq: 1,
        exportedAtMs: 1_750_000_000_000 + i,
      }),
    }));
    rows = pending.map((p) => p.row);
    const sink = new ClickHouseRowSink(client);
    const token = batchToken(pending);
    await sink.insert(rows, token);
    await sink.insert(rows, token); // a retried insert: dropped as a duplicate, also by the views
  });

  const query = async <T>(sql: string, extra: Record<string, unknown> = {}): Promise<T[]> =>
    executorFor(client).queryRows<T>(sql, { ...params, ...extra });

  function sumBy(
    filter: (r: FlowRow) => boolean,
    key: (r: FlowRow) => string,
    value: (r: FlowRow) => number,
  ) {
    const sums = new Map<string, number>();
    for (const r of rows.filter(filter)) sums.set(key(r), (sums.get(key(r)) ?? 0) + value(r));
    return sums;
  }
  const n = (v: unknown) => Number(v);
  const SYSTEM = ['kube-system', 'flow-visibility', 'flow-aggregator'];

  it('a replayed insert adds no rows, to flows nor to the views', async () => {
    const [flows] = await query<{ c: string }>('SELECT count() AS c FROM flows');
    expect(n(flows!.c)).toBe(rows.length);
    for (const table of ['pod_view_table', 'node_view_table', 'policy_view_table']) {
      const [sum] = await query<{ s: string }>(`SELECT sum(octetDeltaCount) AS s FROM ${table}`);
      expect(n(sum!.s), table).toBe(rows.reduce((a, r) => a + n(r.octetDeltaCount), 0));
    }
  });

  it('flows_pod_view / flows_node_view / flows_policy_view hold the sums of their keys', async () => {
    const pod = await query<{ k: string; o: string; t: string }>(
      `SELECT concat(sourcePodNamespace, '/', sourcePodName, '>', destinationPodNamespace, '/', destinationPodName) AS k,
              sum(octetDeltaCount) AS o, sum(throughputFromSourceNode) AS t FROM flows_pod_view GROUP BY k`,
    );
    const podKey = (r: FlowRow) =>
      `${r.sourcePodNamespace}/${r.sourcePodName}>${r.destinationPodNamespace}/${r.destinationPodName}`;
    const expectedPod = sumBy(
      () => true,
      podKey,
      (r) => n(r.octetDeltaCount),
    );
    const expectedPodTp = sumBy(
      () => true,
      podKey,
      (r) => n(r.throughputFromSourceNode),
    );
    expect(new Map(pod.map((p) => [p.k, n(p.o)]))).toEqual(expectedPod);
    expect(new Map(pod.map((p) => [p.k, n(p.t)]))).toEqual(expectedPodTp);

    const node = await query<{ k: string; o: string; r: string }>(
      `SELECT concat(sourceNodeName, '>', destinationNodeName) AS k, sum(octetDeltaCount) AS o,
              sum(reverseThroughputFromDestinationNode) AS r FROM flows_node_view GROUP BY k`,
    );
    const nodeKey = (r: FlowRow) => `${r.sourceNodeName}>${r.destinationNodeName}`;
    expect(new Map(node.map((x) => [x.k, n(x.o)]))).toEqual(
      sumBy(
        () => true,
        nodeKey,
        (r) => n(r.octetDeltaCount),
      ),
    );
    expect(new Map(node.map((x) => [x.k, n(x.r)]))).toEqual(
      sumBy(
        () => true,
        nodeKey,
        (r) => n(r.reverseThroughputFromDestinationNode),
      ),
    );

    const policy = await query<{ k: string; o: string }>(
      `SELECT concat(ingressNetworkPolicyName, '/', toString(ingressNetworkPolicyRuleAction), '/', egressNetworkPolicyName) AS k,
              sum(reverseOctetDeltaCount) AS o FROM flows_policy_view GROUP BY k`,
    );
    const policyKey = (r: FlowRow) =>
      `${r.ingressNetworkPolicyName}/${r.ingressNetworkPolicyRuleAction}/${r.egressNetworkPolicyName}`;
    expect(new Map(policy.map((x) => [x.k, n(x.o)]))).toEqual(
      sumBy(
        () => true,
        policyKey,
        (r) => n(r.reverseOctetDeltaCount),
      ),
    );
  });

  it('pod-to-pod: bytes per Pod pair, system namespaces excluded', async () => {
    const result = await query<{ bytes: string; source: string; destination: string }>(
      dashboardQuery('pod-to-pod', 'cumulative-bytes').sql,
    );
    const expected = sumBy(
      (r) =>
        [1, 2].includes(n(r.flowType)) &&
        !SYSTEM.includes(r.sourcePodNamespace as string) &&
        !SYSTEM.includes(r.destinationPodNamespace as string),
      (r) =>
        `${r.sourcePodNamespace}/${r.sourcePodName}>${r.destinationPodNamespace}/${r.destinationPodName}`,
      (r) => n(r.octetDeltaCount),
    );
    const top = [...expected.values()].sort((a, b) => b - a).slice(0, 50);
    expect(result.map((r) => n(r.bytes))).toEqual(top);
    for (const r of result) expect(expected.get(`${r.source}>${r.destination}`)).toBe(n(r.bytes));
  });

  it('pod-to-service: bytes per Pod and Service port', async () => {
    const result = await query<{ bytes: string; source: string; destination: string }>(
      dashboardQuery('pod-to-service', 'cumulative-bytes').sql,
    );
    const expected = sumBy(
      (r) =>
        [1, 2].includes(n(r.flowType)) &&
        r.destinationServicePortName !== '' &&
        !SYSTEM.includes(r.sourcePodNamespace as string),
      (r) => `${r.sourcePodNamespace}/${r.sourcePodName}>${r.destinationServicePortName}`,
      (r) => n(r.octetDeltaCount),
    );
    expect(result.length).toBe(Math.min(50, expected.size));
    for (const r of result) expect(expected.get(`${r.source}>${r.destination}`)).toBe(n(r.bytes));
  });

  it('pod-to-external: bytes per Pod and external address', async () => {
    const result = await query<{ bytes: string; source: string; destination: string }>(
      dashboardQuery('pod-to-external', 'cumulative-bytes').sql,
    );
    const expected = sumBy(
      (r) => n(r.flowType) === 3 && !SYSTEM.includes(r.sourcePodNamespace as string),
      (r) => `${r.sourcePodNamespace}/${r.sourcePodName}>${r.destinationIP}`,
      (r) => n(r.octetDeltaCount),
    );
    expect(result.length).toBe(Math.min(50, expected.size));
    for (const r of result) expect(expected.get(`${r.source}>${r.destination}`)).toBe(n(r.bytes));
  });

  it('node-to-node: bytes per Node pair', async () => {
    const result = await query<{ bytes: string; source: string; destination: string }>(
      dashboardQuery('node-to-node', 'cumulative-bytes').sql,
    );
    const expected = sumBy(
      (r) =>
        r.sourceNodeName !== '' &&
        r.destinationNodeName !== '' &&
        !SYSTEM.includes(r.sourcePodNamespace as string) &&
        !SYSTEM.includes(r.destinationPodNamespace as string),
      (r) => `${r.sourceNodeName}>${r.destinationNodeName}`,
      (r) => n(r.octetDeltaCount),
    );
    expect(new Map(result.map((r) => [`${r.source}>${r.destination}`, n(r.bytes)]))).toEqual(expected);
  });

  it('network policy: bytes per policy pair and denied connections', async () => {
    const result = await query<{
      bytes: string;
      ingressPolicy: string;
      ingressAction: number;
      egressPolicy: string;
    }>(dashboardQuery('network-policy', 'bytes-by-policy').sql);
    const expected = sumBy(
      (r) => r.ingressNetworkPolicyName !== '' || r.egressNetworkPolicyName !== '',
      (r) =>
        `${r.egressNetworkPolicyNamespace}/${r.egressNetworkPolicyName}|${r.ingressNetworkPolicyNamespace}/${r.ingressNetworkPolicyName}|${r.ingressNetworkPolicyRuleAction}`,
      (r) => n(r.octetDeltaCount),
    );
    expect(
      new Map(result.map((r) => [`${r.egressPolicy}|${r.ingressPolicy}|${r.ingressAction}`, n(r.bytes)])),
    ).toEqual(expected);
    const denied = await query<{
      bytes: string;
      source: string;
      destination: string;
      egressAction: number;
      ingressAction: number;
    }>(dashboardQuery('network-policy', 'denied-connections').sql);
    const expectedDenied = sumBy(
      (r) =>
        [2, 3].includes(n(r.ingressNetworkPolicyRuleAction)) ||
        [2, 3].includes(n(r.egressNetworkPolicyRuleAction)),
      (r) =>
        `${r.sourcePodNamespace}/${r.sourcePodName}>${r.destinationPodName !== '' ? `${r.destinationPodNamespace}/${r.destinationPodName}` : r.destinationIP}|${r.egressNetworkPolicyRuleAction}|${r.ingressNetworkPolicyRuleAction}`,
      (r) => n(r.octetDeltaCount),
    );
    expect(denied.length).toBe(Math.min(50, expectedDenied.size));
    expect(denied.map((r) => n(r.bytes))).toEqual(
      [...expectedDenied.values()].sort((a, b) => b - a).slice(0, 50),
    );
    for (const r of denied) {
      expect(expectedDenied.get(`${r.source}>${r.destination}|${r.egressAction}|${r.ingressAction}`)).toBe(
        n(r.bytes),
      );
    }
  });

  it('flow records: the rows in the time range, and counts per flow type', async () => {
    const records = await query<{ flowEndSeconds: string }>(dashboardQuery('flow-records', 'records').sql);
    expect(records).toHaveLength(rows.length);
    const narrow = await query<{ flowType: number; records: string; bytes: string }>(
      dashboardQuery('flow-records', 'records-per-flow-type').sql,
      { from: END_FROM, to: END_FROM + 99 },
    );
    const inRange = rows.filter(
      (r) => n(r.flowEndSeconds) >= END_FROM && n(r.flowEndSeconds) <= END_FROM + 99,
    );
    expect(narrow.reduce((a, r) => a + n(r.records), 0)).toBe(inRange.length);
    for (const r of narrow) {
      const ofType = inRange.filter((x) => n(x.flowType) === n(r.flowType));
      expect(n(r.bytes)).toBe(ofType.reduce((a, x) => a + n(x.octetDeltaCount), 0));
    }
  });

  it('every dashboard query runs (throughput panels included)', async () => {
    for (const q of loadDashboardQueries()) {
      const result = await query<Record<string, unknown>>(q.sql);
      expect(result.length, `${q.dashboard}/${q.name}`).toBeGreaterThan(0);
    }
  });
});
