// Every panel query of the six ClickHouse dashboards (deploy/grafana/dashboards), expanded as Grafana and the
// grafana-clickhouse-datasource plugin expand it (test/support/grafana.ts: time filter, interval, template
// variables), run against the local ClickHouse engine holding what a simulated cluster's IPFIX became after
// the whole local pipeline (collector, Kinesis, correlator, DynamoDB, exporter). Each must run without error
// and return rows wherever the data it shows exists; time-series panels must return a `time` column.
import { describe, expect, it } from 'vitest';
import {
  allPanels,
  type Dashboard,
  type ExpansionContext,
  expandSql,
  type GrafanaPanel,
  loadDashboards,
  minIntervalMs,
} from '../support/grafana.ts';
import { runLockstep, SteppedSimulation, useE2e } from './e2e/harness.ts';

const e2e = useE2e();
/** Grafana's reference to the `datasource` variable (a Grafana placeholder, not a template string). */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');

/**
 * Panels whose rows exist only when the data has such flows: the query saying whether it does. Every other
 * panel must return rows.
 */
const DATA_CONDITIONS: Record<string, string> = {
  "Flows exported incomplete (one Node's half only)":
    'SELECT count() > 0 AS present FROM flows WHERE incomplete = 1',
};

const clickHouseDashboards = () =>
  loadDashboards().filter((d) =>
    allPanels(d).some((p) => p.datasource?.type === 'grafana-clickhouse-datasource'),
  );

describe('Grafana dashboards on replayed data', () => {
  it('are the six of Theia, on the ClickHouse data source chosen by a variable', () => {
    const dashboards = clickHouseDashboards();
    expect(dashboards.map((d) => d.title).sort()).toEqual([
      'Flowline / Flow Records',
      'Flowline / Network Policy',
      'Flowline / Node-to-Node',
      'Flowline / Pod-to-External',
      'Flowline / Pod-to-Pod',
      'Flowline / Pod-to-Service',
    ]);
    for (const dashboard of dashboards) {
      expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({
        type: 'datasource',
        query: 'grafana-clickhouse-datasource',
      });
      for (const panel of allPanels(dashboard).filter((p) => p.targets))
        expect(panel.datasource?.uid, `${dashboard.title}: ${panel.title}`).toBe(DATASOURCE_VARIABLE);
    }
  });

  it('every panel query runs and returns rows where the data exists', async () => {
    const sim = new SteppedSimulation({ seed: 5, nodes: 3, connections: 250, polls: 4, ipv6Share: 0.3 });
    const startMs = (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000;
    const { pipeline, clickhouse } = await e2e.newRun({
      startMs,
      collector: { listen: [{ protocol: 'tcp', host: '127.0.0.1', port: 0 }] },
    });
    await runLockstep(pipeline, sim);

    const query = async (sql: string) => {
      const result = await clickhouse.query({
        query: sql,
        format: 'JSONEachRow',
        clickhouse_settings: { session_timezone: 'UTC' },
      });
      return result.json<Record<string, unknown>>();
    };
    // The dashboard time range covers the replay (as "Last 6 hours" would over live data).
    const fromMs = startMs - 60_000;
    const toMs = startMs + (sim.options.polls + 2) * sim.options.pollIntervalSeconds * 1000 + 300_000;
    const base = { fromMs, toMs, intervalMs: 1000, variables: {} as Record<string, string[]> };

    let ran = 0;
    for (const dashboard of clickHouseDashboards()) {
      const variables = await variableValues(dashboard, base, query);
      for (const panel of allPanels(dashboard)) {
        for (const target of panel.targets ?? []) {
          const context = { ...base, variables, intervalMs: Math.max(1000, minIntervalMs(panel)) };
          const sql = expandSql(target.rawSql ?? '', context);
          const where = `${dashboard.title}: ${panel.title} (${target.refId})`;
          const rows = await query(sql).catch((error: Error) => {
            throw new Error(`${where}: ${error.message}\n${sql}`);
          });
          ran++;
          const condition = DATA_CONDITIONS[panel.title];
          const present = condition ? (await query(condition))[0]?.present === 1 : true;
          if (present) expect(rows.length, where).toBeGreaterThan(0);
          else expect(rows, where).toEqual([]);
          if (isTimeSeries(panel, target.queryType) && rows.length > 0)
            expect(rows[0], where).toHaveProperty('time');
        }
      }
    }
    expect(ran).toBeGreaterThanOrEqual(37);
  }, 240_000);
});

function isTimeSeries(panel: GrafanaPanel, queryType: string | undefined): boolean {
  return panel.type === 'timeseries' || queryType === 'timeSeries';
}

/** Query variables with "All" selected: every value their (expanded) query returns. */
async function variableValues(
  dashboard: Dashboard,
  base: ExpansionContext,
  query: (sql: string) => Promise<Record<string, unknown>[]>,
): Promise<Record<string, string[]>> {
  const values: Record<string, string[]> = {};
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const rows = await query(expandSql(String(variable.query), { ...base, variables: values }));
    values[variable.name] = rows.map((row) => String(Object.values(row)[0]));
    expect(values[variable.name]!.length, `${dashboard.title}: $${variable.name}`).toBeGreaterThan(0);
  }
  return values;
}
