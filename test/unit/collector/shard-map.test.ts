import { describe, expect, test } from 'vitest';
import {
  hashKeyOf,
  PUT_PAYLOAD_UNIT_BYTES,
  putPayloadUnits,
  ShardMap,
} from '../../../collector-edge/shard-map.ts';

import { evenShards, MAX_HASH_KEY as MAX } from './fixtures.ts';

describe('shard map', () => {
  test('MD5 of the partition key as Kinesis computes it', () => {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    expect(hashKeyOf('')).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
  });

  test('finds the shard whose range holds the hash, at the edges too', () => {
    const map = evenShards(4);
    expect(map.indexOfHashKey(0n)).toBe(0);
    expect(map.indexOfHashKey(MAX)).toBe(3);
    expect(map.indexOfHashKey((MAX + 1n) / 4n)).toBe(1);
    expect(map.indexOfHashKey((MAX + 1n) / 4n - 1n)).toBe(0);
    const key = '10.0.0.1|10.0.0.2|6|1234|80';
    expect(map.indexOfKey(key)).toBe(map.indexOfHashKey(hashKeyOf(key)));
  });

  test('a gap in the ranges (closed parent not listed) gives -1, overlaps are refused', () => {
    const map = new ShardMap([{ shardId: 'a', startingHashKey: 10n, endingHashKey: 20n }]);
    expect(map.indexOfHashKey(5n)).toBe(-1);
    expect(
      () =>
        new ShardMap([
          { shardId: 'a', startingHashKey: 0n, endingHashKey: 20n },
          { shardId: 'b', startingHashKey: 20n, endingHashKey: 30n },
        ]),
    ).toThrow(/overlap/);
  });

  test('sameAs compares ids and ranges', () => {
    expect(evenShards(4).sameAs(evenShards(4))).toBe(true);
    expect(evenShards(4).sameAs(evenShards(5))).toBe(false);
  });

  test('PUT payload units', () => {
    expect(putPayloadUnits(1)).toBe(1);
    expect(putPayloadUnits(PUT_PAYLOAD_UNIT_BYTES)).toBe(1);
    expect(putPayloadUnits(PUT_PAYLOAD_UNIT_BYTES + 1)).toBe(2);
  });
});
