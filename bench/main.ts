// `npm run bench` / `flowline bench`: runs every benchmark module, prints one table, writes JSON.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFigure, targetMet, updateBenchDocs } from './docs.ts';
import { modulesMatching } from './modules.ts';
import type { BenchRow } from './types.ts';

/** Issue 9: the whole suite stays under 10 minutes on 2 cores. */
const SUITE_BUDGET_SECONDS = 600;

/**
 * Each module runs in a fresh Node process, as benchmarks should: chDB keeps ClickHouse's background
 * threads alive in a process that loaded it, and JIT and GC state carry over, which slowed the modules after
 * it by about 2x when they shared one process. Earlier rows reach later modules through a file.
 */
function runModule(name: string, quick: boolean, previous: BenchRow[]): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'flowline-bench-'));
  try {
    const previousFile = join(dir, 'previous.json');
    const resultFile = join(dir, 'rows.json');
    writeFileSync(previousFile, JSON.stringify(previous));
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./run-module.ts', import.meta.url)),
        name,
        String(quick),
        previousFile,
        resultFile,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (child.status !== 0)
      throw new Error(`bench module ${name} failed (exit ${child.status ?? child.signal})`);
    const rows = JSON.parse(readFileSync(resultFile, 'utf8')) as BenchRow[];
    return rows.map((row) => ({ ...row, module: name }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runBenchmarks(options: {
  quick: boolean;
  only?: string;
  out: string;
  /** Refresh docs/benchmarks.md and docs/bench-results.json (never from a --quick run). */
  docs: boolean;
}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const seconds: Record<string, number> = {};
  const suiteStarted = performance.now();
  const names = modulesMatching(options.only);
  // A partial run's later modules (the cost model) also see the committed rows of the modules it skips.
  const committed = options.only ? committedRowsOutside(names) : [];
  for (const name of names) {
    const started = performance.now();
    rows.push(...runModule(name, options.quick, [...rows, ...committed]));
    seconds[name] = (performance.now() - started) / 1000;
    process.stderr.write(`bench ${name}: ${seconds[name].toFixed(1)} s\n`);
  }
  const total = (performance.now() - suiteStarted) / 1000;
  process.stderr.write(`bench total: ${total.toFixed(1)} s (budget ${SUITE_BUDGET_SECONDS} s)\n`);
  if (total > SUITE_BUDGET_SECONDS) process.stderr.write('bench: OVER the 10-minute budget\n');
  printTable(rows);
  const timings = { seconds, totalSeconds: total, quick: options.quick };
  const at = new Date().toISOString();
  writeFileSync(options.out, `${JSON.stringify({ at, timings, rows }, null, 2)}\n`);
  if (options.docs && !options.quick && rows.length > 0) {
    const docsDir = fileURLToPath(new URL('../docs/', import.meta.url));
    updateBenchDocs(rows, {
      resultsFile: join(docsDir, 'bench-results.json'),
      docFile: join(docsDir, 'benchmarks.md'),
      at,
      complete: !options.only,
    });
    process.stderr.write('bench: docs/benchmarks.md and docs/bench-results.json updated\n');
  }
  return rows;
}

/** The rows of docs/bench-results.json from modules other than `names` (none when there is no such file). */
function committedRowsOutside(names: readonly string[]): BenchRow[] {
  try {
    const file = fileURLToPath(new URL('../docs/bench-results.json', import.meta.url));
    const { rows } = JSON.parse(readFileSync(file, 'utf8')) as { rows?: BenchRow[] };
    return (rows ?? []).filter((row) => !names.includes(row.module ?? row.group));
  } catch {
    return [];
  }
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
    const met = targetMet(row);
    return [
      row.group,
      row.name,
      formatFigure(row.value),
      row.unit,
      row.baselineName ?? '',
      formatFigure(row.baseline),
      ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
      formatFigure(row.target),
      met === undefined ? '' : met ? 'yes' : 'NO',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(render(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(render(line));
}
