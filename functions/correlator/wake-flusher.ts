// Waking a resting flusher. At rest the flusher ends each scheduled invocation after one round (nothing is
// open), so without a wake-up the first flow after a quiet spell would wait up to a minute for the next
// EventBridge tick before it is exported. The correlator, which is the first to know that flows exist,
// invokes the flusher asynchronously when it creates flows, at most once per `minIntervalMs` per container:
// an optimisation of latency only (the schedule still runs every minute, so a failed or throttled wake loses
// nothing), and nearly free under load, where the flusher runs anyway and Lambda throttles the extra
// invocation against its reserved concurrency of 1.

export interface FlusherWake {
  /** Called after each batch with the number of flows it created; invokes at most once per interval. */
  afterBatch(flowsCreated: number): Promise<void>;
}

export function createFlusherWake(options: {
  invoke: () => Promise<void>;
  now: () => number;
  minIntervalMs: number;
  onError: (error: unknown) => void;
}): FlusherWake {
  let lastInvokeAt = Number.NEGATIVE_INFINITY;
  return {
    async afterBatch(flowsCreated) {
      if (flowsCreated === 0) return;
      const now = options.now();
      if (now - lastInvokeAt < options.minIntervalMs) return;
      lastInvokeAt = now;
      try {
        await options.invoke();
      } catch (error) {
        options.onError(error);
      }
    },
  };
}

/** How often one correlator container may wake the flusher: once per commit interval's worth of schedule. */
export const FLUSHER_WAKE_INTERVAL_MS = 60_000;
