// `flowline migrate` on a database Theia laid out: the tables, views and Distributed tables created by
// Theia's own DDL (test/fixtures/theia/create_table.sql, from antrea-io/theia's chart), holding a row the
// Flow Aggregator wrote. Flowline adds the columns its exporter writes, keeps every row and Theia's views,
// the exporter's rows land (exactly once) and reach Theia's views, every dashboard panel query runs on it, and
// a second run changes nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { FLOWLINE_COLUMNS } from '../../clickhouse/columns.ts';
import {
  applyMigrations,
  loadMigrations,
  MIGRATIONS_TABLE,
  splitStatements,
} from '../../clickhouse/migrations.ts';
import { checkFlowsSchema } from '../../clickhouse/schema-check.ts';
import { ClickHouseRowSink } from '../../functions/exporter/clickhouse-sink.ts';
import { buildFlowRow } from '../../functions/exporter/rows.ts';
import { CLUSTER_UUID, workloadFlows } from '../../workloads/exported-flows.ts';
import { useEngines } from '../support/engines.ts';
import { allPanels, expandSql, loadDashboards } from '../support/grafana.ts';

const engines = useEngines({ dynamodb: false, kinesis: false });
const THEIA_DDL = join(import.meta.dirname, '..', 'fixtures', 'theia', 'create_table.sql');

/**
 * Theia's DDL on a single server: Replicated* engines need ZooKeeper, their plain forms store the same. A
 * replicated table also drops a re-sent block (replicated_deduplication_window, on by default); the plain
 * form does so with non_replicated_deduplication_window, set here to the same effect.
 */
function theiaStatements(): string[] {
  const replicated: string[] = [];
  const sql = readFileSync(THEIA_DDL, 'utf8').replace(
    /CREATE TABLE IF NOT EXISTS (\w+) \(([^;]*?)\) (?:ENGINE|engine)\s*=\s*Replicated(\w*MergeTree)\('[^']*',\s*'[^']*'\)/g,
    (_, table: string, body: string, engine: string) => {
      replicated.push(table);
      return `CREATE TABLE IF NOT EXISTS ${table} (${body}) ENGINE = ${engine}`;
    },
  );
  return [
    ...splitStatements(sql),
    ...replicated.map((t) => `ALTER TABLE ${t} MODIFY SETTING non_replicated_deduplication_window = 1000`),
  ];
}

