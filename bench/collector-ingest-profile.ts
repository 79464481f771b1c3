// Instructions per flow record by function, for the collector's UDP per-datagram path: the window of
// bench/collector-ingest-instructions.ts (same datagrams, warm-up and fixed clock) under callgrind with
// --dump-instr=yes, which counts per instruction address. V8's generated code has no symbols, so
// `--perf-basic-prof` makes the measured process write every compiled function's address range to
// /tmp/perf-<pid>.map (V8 then does not move code, so the ranges hold); summing the window's counts by range
// names JavaScript functions, and callgrind's own names cover the rest (V8's builtins, the C++ runtime).
//
//   node_modules/.bin/node --import tsx bench/collector-ingest-profile.ts [--template antrea|generic]
//        [--stage pack|decode] [--warmup 60] [--rounds 5] [--top 30] [--annotate NAME] [--callers NAME]
//
// --annotate NAME also prints the machine code of the optimised JavaScript functions named NAME (V8's
// --print-opt-code-filter; '*' for all, as the generated wire record writer has no name), each instruction
// with its count per record, for functions with 10 or more. --callers NAME lists who calls the functions whose name
// contains NAME (V8 builtins, C++), with the instructions per record spent in those calls.
//
// One window, so the total includes what a single window holds beyond the steady state (a scavenge more or
// less): for the figure itself, use collector-ingest-instructions.ts (the slope over three windows).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { assertValgrind } from './callgrind.ts';

const { values: options } = parseArgs({
  options: {
    template: { type: 'string', default: 'antrea' },
    stage: { type: 'string', default: 'pack' },
    warmup: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '5' },
    top: { type: 'string', default: '30' },
    annotate: { type: 'string' },
    callers: { type: 'string' },
  },
});

interface CodeBlock {
  /** The start of the function's source, as V8 prints it. */
  source: string;
  instructions: Array<{ address: number; text: string }>;
}

/** V8's --print-opt-code output: per optimised function, its source and "0x<address> <offset> <bytes> <instruction>" lines. */
function machineCode(stdout: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '--- Raw source ---') {
      blocks.push({
        source: lines
          .slice(i + 1, i + 4)
          .join(' ')
          .slice(0, 160),
        instructions: [],
      });
      continue;
    }
    const match = /^0x([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+(.*)$/.exec(line);
    if (match && blocks.length > 0)
      blocks.at(-1)!.instructions.push({ address: Number.parseInt(match[1]!, 16), text: match[2]!.trim() });
  }
  return blocks;
}

interface Range {
  start: number;
  end: number;
  name: string;
  /** Line of the map: an address reused by newer code belongs to the newer entry. */
  order: number;
}

/** The perf map's ranges, by start address. */
function readPerfMap(file: string): Range[] {
  const ranges: Range[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (!match) continue;
    const start = Number.parseInt(match[1]!, 16);
    ranges.push({
      start,
      end: start + Number.parseInt(match[2]!, 16),
      name: match[3]!,
      order: ranges.length,
    });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** The newest range holding `address` (binary search, then the few ranges starting before it). */
function rangeOf(ranges: readonly Range[], address: number): Range | undefined {
  let low = 0;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranges[middle]!.start <= address) low = middle + 1;
    else high = middle;
  }
  let best: Range | undefined;
  for (let i = low - 1; i >= 0 && i >= low - 64; i--) {
    const range = ranges[i]!;
    if (address < range.end && (best === undefined || range.order > best.order)) best = range;
  }
  return best;
}

/**
 * Self instructions by address and callgrind function name, from a callgrind file written with
 * --dump-instr=yes (positions "instr line"; numbers absolute, "+n"/"-n" relative or "*" unchanged; the cost
 * line after a `calls=` line is the call's inclusive cost, not self cost).
 */
function selfCosts(
  file: string,
  calls?: { callee: string; out: Array<{ address: number; fn: string; cost: number }> },
): Array<{ address: number; fn: string; cost: number }> {
  const names = new Map<string, string>();
  const out: Array<{ address: number; fn: string; cost: number }> = [];
  let callee = '';
  let fn = '';
  let position = [0, 0];
  let skipNext = false;
  let columns = 2;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('positions:')) columns = line.split(/\s+/).length - 1;
    else if (line.startsWith('fn=') || line.startsWith('cfn=')) {
      // Names are compressed: "(id) name" the first time (in fn= or cfn= lines), "(id)" after.
      const match = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (match?.[2] !== undefined) names.set(match[1]!, match[2]);
      if (line.startsWith('fn=')) fn = match ? (names.get(match[1]!) ?? match[1]!) : line.slice(3);
      else callee = match ? (names.get(match[1]!) ?? match[1]!) : line.slice(4);
    } else if (line.startsWith('calls=')) skipNext = true;
    else if (/^[0-9+\-*]/.test(line)) {
      const parts = line.split(' ');
      const next = position.slice();
      for (let i = 0; i < columns; i++) {
        const part = parts[i]!;
        if (part === '*') continue;
        if (part.startsWith('+') || part.startsWith('-')) next[i] = position[i]! + Number(part);
        else next[i] = part.startsWith('0x') ? Number.parseInt(part, 16) : Number(part);
      }
      position = next;
      if (skipNext) {
        skipNext = false;
        // The call's inclusive cost, at the calling instruction.
        if (calls && callee.includes(calls.callee))
          calls.out.push({ address: position[0]!, fn, cost: Number(parts[columns] ?? 0) });
        continue;
      }
      const cost = Number(parts[columns] ?? 0);
      if (cost > 0) out.push({ address: position[0]!, fn, cost });
    }
  }
  return out;
}

