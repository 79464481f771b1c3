// deploy/prometheus/collector-rules.yaml names only metrics the collector exports, with labels they have,
// and every alert has a duration, a severity and a summary.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CollectorMetrics } from '../../../collector-edge/metrics.ts';

const rules = readFileSync('deploy/prometheus/collector-rules.yaml', 'utf8');

describe('collector alert rules', () => {
  const metrics = new CollectorMetrics();
  const known = new Map(
    metrics.registry
      .getMetricsAsArray()
      .map((m) => [m.name, new Set((m as unknown as { labelNames: string[] }).labelNames)]),
  );

  test('every expression names exported metrics, grouped by labels they carry', () => {
    const expressions = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(expressions.length).toBeGreaterThanOrEqual(4);
    for (const expr of expressions) {
      const names = [...expr.matchAll(/\b(flowline_[a-z_]+)\b/g)].map((m) => m[1]!);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        expect(known.has(name), `${name} in ${expr}`).toBe(true);
        const by =
          /by \(([^)]*)\)/
            .exec(expr)?.[1]
            ?.split(',')
            .map((l) => l.trim()) ?? [];
        // namespace and pod come from the scrape target, the rest from the metric.
        for (const label of by.filter((l) => l !== 'namespace' && l !== 'pod'))
          expect(known.get(name)!.has(label), `${name} has label ${label}`).toBe(true);
      }
    }
  });

  test('every alert has a duration, a severity and a summary', () => {
    const alerts = rules.split(/^\s+- alert: /m).slice(1);
    expect(alerts.map((a) => a.split('\n')[0])).toEqual([
      'FlowlineCollectorDeliveryStalled',
      'FlowlineCollectorInputLimitTripping',
      'FlowlineCollectorRejectedRecords',
      'FlowlineCollectorDroppingInput',
    ]);
    for (const alert of alerts) {
      expect(alert).toMatch(/\n\s+for: \d+m\n/);
      expect(alert).toMatch(/\n\s+severity: (critical|warning)\n/);
      expect(alert).toMatch(/\n\s+summary: ".+"\n/);
    }
  });
});
