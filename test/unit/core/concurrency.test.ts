import { describe, expect, it } from 'vitest';
import { chunksOf, forEachLimited } from '../../../core/concurrency.ts';

/** A promise the test settles by hand, so interleavings are explicit rather than timed. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('forEachLimited', () => {
  it('keeps at most `limit` calls in flight and runs every item', async () => {
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    const done = forEachLimited([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      await gates[i]!.promise;
    });
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    await done;
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('after a failure starts nothing new, lets the calls in flight finish, then rejects with the first error', async () => {
    const gates = Array.from({ length: 4 }, deferred);
    const finished: number[] = [];
    let settled = false;
    const done = forEachLimited([0, 1, 2, 3], 2, async (i) => {
      await gates[i]!.promise;
      finished.push(i);
    }).finally(() => {
      settled = true;
    });
    await tick();
    gates[0]!.reject(new Error('first'));
    await tick();
    expect(settled).toBe(false); // item 1 is still in flight
    gates[1]!.resolve();
    await expect(done).rejects.toThrow('first');
    expect(finished).toEqual([1]); // items 2 and 3 never started
  });

  it('handles no items', async () => {
    await expect(forEachLimited([], 4, async () => {})).resolves.toBeUndefined();
  });
});

describe('chunksOf', () => {
  it('groups items in order, the last group shorter; none for no items', () => {
    expect(chunksOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunksOf([1, 2, 3, 4], 2)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(chunksOf([], 25)).toEqual([]);
    expect(() => chunksOf([1], 0)).toThrow(RangeError);
  });
});
