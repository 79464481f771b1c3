// Start-up progress of local mode: a line per finished step, and while nothing else is printed, a line at
// least every `quietMs` naming what is still being waited for, so a slow first start on a busy machine never
// looks hung. Created before local mode's modules load (cli/commands/local.ts), so loading is covered too.

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

export function startupProgress(
  write: (text: string) => void,
  options: { quietMs?: number; clock?: () => number } = {},
): StartupProgress {
  const clock = options.clock ?? (() => performance.now());
  const quietMs = options.quietMs ?? 1200;
  const started = clock();
  const pending = new Map<string, number>();
  let lastLineAt = started;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const step = (text: string) => {
    lastLineAt = clock();
    write(`[${seconds(lastLineAt - started)}] ${text}\n`);
  };
  const timer = setInterval(() => {
    if (clock() - lastLineAt < quietMs) return;
    const waiting = [...pending].map(([name, since]) => `${name} (${seconds(clock() - since)})`);
    step(waiting.length > 0 ? `waiting for ${waiting.join(', ')}` : 'starting');
  }, 250);
  timer.unref();
  return {
    step,
    async track(name, work) {
      pending.set(name, clock());
      try {
        return await work;
      } finally {
        pending.delete(name);
      }
    },
    printed: () => {
      lastLineAt = clock();
    },
    elapsedMs: () => clock() - started,
    stop: () => clearInterval(timer),
  };
}
