import { describe, expect, it } from 'vitest';
import { createFlusherWake } from '../../../functions/correlator/wake-flusher.ts';

function wakeWith(invoke: () => Promise<void>) {
  const clock = { now: 1_000_000 };
  const errors: unknown[] = [];
  const wake = createFlusherWake({
    invoke,
    now: () => clock.now,
    minIntervalMs: 60_000,
    onError: (error) => errors.push(error),
  });
  return { wake, clock, errors };
}

describe('waking a resting flusher', () => {
  it('invokes only for batches that created flows, at most once per interval', async () => {
    let invocations = 0;
    const { wake, clock } = wakeWith(async () => {
      invocations += 1;
    });
    await wake.afterBatch(0);
    expect(invocations).toBe(0);
    await wake.afterBatch(3);
    await wake.afterBatch(5);
    expect(invocations).toBe(1);
    clock.now += 59_999;
    await wake.afterBatch(1);
    expect(invocations).toBe(1);
    clock.now += 1;
    await wake.afterBatch(1);
    expect(invocations).toBe(2);
  });

  it('reports a failed invocation instead of failing the batch, and waits the interval before trying again', async () => {
    let attempts = 0;
    const { wake, clock, errors } = wakeWith(async () => {
      attempts += 1;
      throw new Error('TooManyRequestsException');
    });
    await expect(wake.afterBatch(2)).resolves.toBeUndefined();
    await wake.afterBatch(2);
    expect(attempts).toBe(1);
    expect(errors).toHaveLength(1);
    clock.now += 60_000;
    await wake.afterBatch(2);
    expect(attempts).toBe(2);
  });
});
