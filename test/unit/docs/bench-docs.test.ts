import { describe, expect, it } from 'vitest';
import {
  BEGIN_MARKER,
  END_MARKER,
  mergeResults,
  renderMarkdownTable,
  replaceGenerated,
} from '../../../bench/docs.ts';
import type { BenchRow } from '../../../bench/types.ts';

const row = (group: string, name: string, value: number, extra: Partial<BenchRow> = {}): BenchRow => ({
  group,
  name,
  value,
  unit: 'x/s',
  ...extra,
});

describe('bench docs', () => {
  it('replaces only the groups a run measured, keeping the others and their dates', () => {
    const first = mergeResults(undefined, [row('a', 'a1', 1), row('b', 'b1', 2)], '2026-01-01T00:00:00Z');
    const second = mergeResults(first, [row('b', 'b1', 3), row('b', 'b2', 4)], '2026-02-01T00:00:00Z');
    expect(second.rows.map((r) => [r.name, r.value])).toEqual([
      ['a1', 1],
      ['b1', 3],
      ['b2', 4],
    ]);
    expect(second.measuredAt).toEqual({ a: '2026-01-01T00:00:00Z', b: '2026-02-01T00:00:00Z' });
  });

  it("a partial run replaces its own module's rows, not another module's of the same group", () => {
    const tcp = row('collector', 'tcp', 1, { module: 'collector' });
    const udp = row('collector', 'udp', 2, { module: 'collector-udp' });
    const first = mergeResults(undefined, [tcp, udp], '2026-01-01T00:00:00Z');
    const second = mergeResults(first, [{ ...udp, value: 3 }], '2026-02-01T00:00:00Z');
    expect(second.rows.map((r) => [r.name, r.value])).toEqual([
      ['tcp', 1],
      ['udp', 3],
    ]);
  });

  it("drops a removed module's rows when every module ran", () => {
    const first = mergeResults(undefined, [row('gone', 'g1', 1), row('b', 'b1', 2)], '2026-01-01T00:00:00Z');
    const partial = mergeResults(first, [row('b', 'b1', 3)], '2026-02-01T00:00:00Z');
    expect(partial.rows.map((r) => r.name)).toEqual(['g1', 'b1']);
    const complete = mergeResults(first, [row('b', 'b1', 3)], '2026-02-01T00:00:00Z', true);
    expect(complete.rows.map((r) => [r.name, r.value])).toEqual([['b1', 3]]);
    expect(complete.measuredAt).toEqual({ b: '2026-02-01T00:00:00Z' });
  });

  it('renders targets as met or not, and ratios to the same-run baseline', () => {
    const table = renderMarkdownTable(
      mergeResults(
        undefined,
        [
          row('c', 'higher is better', 150, { target: 100, baseline: 50, baselineName: 'base' }),
          row('c', 'lower is better', 3, { target: 2, better: 'lower' }),
          row('c', 'has | a pipe', 1_234_567),
        ],
        '2026-03-04T05:06:07Z',
      ),
    );
    expect(table).toContain('Last measured: c 2026-03-04.');
    expect(table).toContain('| c | higher is better | 150 | x/s | base: 50 | 3.00x | 100 | yes |');
    expect(table).toContain('| c | lower is better | 3 | x/s |  |  | 2 | **no** |');
    expect(table).toContain('has \\| a pipe | 1,234,567 |');
  });

  it('rewrites the text between the markers and refuses a document without them', () => {
    const doc = `intro\n${BEGIN_MARKER}\nold table\n${END_MARKER}\nafter\n`;
    expect(replaceGenerated(doc, 'new table')).toBe(
      `intro\n${BEGIN_MARKER}\nnew table\n${END_MARKER}\nafter\n`,
    );
    expect(() => replaceGenerated('no markers', 'x')).toThrow(/markers/);
  });
});
