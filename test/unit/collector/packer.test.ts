import { describe, expect, test } from 'vitest';
import {
  DEFAULT_PARTITION_LANES,
  laneHashKey,
  lanePartitionKey,
  type SealedBatch,
  ShardPacker,
} from '../../../collector-edge/packer.ts';
import { flowRoutingHash, PUT_PAYLOAD_UNIT_BYTES } from '../../../collector-edge/shard-map.ts';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { flowBucketOf } from '../../../core/flow-routing.ts';
import { decodeWireBatch, WireBatchBuilder } from '../../../core/wire.ts';
import { evenShards, simulatedRecords } from './fixtures.ts';

function packAll(
  records = simulatedRecords({ seed: 7, connections: 400, polls: 6 }),
  shards = 4,
  flowBuckets = 0,
) {
  const sealed: SealedBatch[] = [];
  let now = 0;
  const packer = new ShardPacker({
    targetBytes: 25_000,
    lingerMs: 500,
    flowBuckets,
    now: () => now,
    onSealed: (b) => sealed.push(b),
  });
  const map = evenShards(shards);
  packer.setShardMap(map);
  for (const record of records) {
    packer.add(record);
    now += 1;
  }
  const sealedBySize = sealed.length;
  packer.flushAll();
  return { records, sealed, map, sealedBySize };
}

