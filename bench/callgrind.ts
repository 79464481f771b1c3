// Instructions counted by valgrind's callgrind for the collector harnesses (bench/collector-instructions.ts,
// bench/collector-ingest-instructions.ts): the script runs again, through tsx, as the measured process, with
// V8 single-threaded so that its JIT and GC work is counted on the same thread. The measured process marks its
// window with two process.cpuUsage() calls: callgrind dumps before each uv_getrusage, so part 1 is start-up
// and warm-up, part 2 the window, and the rest goes to the final dump.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function assertValgrind(): void {
  if (spawnSync('valgrind', ['--version']).status !== 0)
    throw new Error('valgrind is not installed (apt-get install valgrind)');
}

function totalInstructions(file: string): number {
  const match = /^totals:\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!match) throw new Error(`no totals in ${file}`);
  return Number(match[1]);
}

/**
 * Runs `script args` under callgrind (after `v8Flags`); returns the measured process's stdout and the
 * instructions of its window. Throws with the end of its stderr when it fails.
 */
export function callgrindWindow(
  script: string,
  args: readonly string[],
  v8Flags: readonly string[] = [],
): { stdout: string; instructions: number } {
  const dir = mkdtempSync(join(tmpdir(), 'flowline-callgrind-'));
  try {
    const out = join(dir, 'callgrind.out');
    const child = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        '--dump-before=uv_getrusage',
        `--callgrind-out-file=${out}`,
        process.execPath,
        '--single-threaded',
        ...v8Flags,
        '--import',
        'tsx',
        script,
        ...args,
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    if (child.status !== 0)
      throw new Error(`measured process failed (exit ${child.status}):\n${child.stderr.slice(-2000)}`);
    return { stdout: child.stdout, instructions: totalInstructions(`${out}.2`) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
