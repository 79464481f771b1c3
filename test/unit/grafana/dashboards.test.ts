// The dashboards' static checks: the macro expansion the panel test relies on matches the plugin's own
// examples (grafana/clickhouse-datasource pkg/macros), and every PromQL expression of the collector
// dashboard names a metric the collector exports, used as its type allows (rate/increase on counters,
// _bucket for histograms, gauges as they are).
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { K8sMetadata } from '../../../collector-edge/k8s-metadata/index.ts';
import { createLogger, LogThrottle } from '../../../collector-edge/log.ts';
import { CollectorMetrics } from '../../../collector-edge/metrics.ts';
import { allPanels, expandSql, loadDashboards } from '../../support/grafana.ts';

describe('expandSql (Grafana + grafana-clickhouse-datasource)', () => {
  const context = { fromMs: 1_415_792_726_000, toMs: 1_447_328_726_000, intervalMs: 30_000, variables: {} };
  it.each([
    ['$__timeFilter(time)', 'time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)'],
    [
      '$__timeFilter_ms(time)',
      'time >= fromUnixTimestamp64Milli(1415792726000) AND time <= fromUnixTimestamp64Milli(1447328726000)',
    ],
    ['$__timeInterval(col)', 'toStartOfInterval(toDateTime(col), INTERVAL 30 second)'],
    ['$__interval_s', '30'],
    ['x*8000/$__interval_ms', 'x*8000/30000'],
    ['$__dateFilter(d)', "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"],
    ['$__fromTime, $__toTime', 'toDateTime(1415792726), toDateTime(1447328726)'],
  ])('%s', (sql, expected) => {
    expect(expandSql(sql, context)).toBe(expected);
  });

  it('template variables, quoted for SQL; unknown ones are an error', () => {
    const variables = { namespace: ['default', "o'hare"] };
    const sql = ['ns IN ($', '{namespace:singlequote})'].join(''); // Grafana syntax, not a template string
    expect(expandSql(sql, { ...context, variables })).toBe("ns IN ('default','o\\'hare')");
    expect(() => expandSql('ns = $nope', context)).toThrow(/unknown template variable/);
  });
});

describe('collector dashboard (Prometheus)', () => {
  it('uses only metrics the collector exports, each as its type allows', async () => {
    const metrics = new CollectorMetrics();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    // Registers the Pod informer's metrics (not started: nothing is contacted).
    K8sMetadata.fromSettings(
      { k8sMetadata: true, podLabels: true },
      {
        registry: metrics.registry,
        logger: createLogger('error'),
        logThrottle: new LogThrottle(1, 1000),
        now: Date.now,
        kubeConfig,
      },
    );
    const types = new Map(
      (await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)] as const),
    );
    const dashboard = loadDashboards().find((d) => d.uid === 'flowline-collector')!;
    const used = new Set<string>();
    for (const panel of allPanels(dashboard)) {
      for (const target of panel.targets ?? []) {
        const expr = target.expr ?? '';
        for (const match of expr.matchAll(/(flowline_\w+)\{/g)) {
          const name = match[1]!;
          const base = name.replace(/_bucket$/, '');
          const type = types.get(base);
          expect(type, `${panel.title}: ${name}`).toBeDefined();
          used.add(base);
          const rated = new RegExp(`(rate|increase)\\(${name}\\{`).test(expr);
          if (type === 'counter') expect(rated, `${panel.title}: ${name} is a counter`).toBe(true);
          if (type === 'histogram')
            expect(name.endsWith('_bucket') && rated, `${panel.title}: ${name}`).toBe(true);
          if (type === 'gauge') expect(rated, `${panel.title}: ${name} is a gauge`).toBe(false);
        }
      }
    }
    // Every collector metric has a panel, default process metrics aside.
    const flowline = [...types.keys()].filter((name) => name.startsWith('flowline_'));
    expect(flowline.filter((name) => !used.has(name))).toEqual([]);
  });
});