describe('shard packer', () => {
  test("with the flow store's buckets: every flow of a bucket gets one partition key and hash key", () => {
    const buckets = 40;
    const { records, sealed } = packAll(
      simulatedRecords({ seed: 5, connections: 600, polls: 4 }),
      4,
      buckets,
    );
    const lanesOfBucket = new Map<number, Set<string>>();
    for (const batch of sealed) {
      for (const record of decodeWireBatch(batch.data)) {
        const bucket = flowBucketOf(flowKeyOf(record), buckets);
        const lanes = lanesOfBucket.get(bucket) ?? new Set<string>();
        lanes.add(`${batch.partitionKey} ${batch.explicitHashKey}`);
        lanesOfBucket.set(bucket, lanes);
      }
    }
    expect(sealed.flatMap((b) => decodeWireBatch(b.data))).toHaveLength(records.length);
    expect(lanesOfBucket.size).toBe(buckets);
    for (const lanes of lanesOfBucket.values()) expect(lanes.size).toBe(1);
    // The buckets still spread over the shards' lanes.
    expect(new Set(sealed.map((b) => b.explicitHashKey)).size).toBeGreaterThan(16);
  });

  test('every record lands exactly once, in a batch of its own shard, in arrival order per shard', () => {
    const { records, sealed, map } = packAll();
    const unpacked = sealed.flatMap((b) => decodeWireBatch(b.data));
    expect(unpacked).toHaveLength(records.length);
    expect(unpacked.map((r) => r.sequenceNumber).sort((a, b) => a - b)).toEqual(
      records.map((r) => r.sequenceNumber),
    );
    expect(new Set(unpacked.map((r) => r.sequenceNumber)).size).toBe(records.length);
    for (const batch of sealed) {
      // The explicit hash key routes the record into the shard that owns every flow key inside it.
      const shard = map.indexOfHashKey(BigInt(batch.explicitHashKey!));
      expect(shard).toBeGreaterThanOrEqual(0);
      const decoded = decodeWireBatch(batch.data);
      expect(batch.recordCount).toBe(decoded.length);
      for (const record of decoded) expect(map.indexOfRoutingHash(flowRoutingHash(record))).toBe(shard);
      const sequence = decoded.map((r) => r.sequenceNumber);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    }
  });

  test('lanes: every record of a flow key gets the same partition key, from every Node and round', () => {
    const { sealed, map } = packAll(simulatedRecords({ seed: 11, connections: 600, polls: 8 }), 4);
    const partitionKeyOf = new Map<string, Set<string>>();
    const hashKeyOfFlow = new Map<string, Set<string>>();
    let twoNodeFlows = 0;
    const exportersOf = new Map<string, Set<string>>();
    for (const batch of sealed) {
      for (const record of decodeWireBatch(batch.data)) {
        const key = flowKeyOf(record);
        if (!partitionKeyOf.has(key)) partitionKeyOf.set(key, new Set());
        if (!hashKeyOfFlow.has(key)) hashKeyOfFlow.set(key, new Set());
        if (!exportersOf.has(key)) exportersOf.set(key, new Set());
        partitionKeyOf.get(key)!.add(batch.partitionKey);
        hashKeyOfFlow.get(key)!.add(batch.explicitHashKey!);
        exportersOf.get(key)!.add(record.exporterAddress);
      }
    }
    for (const [key, keys] of partitionKeyOf) {
      expect(keys.size, key).toBe(1);
      expect(hashKeyOfFlow.get(key)!.size, key).toBe(1);
      if (exportersOf.get(key)!.size > 1) twoNodeFlows++;
    }
    expect(twoNodeFlows).toBeGreaterThan(100); // both halves of inter-Node flows were exercised
    // Flows spread over every lane, and each (shard, lane) has its own fixed point in the shard's range.
    const lanesUsed = new Set(sealed.map((b) => b.partitionKey));
    expect(lanesUsed).toEqual(
      new Set(Array.from({ length: DEFAULT_PARTITION_LANES }, (_, lane) => lanePartitionKey(lane))),
    );
    for (const batch of sealed) {
      const lane = Number(batch.partitionKey.slice(1));
      const shard = map.shards[map.indexOfHashKey(BigInt(batch.explicitHashKey!))]!;
      expect(batch.explicitHashKey).toBe(
        laneHashKey(shard.startingHashKey, shard.endingHashKey, lane, DEFAULT_PARTITION_LANES).toString(),
      );
    }
  });

  test('lane hash keys stay inside the range and are distinct per lane', () => {
    for (const [start, end] of [
      [0n, (1n << 128n) - 1n],
      [100n, 131n],
      [5n, 5n + 15n],
    ] as const) {
      const keys = Array.from({ length: 16 }, (_, lane) => laneHashKey(start, end, lane, 16));
      for (const key of keys) {
        expect(key >= start && key <= end).toBe(true);
      }
      expect(new Set(keys).size).toBe(16);
    }
  });

  test('no batch exceeds the target; full batches fill at least 95% of it and one PUT payload unit', () => {
    const { sealed, sealedBySize } = packAll(simulatedRecords({ seed: 7, connections: 1000, polls: 8 }), 1);
    const sizes = sealed.map((b) => b.data.length + Buffer.byteLength(b.partitionKey));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(25_000);
    const full = sealed.slice(0, sealedBySize);
    expect(full.length).toBeGreaterThan(4);
    for (const batch of full) {
      const size = batch.data.length + Buffer.byteLength(batch.partitionKey);
      expect(size).toBeGreaterThan(0.95 * 25_000);
      expect(size).toBeLessThanOrEqual(PUT_PAYLOAD_UNIT_BYTES);
      expect(batch.recordCount).toBeGreaterThanOrEqual(20);
    }
  });

  test('a batch is sealed only when its next record does not fit (exact size, not an upper bound)', () => {
    // One shard: a partition key names one open batch at a time. Every batch but a lane's last must be past
    // the target with the first record of the batch after it.
    const { sealed } = packAll(simulatedRecords({ seed: 7, connections: 1000, polls: 8 }), 1);
    const byLane = new Map<string, SealedBatch[]>();
    for (const batch of sealed)
      byLane.set(batch.partitionKey, [...(byLane.get(batch.partitionKey) ?? []), batch]);
    let checked = 0;
    for (const batches of byLane.values()) {
      for (let i = 0; i + 1 < batches.length; i++) {
        const records = decodeWireBatch(batches[i]!.data);
        const next = decodeWireBatch(batches[i + 1]!.data)[0]!;
        const builder = new WireBatchBuilder();
        for (const record of [...records, next]) builder.add(record);
        expect(builder.byteLength + Buffer.byteLength(batches[i]!.partitionKey)).toBeGreaterThan(25_000);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(4);
  });

  test('linger: a batch is sealed once its first record waited lingerMs, not before', () => {
    let now = 1000;
    const sealed: SealedBatch[] = [];
    const packer = new ShardPacker({
      targetBytes: 25_000,
      lingerMs: 500,
      now: () => now,
      onSealed: (b) => sealed.push(b),
    });
    const [first] = simulatedRecords({ seed: 1, connections: 5, polls: 1 });
    const second = { ...first!, sequenceNumber: first!.sequenceNumber + 1 }; // same flow: same lane
    packer.add(first!);
    now += 499;
    packer.sealDue();
    expect(sealed).toHaveLength(0);
    packer.add(second);
    now += 1;
    packer.sealDue();
    expect(sealed).toHaveLength(1);
    expect(sealed[0]!.recordCount).toBe(2);
    expect(packer.pendingRecords).toBe(0);
  });

  test('a new shard map seals the batches built for the old one', () => {
    const sealed: SealedBatch[] = [];
    const packer = new ShardPacker({
      targetBytes: 25_000,
      lingerMs: 500,
      now: () => 0,
      onSealed: (b) => sealed.push(b),
    });
    packer.setShardMap(evenShards(2));
    for (const record of simulatedRecords({ seed: 2, connections: 20, polls: 1 })) packer.add(record);
    expect(sealed).toHaveLength(0);
    packer.setShardMap(evenShards(2)); // same map: nothing happens
    expect(sealed).toHaveLength(0);
    packer.setShardMap(evenShards(8));
    expect(sealed.length).toBeGreaterThan(0);
    expect(packer.pendingRecords).toBe(0);
  });

  test('without a shard map records are still packed, one lane key per flow', () => {
    const sealed: SealedBatch[] = [];
    const packer = new ShardPacker({
      targetBytes: 25_000,
      lingerMs: 500,
      now: () => 0,
      onSealed: (b) => sealed.push(b),
    });
    const records = simulatedRecords({ seed: 2, connections: 20, polls: 1 });
    for (const record of records) packer.add(record);
    packer.flushAll();
    expect(sealed.reduce((n, b) => n + b.recordCount, 0)).toBe(records.length);
    expect(sealed.length).toBeLessThanOrEqual(DEFAULT_PARTITION_LANES);
    expect(new Set(sealed.map((b) => b.partitionKey)).size).toBe(sealed.length);
    for (const batch of sealed) {
      const lane = Number(batch.partitionKey.slice(1));
      // Lanes spread over the whole key space, so a flow keeps one shard even before ListShards answers.
      expect(batch.explicitHashKey).toBe(
        laneHashKey(0n, (1n << 128n) - 1n, lane, DEFAULT_PARTITION_LANES).toString(),
      );
    }
  });

  test('one lane: a single open batch per shard, still within the target', () => {
    const sealed: SealedBatch[] = [];
    const packer = new ShardPacker({
      targetBytes: 25_000,
      lingerMs: 500,
      now: () => 0,
      onSealed: (b) => sealed.push(b),
      lanes: 1,
    });
    packer.setShardMap(evenShards(2));
    const records = simulatedRecords({ seed: 5, connections: 300, polls: 2 });
    for (const record of records) packer.add(record);
    packer.flushAll();
    expect(new Set(sealed.map((b) => b.partitionKey))).toEqual(new Set(['l0']));
    expect(sealed.reduce((n, b) => n + b.recordCount, 0)).toBe(records.length);
    for (const batch of sealed) expect(batch.data.length + 2).toBeLessThanOrEqual(25_000);
    expect(
      () => new ShardPacker({ targetBytes: 1, lingerMs: 1, now: () => 0, onSealed: () => {}, lanes: 0 }),
    ).toThrow();
  });
});
