// Small statistics the benchmark modules share.

/** The middle item by `key` (the upper middle of an even count); undefined for none. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor(items.length / 2)];
}

/** The middle value (the upper middle of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  return medianBy(values, (value) => value) ?? Number.NaN;
}
