// Bounded concurrency for I/O-bound work (conditional writes): at most `limit` calls of `work` in flight.

/** Runs `work` on every item, at most `limit` at a time; rejects with the first error. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
