// Start-up progress of local mode: a line per finished step, and while nothing else is printed, a line at
// least every `quietMs` naming what is still being waited for, so a slow first start on a busy machine never
// looks hung. Created before local mode's modules load (cli/commands/local.ts), so loading is covered too.
// startupProgressOffThread() runs the same logic in a worker thread writing straight to stderr's file
// descriptor: module loading and other synchronous work on the main thread cannot hold the lines back.
// progressCore is self-contained (no imports, no outer names) because the worker evaluates its source.
import { Worker } from 'node:worker_threads';

export interface StartupProgress {
  /** Prints `[12.3 s] text`. */
  step(text: string): void;
  /** Runs `work` as a named pending task: named in the waiting lines until it settles. */
  track<T>(name: string, work: Promise<T>): Promise<T>;
  /** Other output was just printed (local mode's progress line): the quiet period starts again. */
  printed(): void;
  /** Milliseconds since start. */
  elapsedMs(): number;
  /** Stops the waiting lines (local mode's own progress line takes over). */
  stop(): void;
}

export interface ProgressCore {
  step(text: string): void;
  begin(id: number, name: string): void;
  end(id: number): void;
  printed(): void;
  stop(): void;
}

/** The logic: which line to print when, on `clock` (ms). */
export function progressCore(
  write: (text: string) => void,
  options: { quietMs?: number; clock?: () => number; startedAt?: number } = {},
): ProgressCore {
  const clock = options.clock ?? (() => performance.now());
  const quietMs = options.quietMs ?? 1200;
  const started = options.startedAt ?? clock();
  const pending = new Map<number, { name: string; since: number }>();
  let lastLineAt = started;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const step = (text: string) => {
    lastLineAt = clock();
    write(`[${seconds(lastLineAt - started)}] ${text}\n`);
  };
  const timer = setInterval(() => {
    if (clock() - lastLineAt < quietMs) return;
    const waiting = [...pending.values()].map(({ name, since }) => `${name} (${seconds(clock() - since)})`);
    step(waiting.length > 0 ? `waiting for ${waiting.join(', ')}` : 'starting');
  }, 250);
  timer.unref();
  return {
    step,
    begin: (id, name) => pending.set(id, { name, since: clock() }),
    end: (id) => pending.delete(id),
    printed: () => {
      lastLineAt = clock();
    },
    stop: () => clearInterval(timer),
  };
}

function tracking(core: ProgressCore, elapsedMs: () => number): StartupProgress {
  let nextId = 0;
  return {
    step: (text) => core.step(text),
    async track(name, work) {
      const id = nextId++;
      core.begin(id, name);
      try {
        return await work;
      } finally {
        core.end(id);
      }
    },
    printed: () => core.printed(),
    elapsedMs,
    stop: () => core.stop(),
  };
}

/** Progress on this thread (tests, and where a worker cannot start). */
export function startupProgress(
  write: (text: string) => void,
  options: { quietMs?: number; clock?: () => number } = {},
): StartupProgress {
  const clock = options.clock ?? (() => performance.now());
  const started = clock();
  return tracking(progressCore(write, { ...options, clock, startedAt: started }), () => clock() - started);
}

/**
 * Progress printed by a worker thread to file descriptor 2. The worker runs progressCore's own compiled
 * source (Function.prototype.toString), evaluated as plain JavaScript: no loader, no second copy of the logic,
 * and it starts in milliseconds where loading a module file through the TypeScript loader takes seconds on a
 * busy machine. The first line is written here, before the worker is up.
 */
export function startupProgressOffThread(firstLine: string): StartupProgress {
  const startedAt = Date.now();
  const format = (text: string) => `[${((Date.now() - startedAt) / 1000).toFixed(1)} s] ${text}\n`;
  process.stderr.write(format(firstLine));
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { startedAt } });
  } catch {
    const fallback = startupProgress((text) => process.stderr.write(text));
    return fallback;
  }
  worker.unref();
  let stopped = false;
  const post = (message: unknown) => worker.postMessage(message);
  const core: ProgressCore = {
    // After stop() the worker is done; the last lines (shutdown) are written here.
    step: (text) => (stopped ? process.stderr.write(format(text)) : post({ op: 'step', text })),
    begin: (id, name) => post({ op: 'begin', id, name }),
    end: (id) => post({ op: 'end', id }),
    printed: () => post({ op: 'printed' }),
    stop: () => {
      if (stopped) return;
      stopped = true;
      post({ op: 'stop' });
    },
  };
  return tracking(core, () => Date.now() - startedAt);
}

const WORKER_SOURCE = `
const { writeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
// esbuild's keepNames helper (tsx compiles with it), which the compiled source may call.
const __name = (target) => target;
const progressCore = ${progressCore.toString()};
const core = progressCore((text) => writeSync(2, text), { clock: Date.now, startedAt: workerData.startedAt });
parentPort.on('message', (m) => {
  if (m.op === 'step') core.step(m.text);
  else if (m.op === 'begin') core.begin(m.id, m.name);
  else if (m.op === 'end') core.end(m.id);
  else if (m.op === 'printed') core.printed();
  else { core.stop(); parentPort.close(); }
});
`;