function profile(): void {
  assertValgrind();
  const dir = mkdtempSync(join(tmpdir(), 'flowline-profile-'));
  try {
    const out = join(dir, 'callgrind.out');
    const script = fileURLToPath(new URL('./collector-ingest-instructions.ts', import.meta.url));
    const child = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        '--dump-instr=yes',
        '--dump-before=uv_getrusage',
        `--callgrind-out-file=${out}`,
        process.execPath,
        '--single-threaded',
        '--predictable-gc-schedule',
        '--random-seed=1',
        '--hash-seed=1',
        '--perf-basic-prof',
        ...(options.annotate ? ['--print-opt-code', `--print-opt-code-filter=${options.annotate}`] : []),
        '--import',
        'tsx',
        script,
        `--measured=${options.rounds}`,
        `--warmup=${options.warmup}`,
        `--template=${options.template}`,
        `--stage=${options.stage}`,
      ],
      { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 },
    );
    if (child.status !== 0)
      throw new Error(`measured process failed (exit ${child.status}):\n${child.stderr.slice(-2000)}`);
    const records = Number(/measured-records (\d+)/.exec(child.stdout)?.[1]);
    const pid = /==(\d+)==/.exec(child.stderr)?.[1];
    const perfMap = `/tmp/perf-${pid}.map`;
    const ranges = readPerfMap(perfMap);
    rmSync(perfMap, { force: true });
    const byFunction = new Map<string, number>();
    const byAddress = new Map<number, number>();
    let total = 0;
    const callSites: Array<{ address: number; fn: string; cost: number }> = [];
    const costs = selfCosts(
      `${out}.2`,
      options.callers ? { callee: options.callers, out: callSites } : undefined,
    );
    const nameOf = (fn: string, address: number) =>
      /^0x[0-9a-f]+$/.test(fn) ? (rangeOf(ranges, address)?.name ?? 'unknown JIT code') : fn;
    for (const { address, fn, cost } of costs) {
      total += cost;
      byAddress.set(address, (byAddress.get(address) ?? 0) + cost);
      // Callgrind names code in mapped objects (node's C++ and embedded builtins); JIT code is "0x...".
      const name = nameOf(fn, address);
      byFunction.set(name, (byFunction.get(name) ?? 0) + cost);
    }
    const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(options.top));
    process.stdout.write(
      `${options.template} template, stage ${options.stage}, ${records} records in the window: ` +
        `${(total / records).toFixed(0)} instructions per record\n`,
    );
    for (const [name, cost] of rows)
      process.stdout.write(`${(cost / records).toFixed(1).padStart(9)}  ${name}\n`);
    if (options.callers) {
      const byCaller = new Map<string, number>();
      for (const { address, fn, cost } of callSites) {
        const name = nameOf(fn, address);
        byCaller.set(name, (byCaller.get(name) ?? 0) + cost);
      }
      process.stdout.write(`callers of ${options.callers} (inclusive instructions per record):\n`);
      for (const [name, cost] of [...byCaller].sort((a, b) => b[1] - a[1]))
        process.stdout.write(`${(cost / records).toFixed(1).padStart(9)}  ${name}\n`);
    }
    if (options.annotate) {
      // Each printed instruction with its count per record, for functions with 10 or more per record; code
      // never run in the window is left out.
      for (const block of machineCode(child.stdout)) {
        const perRecord =
          block.instructions.reduce((n, { address }) => n + (byAddress.get(address) ?? 0), 0) / records;
        if (perRecord < 10) continue;
        process.stdout.write(`\n--- ${perRecord.toFixed(1)} per record: ${block.source}\n`);
        for (const { address, text } of block.instructions) {
          const cost = byAddress.get(address);
          if (cost !== undefined)
            process.stdout.write(`${(cost / records).toFixed(2).padStart(8)}  ${text}\n`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

profile();