describe('flowline migrate on Theia\u2019s schema', () => {
  it('adds what Flowline needs, keeps the data, the exporter writes and Theia\u2019s views see it', async () => {
    const { url, username, password } = engines().clickhouseConnection;
    // Theia's Distributed tables name the database `default`.
    const client = createClickHouseClient({ url, username, password, database: 'default' });
    const executor = executorFor(client);
    try {
      const statements = theiaStatements();
      expect(statements.filter((st) => /non_replicated_deduplication_window/.test(st))).toHaveLength(6);
      for (const statement of statements) await executor.command(statement);
      const local = (
        await executor.queryRows<{ name: string }>(
          "SELECT name FROM system.columns WHERE database = 'default' AND table = 'flows_local'",
        )
      ).map((c) => c.name);
      expect(local).not.toContain('egressNodeName'); // Theia's table predates it

      // A row as the Flow Aggregator's ClickHouse exporter writes it into Theia's flows.
      await client.command({
        query: `INSERT INTO flows (flowStartSeconds, flowEndSeconds, sourceIP, destinationIP, sourceTransportPort,
          destinationTransportPort, protocolIdentifier, octetDeltaCount, sourcePodName, sourcePodNamespace,
          destinationPodName, destinationPodNamespace, flowType, clusterUUID)
          VALUES (1750000000, 1750000010, '10.0.0.1', '10.0.0.2', 40000, 80, 6, 1234, 'a', 'ns', 'b', 'ns', 1, 'theia')`,
        clickhouse_settings: { distributed_foreground_insert: 1 },
      });

      const report = await applyMigrations(executor);
      expect(report.theia).toEqual({
        distributedTable: 'flows',
        localTable: 'default.flows_local',
        columnsAdded: ['egressNodeName', ...FLOWLINE_COLUMNS],
      });
      expect(report.providedByTheia.map((m) => m.version)).toEqual([1, 2, 3]);
      expect(report.applied.map((m) => m.version)).toEqual(
        loadMigrations()
          .filter((m) => m.version > 3)
          .map((m) => m.version),
      );
      expect(report.retentionChanged).toEqual([]); // Theia's TTLs are Theia's
      await checkFlowsSchema(executor, 'default', { requireViews: true });

      // Theia's row is untouched; the added columns read as their defaults.
      const [old] = await executor.queryRows<Record<string, string | number>>(
        "SELECT sourcePodName, toString(octetDeltaCount) AS bytes, clusterUUID, egressNodeName, flowKey, incomplete FROM flows WHERE clusterUUID = 'theia'",
      );
      expect(old).toEqual({
        sourcePodName: 'a',
        bytes: '1234',
        clusterUUID: 'theia',
        egressNodeName: '',
        flowKey: '',
        incomplete: 0,
      });

      // The exporter's insert, sent twice with its deduplication token, lands once and feeds Theia's views.
      const rows = workloadFlows(40, 3, 1_750_000_100).map((flow, i) =>
        buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 1_750_000_200_000 + i }),
      );
      const sink = new ClickHouseRowSink(client);
      expect(await sink.insert(rows, 'theia-batch-1')).toEqual([]);
      expect(await sink.insert(rows, 'theia-batch-1')).toEqual([]);
      const count = async (sql: string) => Number((await executor.queryRows<{ n: string }>(sql))[0]!.n);
      expect(
        await count(`SELECT toString(count()) AS n FROM flows WHERE clusterUUID = '${CLUSTER_UUID}'`),
      ).toBe(40);
      expect(await count("SELECT toString(count()) AS n FROM flows_local WHERE clusterUUID = 'theia'")).toBe(
        1,
      );
      const expectedBytes = rows.reduce((sum, r) => sum + Number(r.octetDeltaCount), 0);
      expect(
        await count(
          `SELECT toString(sum(octetDeltaCount)) AS n FROM flows_pod_view WHERE clusterUUID = '${CLUSTER_UUID}'`,
        ),
      ).toBe(expectedBytes);

      // Flowline's dashboards read Theia's database too (its views behind Distributed tables).
      const range = { fromMs: 1_749_990_000_000, toMs: 1_750_100_000_000, intervalMs: 1000 };
      for (const dashboard of loadDashboards().filter((d) => d.uid !== 'flowline-collector')) {
        const variables = { namespace: ['ns'] };
        for (const panel of allPanels(dashboard))
          for (const target of panel.targets ?? [])
            await executor
              .queryRows(expandSql(target.rawSql ?? '', { ...range, variables }))
              .catch((error: Error) => {
                throw new Error(`${dashboard.title}: ${panel.title}: ${error.message}`);
              });
      }

      // Again: nothing to add, nothing run, nothing lost.
      const again = await applyMigrations(executor);
      expect(again.theia?.columnsAdded).toEqual([]);
      expect(again.applied).toEqual([]);
      expect(again.providedByTheia).toEqual([]);
      const tracked = await executor.queryRows<{ version: number; ttl: string }>(
        `SELECT version, ttl FROM ${MIGRATIONS_TABLE} WHERE version <= 3 ORDER BY version`,
      );
      expect(tracked.map((t) => [Number(t.version), t.ttl])).toEqual([
        [1, 'theia'],
        [2, 'theia'],
        [3, 'theia'],
      ]);
      expect(await count('SELECT toString(count()) AS n FROM flows')).toBe(41);
    } finally {
      await client.close();
    }
  });
});
