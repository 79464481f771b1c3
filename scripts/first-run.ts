// Measures the first run as a new user sees it: runs `npm start -- <args>` (from the repository root),
// timestamps every output line, stops local mode (SIGINT) once it reports the first rows in ClickHouse, and
// prints the time to first rows (from the npm command's start) and the longest gap between output lines.
//
//   node scripts/first-run.ts [--fresh] -- --port 4739 --clickhouse-port 8123
//
// --fresh deletes the synthesized-template cache (.flowline/template-cache) first, as on a fresh clone.
// Exit code 1 if no rows appear within 180 s.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

export interface OutputLine {
  atMs: number;
  text: string;
}

/** The longest silence between consecutive lines (and from the start to the first line), with where it was. */
export function longestGap(lines: OutputLine[]): { gapMs: number; before: string } {
  let previous = 0;
  let longest = { gapMs: 0, before: '' };
  for (const line of lines) {
    if (line.atMs - previous > longest.gapMs) longest = { gapMs: line.atMs - previous, before: line.text };
    previous = line.atMs;
  }
  return longest;
}

const FIRST_ROWS = /^first rows in ClickHouse/;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const split = argv.indexOf('--');
  const own = split === -1 ? argv : argv.slice(0, split);
  const startArgs = split === -1 ? [] : argv.slice(split + 1);
  const root = join(import.meta.dirname, '..');
  if (own.includes('--fresh'))
    rmSync(join(root, '.flowline', 'template-cache'), { recursive: true, force: true });
  const started = performance.now();
  // Its own process group, so SIGINT reaches npm, its shell and local mode together, as Ctrl-C does.
  const child = spawn('npm', ['start', '--', ...startArgs], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const interrupt = () => process.kill(-child.pid!, 'SIGINT');
  const lines: OutputLine[] = [];
  let firstRowsMs: number | undefined;
  const timer = setTimeout(interrupt, 180_000);
  const collect = (chunk: Buffer) => {
    for (const text of chunk.toString('utf8').split('\n')) {
      if (text.trim() === '') continue;
      const atMs = performance.now() - started;
      lines.push({ atMs, text });
      process.stderr.write(`${(atMs / 1000).toFixed(1).padStart(6)} s | ${text}\n`);
      if (firstRowsMs === undefined && FIRST_ROWS.test(text)) {
        firstRowsMs = atMs;
        interrupt();
      }
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const untilRows = lines.filter((line) => firstRowsMs === undefined || line.atMs <= firstRowsMs);
  const gap = longestGap(untilRows);
  const result = {
    firstRowsSeconds: firstRowsMs === undefined ? null : Number((firstRowsMs / 1000).toFixed(1)),
    longestGapSeconds: Number((gap.gapMs / 1000).toFixed(1)),
    longestGapBefore: gap.before,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return firstRowsMs === undefined ? 1 : 0;
}

if (import.meta.filename === process.argv[1]) process.exitCode = await main();
