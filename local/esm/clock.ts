// Time source of the emulator. Batching windows, retry backoff and record age are decided against this clock,
// so tests drive them deterministically with ManualClock instead of waiting on the wall clock.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/**
 * Virtual time: `sleep` advances the clock by the requested amount and returns at once, and `advance` moves it
 * by hand. Every sleep is recorded so tests can assert backoff schedules.
 */
export class ManualClock implements Clock {
  readonly sleeps: number[] = [];
  #now: number;

  constructor(startMs: number = Date.now()) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  set(ms: number): void {
    this.#now = ms;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.#now += Math.max(0, ms);
  }
}

/**
 * Time that runs `factor` times as fast as the wall clock: a sleep takes 1/factor of its length in real
 * time. For a mapping that runs on its own, in the background, while the rest of a run follows event time
 * (local/runner/event-time-pipeline.ts): its batching windows and retry backoffs keep their proportions
 * and their order but pass quickly, and a function that keeps failing is retried at a bounded rate.
 */
export class AcceleratedClock implements Clock {
  readonly #factor: number;
  readonly #startMs: number;
  readonly #startedAt = performance.now();

  constructor(factor: number, startMs: number = Date.now()) {
    if (!(factor >= 1))
      throw new Error(`an accelerated clock runs at least as fast as real time, not ${factor}x`);
    this.#factor = factor;
    this.#startMs = startMs;
  }

  now(): number {
    return Math.floor(this.#startMs + (performance.now() - this.#startedAt) * this.#factor);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms / this.#factor, signal);
  }
}
