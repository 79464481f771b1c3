// The round loop of a scheduled function (the ticker; the flusher before it): EventBridge Scheduler ticks at
// most once a minute, so an invocation runs rounds every interval for most of that minute, and stops early
// once a round finds nothing left to do. Reserved concurrency 1 keeps one loop per function.

/** What the loop needs of a round's report. */
export interface LoopReport {
  ok: boolean;
  /** No open flow left in the due index (unset when unknown). */
  atRest?: boolean;
}

export interface LoopOptions<R extends LoopReport = LoopReport> {
  /** How long this invocation keeps going (Lambda: RUN_FOR_SECONDS, below the function timeout). */
  runForMs: number;
  /** Antrea's commitInterval. */
  intervalMs: number;
  /** Longest wait after repeated failures. */
  maxBackoffMs: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  onRound?: (report: R) => void;
}

/**
 * Whether a round leaves the rest of the invocation with nothing to do: it succeeded and no open flow
 * remains in the due index. Then every later round of this invocation would find
 * nothing due and would only poll DynamoDB; the next scheduled invocation (a minute after this one
 * started) takes over. While any flow is open the loop keeps its commitInterval rounds, so the export
 * schedule of live flows is unchanged; only the first flow after a quiet spell waits for that invocation.
 */
export function endsInvocation(report: LoopReport): boolean {
  return report.ok && report.atRest === true;
}

/**
 * Rounds every intervalMs until runForMs is used up, or until a round finds the flow store at rest
 * (endsInvocation); after a failed round the next one waits intervalMs x 2^(failures-1), capped. The
 * failure streak lives on the FlushLoop, so a warm Lambda container keeps backing off across invocations.
 */
export class RoundLoop<R extends LoopReport> {
  private failureStreak = 0;

  constructor(private readonly worker: { round(): Promise<R> }) {}

  get consecutiveFailures(): number {
    return this.failureStreak;
  }

  async run(options: LoopOptions<R>): Promise<R[]> {
    const reports: R[] = [];
    const end = options.clock() + options.runForMs;
    for (;;) {
      const started = options.clock();
      const report = await this.worker.round();
      reports.push(report);
      options.onRound?.(report);
      this.failureStreak = report.ok ? 0 : this.failureStreak + 1;
      if (endsInvocation(report)) break;
      const wait = report.ok
        ? options.intervalMs
        : Math.min(options.maxBackoffMs, options.intervalMs * 2 ** (this.failureStreak - 1));
      const nextAt = started + wait;
      if (nextAt >= end) break;
      const delay = nextAt - options.clock();
      if (delay > 0) await options.sleep(delay);
    }
    return reports;
  }
}
