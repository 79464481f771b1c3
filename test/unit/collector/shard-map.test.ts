import { describe, expect, test } from 'vitest';
import {
  flowRoutingHash,
  laneHashOf,
  PUT_PAYLOAD_UNIT_BYTES,
  putPayloadUnits,
  ShardMap,
} from '../../../collector-edge/shard-map.ts';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { emptyFlowRecord, FlowType } from '../../../core/flow-record.ts';
import { evenShards, MAX_HASH_KEY as MAX, simulatedRecords } from './fixtures.ts';

describe('shard map', () => {
  test('routing hash: a function of the flow key alone (both halves, SNAT rule), spread evenly', () => {
    const records = simulatedRecords({ seed: 4, connections: 2000, polls: 2 });
    const byKey = new Map<string, number>();
    for (const record of records) {
      const key = flowKeyOf(record);
      const hash = flowRoutingHash(record);
      expect(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32).toBe(true);
      if (byKey.has(key)) expect(hash, key).toBe(byKey.get(key));
      else byKey.set(key, hash);
    }
    expect(new Set(byKey.values()).size).toBe(byKey.size); // no collisions among 2,000 flows
    // Buckets of the high bits (shards) and of the lane hash are even within a loose tolerance.
    const shards = new Array(8).fill(0);
    const lanes = new Array(16).fill(0);
    for (const hash of byKey.values()) {
      shards[Math.floor(hash / 2 ** 29)]++;
      lanes[laneHashOf(hash) % 16]++;
    }
    for (const n of shards) expect(n).toBeGreaterThan((byKey.size / 8) * 0.7);
    for (const n of lanes) expect(n).toBeGreaterThan((byKey.size / 16) * 0.6);
    // The ingress-Node half of a from-external flow is keyed on its SNAT address, like its peer.
    const peer = {
      ...emptyFlowRecord(),
      sourceIP: '10.0.0.9',
      destinationIP: '10.0.1.5',
      protocolIdentifier: 6,
      sourceTransportPort: 40000,
      destinationTransportPort: 80,
      flowType: FlowType.FromExternal,
      destinationPodName: 'web',
    };
    const ingress = {
      ...peer,
      sourceIP: '203.0.113.7',
      sourceTransportPort: 5555,
      destinationPodName: '',
      proxySnatIP: '10.0.0.9',
      proxySnatPort: 40000,
    };
    expect(flowKeyOf(ingress)).toBe(flowKeyOf(peer));
    expect(flowRoutingHash(ingress)).toBe(flowRoutingHash(peer));
  });

  test('a routing hash maps to the shard owning its 128-bit key, for uneven ranges too', () => {
    const cuts = [0n, 3n << 120n, (1n << 127n) + 12345n, (7n << 125n) - 1n];
    const map = new ShardMap(
      cuts.map((start, i) => ({
        shardId: `s${i}`,
        startingHashKey: start,
        endingHashKey: i + 1 < cuts.length ? cuts[i + 1]! - 1n : MAX,
      })),
    );
    const probes = [0, 1, 2 ** 31, 2 ** 32 - 1, 3 * 2 ** 24, 3 * 2 ** 24 - 1, 2 ** 31 + 1, 7 * 2 ** 29 - 1];
    for (let i = 0; i < 200; i++) probes.push(Math.floor(((i * 2654435761) % 2 ** 32) >>> 0));
    for (const hash of probes) {
      const key = (BigInt(hash) << 96n) + (1n << 95n);
      expect(map.indexOfRoutingHash(hash), String(hash)).toBe(map.indexOfHashKey(key));
    }
    const gap = new ShardMap([{ shardId: 'a', startingHashKey: 1n << 127n, endingHashKey: MAX }]);
    expect(gap.indexOfRoutingHash(0)).toBe(-1);
    expect(gap.indexOfRoutingHash(2 ** 32 - 1)).toBe(0);
  });

  test('finds the shard whose range holds the hash, at the edges too', () => {
    const map = evenShards(4);
    expect(map.indexOfHashKey(0n)).toBe(0);
    expect(map.indexOfHashKey(MAX)).toBe(3);
    expect(map.indexOfHashKey((MAX + 1n) / 4n)).toBe(1);
    expect(map.indexOfHashKey((MAX + 1n) / 4n - 1n)).toBe(0);
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
