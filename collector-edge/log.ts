// Structured logging for the long-running collector: one JSON object per line on stderr, so the container
// runtime (and CloudWatch / Loki) can parse it. Levels below the configured one cost a comparison only.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const LOG_LEVELS = Object.keys(rank) as LogLevel[];

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const threshold = rank[level];
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (rank[at] < threshold) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: at, message, ...fields };
    if (fields?.error instanceof Error) entry.error = fields.error.message;
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/**
 * Rate-limited logging for per-input problems (garbage from an exporter would otherwise flood the log):
 * at most `perInterval` lines per key and interval; the rest are counted in metrics only.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly perInterval = 5,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  allow(key: string): boolean {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.intervalMs) {
      if (this.windows.size > 10_000) this.windows.clear();
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    return ++window.count <= this.perInterval;
  }
}
