// N tickers (issue 15): each owns the due shards s with s mod N = its index.
import { describe, expect, it } from 'vitest';
import { EnvConfigError } from '../../../functions/flow-store/config.ts';
import { allDueShards, ownedDueShards } from '../../../functions/flow-store/schema.ts';
import { partitionFromEnv } from '../../../functions/ticker/config.ts';

describe('ticker partitions', () => {
  it('the shards of N tickers are disjoint and cover the index, for every N up to the shard count', () => {
    for (let count = 1; count <= 16; count++) {
      const owned = Array.from({ length: count }, (_, index) => ownedDueShards({ index, count }, 16));
      expect(owned.flat().sort()).toEqual(allDueShards(16).sort());
      expect(Math.min(...owned.map((o) => o.length))).toBeGreaterThanOrEqual(Math.floor(16 / count));
    }
  });
  it('TICKER_INDEX of TICKER_COUNT from the environment, 0 of 1 by default, refused when out of range', () => {
    expect(partitionFromEnv({}, 16)).toEqual({ index: 0, count: 1 });
    expect(partitionFromEnv({ TICKER_COUNT: '4', TICKER_INDEX: '3' }, 16)).toEqual({ index: 3, count: 4 });
    expect(() => partitionFromEnv({ TICKER_COUNT: '4', TICKER_INDEX: '4' }, 16)).toThrow(EnvConfigError);
    expect(() => partitionFromEnv({ TICKER_COUNT: '4', TICKER_INDEX: '-1' }, 16)).toThrow(/TICKER_INDEX/);
    expect(() => partitionFromEnv({ TICKER_COUNT: '17' }, 16)).toThrow(/at most DUE_SHARD_COUNT/);
  });
});
