// `npm run bench` / `flowline bench`: runs every benchmark module, prints one table, writes JSON.
import { writeFileSync } from 'node:fs';
import type { BenchModule, BenchRow } from './types.ts';

/** Issue 9: the whole suite stays under 10 minutes on 2 cores. */
const SUITE_BUDGET_SECONDS = 600;

// Keep this list in data-flow order; the cost module goes last (it reads the earlier rows' counters).
const modules: Array<[string, () => Promise<BenchModule>]> = [
  ['engines', async () => (await import('./engines.bench.ts')).enginesBench],
  ['decode', async () => (await import('./decode.bench.ts')).decodeBench],
  ['collector', async () => (await import('./collector.bench.ts')).collectorBench],
  ['correlator', async () => (await import('./correlator.bench.ts')).correlatorBench],
  ['flusher', async () => (await import('./flusher.bench.ts')).flusherBench],
  ['cost', async () => (await import('./cost.bench.ts')).costBench],
];

export async function runBenchmarks(options: {
  quick: boolean;
  only?: string;
  out: string;
}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const seconds: Record<string, number> = {};
  const suiteStarted = performance.now();
  for (const [name, load] of modules) {
    if (options.only && !name.includes(options.only)) continue;
    const started = performance.now();
    const produced = await (await load()).run({ quick: options.quick, previous: [...rows] });
    rows.push(...produced);
    seconds[name] = (performance.now() - started) / 1000;
    process.stderr.write(`bench ${name}: ${seconds[name].toFixed(1)} s\n`);
  }
  const total = (performance.now() - suiteStarted) / 1000;
  process.stderr.write(`bench total: ${total.toFixed(1)} s (budget ${SUITE_BUDGET_SECONDS} s)\n`);
  if (total > SUITE_BUDGET_SECONDS) process.stderr.write('bench: OVER the 10-minute budget\n');
  printTable(rows);
  const timings = { seconds, totalSeconds: total, quick: options.quick };
  writeFileSync(options.out, `${JSON.stringify({ at: new Date().toISOString(), timings, rows }, null, 2)}\n`);
  return rows;
}

function format(value: number | undefined): string {
  if (value === undefined) return '';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

export function printTable(rows: BenchRow[]): void {
  const header = [
    'group',
    'measure',
    'value',
    'unit',
    'baseline',
    'baseline value',
    'ratio',
    'target',
    'met',
  ];
  const lines = rows.map((row) => {
    const ratio = row.baseline ? row.value / row.baseline : undefined;
    const met =
      row.target === undefined
        ? ''
        : (row.better ?? 'higher') === 'higher'
          ? row.value >= row.target
            ? 'yes'
            : 'NO'
          : row.value <= row.target
            ? 'yes'
            : 'NO';
    return [
      row.group,
      row.name,
      format(row.value),
      row.unit,
      row.baselineName ?? '',
      format(row.baseline),
      ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
      format(row.target),
      met,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(render(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(render(line));
}
