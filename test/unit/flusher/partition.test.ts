// N flushers (issue 15): each owns the due shards s with s mod N = its index and its own manifest slots.
import { describe, expect, it } from 'vitest';
import { EnvConfigError } from '../../../functions/flow-store/config.ts';
import {
  allDueShards,
  MANIFEST_PK_PREFIX,
  manifestPrefixOf,
  ownedDueShards,
} from '../../../functions/flow-store/schema.ts';
import { partitionFromEnv } from '../../../functions/flusher/config.ts';

describe('flusher partitions', () => {
  it('the shards of N flushers are disjoint and cover the index, for every N up to the shard count', () => {
    for (let count = 1; count <= 16; count++) {
      const owned = Array.from({ length: count }, (_, index) => ownedDueShards({ index, count }, 16));
      expect(owned.flat().sort()).toEqual(allDueShards(16).sort());
      expect(Math.min(...owned.map((o) => o.length))).toBeGreaterThanOrEqual(Math.floor(16 / count));
    }
  });
  it('flusher 0 keeps the single flusher manifest slots; the others have their own', () => {
    expect(manifestPrefixOf(0)).toBe('flusher#slot#');
    expect(manifestPrefixOf(3)).toBe('flusher#3#slot#');
    for (const i of [0, 1, 2, 3]) expect(manifestPrefixOf(i).startsWith(MANIFEST_PK_PREFIX)).toBe(true);
  });
  it('FLUSHER_INDEX of FLUSHER_COUNT from the environment, 0 of 1 by default, refused when out of range', () => {
    expect(partitionFromEnv({}, 16)).toEqual({ index: 0, count: 1 });
    expect(partitionFromEnv({ FLUSHER_COUNT: '4', FLUSHER_INDEX: '3' }, 16)).toEqual({ index: 3, count: 4 });
    expect(() => partitionFromEnv({ FLUSHER_COUNT: '4', FLUSHER_INDEX: '4' }, 16)).toThrow(EnvConfigError);
    expect(() => partitionFromEnv({ FLUSHER_COUNT: '4', FLUSHER_INDEX: '-1' }, 16)).toThrow(/FLUSHER_INDEX/);
    expect(() => partitionFromEnv({ FLUSHER_COUNT: '17' }, 16)).toThrow(/at most DUE_SHARD_COUNT/);
  });
});
