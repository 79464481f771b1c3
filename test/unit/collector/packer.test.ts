import { describe, expect, test } from 'vitest';
import { type SealedBatch, ShardPacker } from '../../../collector-edge/packer.ts';
import { hashKeyOf, PUT_PAYLOAD_UNIT_BYTES } from '../../../collector-edge/shard-map.ts';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { decodeWireBatch, encodedSizeBound, WireBatchBuilder } from '../../../core/wire.ts';
import { evenShards, simulatedRecords } from './fixtures.ts';

function packAll(records = simulatedRecords({ seed: 7, connections: 400, polls: 6 }), shards = 4) {
  const sealed: SealedBatch[] = [];
  let now = 0;
  const packer = new ShardPacker({
    targetBytes: 25_000,
    lingerMs: 500,
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
  test('every record lands exactly once, in a batch of its own shard, in arrival order per shard', () => {
    const { records, sealed, map } = packAll();
    const unpacked = sealed.flatMap((b) => decodeWireBatch(b.data));
    expect(unpacked).toHaveLength(records.length);
    expect(unpacked.map((r) => r.sequenceNumber).sort((a, b) => a - b)).toEqual(
      records.map((r) => r.sequenceNumber),
    );
    for (const batch of sealed) {
      const shard = map.indexOfHashKey(BigInt(batch.explicitHashKey!));
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(batch.explicitHashKey).toBe(hashKeyOf(batch.partitionKey).toString());
      const decoded = decodeWireBatch(batch.data);
      expect(batch.recordCount).toBe(decoded.length);
      for (const record of decoded) expect(map.indexOfKey(flowKeyOf(record))).toBe(shard);
      const sequence = decoded.map((r) => r.sequenceNumber);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    }
  });

  test('no batch exceeds the target; full batches fill at least 95% of it and one PUT payload unit', () => {
    const { sealed, sealedBySize } = packAll();
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

  test('encodedSizeBound is an upper bound of what a record adds', () => {
    const records = simulatedRecords({ seed: 3, connections: 50, polls: 2 });
    const builder = new WireBatchBuilder();
    for (const record of records) {
      const before = builder.byteLength;
      builder.add(record);
      expect(builder.byteLength - before).toBeLessThanOrEqual(encodedSizeBound(record));
    }
    const unicode = { ...records[0]!, sourcePodName: 'pöd-😀'.repeat(30) };
    const fresh = new WireBatchBuilder();
    const before = fresh.byteLength;
    fresh.add(unicode);
    expect(fresh.byteLength - before).toBeLessThanOrEqual(encodedSizeBound(unicode));
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
    const [first, second] = simulatedRecords({ seed: 1, connections: 5, polls: 1 });
    packer.add(first!);
    now += 499;
    packer.sealDue();
    expect(sealed).toHaveLength(0);
    packer.add(second!);
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

  test('without a shard map records are still packed (no explicit hash key)', () => {
    const sealed: SealedBatch[] = [];
    const packer = new ShardPacker({
      targetBytes: 25_000,
      lingerMs: 500,
      now: () => 0,
      onSealed: (b) => sealed.push(b),
    });
    for (const record of simulatedRecords({ seed: 2, connections: 20, polls: 1 })) packer.add(record);
    packer.flushAll();
    expect(sealed).toHaveLength(1);
    expect(sealed[0]!.explicitHashKey).toBeUndefined();
  });
});
