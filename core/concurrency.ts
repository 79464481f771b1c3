// Bounded concurrency for I/O-bound work (conditional writes, inserts): at most `limit` calls of `work` in
// flight, over items often grouped first into requests of a service's size limit.

/** `items` in consecutive groups of `size` (the last may be shorter), in order. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Runs `work` on every item, at most `limit` at a time. After a failure no new item starts; the calls
 * already in flight finish (so nothing runs on after the caller has moved on), then it rejects with the
 * first error.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      try {
        await work(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}
