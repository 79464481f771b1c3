// Where a flow record goes: Kinesis routes a record by the MD5 of its partition key, or by an explicit hash
// key, into the open shard whose hash-key range contains it. The producer groups records by that shard so
// that one packed Kinesis record holds only flows of its shard (both halves of a flow meet in one shard), and
// sends each group with an explicit hash key inside the shard's range. Pure: no AWS imports.
import { hash } from 'node:crypto';

export interface ShardRange {
  shardId: string;
  /** Inclusive hash-key range, 128-bit unsigned. */
  startingHashKey: bigint;
  endingHashKey: bigint;
}

/** MD5 of the text as a 128-bit unsigned integer, as Kinesis hashes partition keys. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${hash('md5', partitionKey, 'hex')}`);
}

export class ShardMap {
  readonly shards: readonly ShardRange[];
  /** Flow key -> shard index; flows repeat every export interval, so MD5 is paid once per flow. */
  private readonly cache = new Map<string, number>();
  private static readonly cacheLimit = 200_000;

  constructor(shards: ShardRange[]) {
    const open = [...shards].sort((a, b) => (a.startingHashKey < b.startingHashKey ? -1 : 1));
    for (let i = 1; i < open.length; i++) {
      if (open[i]!.startingHashKey <= open[i - 1]!.endingHashKey)
        throw new Error(`shards ${open[i - 1]!.shardId} and ${open[i]!.shardId} overlap`);
    }
    this.shards = open;
  }

  get size(): number {
    return this.shards.length;
  }

  /** Index into `shards` of the shard owning this hash key; -1 if no open shard covers it. */
  indexOfHashKey(hashKey: bigint): number {
    let low = 0;
    let high = this.shards.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const shard = this.shards[mid]!;
      if (hashKey < shard.startingHashKey) high = mid - 1;
      else if (hashKey > shard.endingHashKey) low = mid + 1;
      else return mid;
    }
    return -1;
  }

  indexOfKey(partitionKey: string): number {
    let index = this.cache.get(partitionKey);
    if (index === undefined) {
      index = this.indexOfHashKey(hashKeyOf(partitionKey));
      if (this.cache.size >= ShardMap.cacheLimit) this.cache.clear();
      this.cache.set(partitionKey, index);
    }
    return index;
  }

  /** Same open shards (ids and ranges) as another map. */
  sameAs(other: ShardMap | undefined): boolean {
    if (!other || other.shards.length !== this.shards.length) return false;
    return this.shards.every(
      (s, i) =>
        s.shardId === other.shards[i]!.shardId &&
        s.startingHashKey === other.shards[i]!.startingHashKey &&
        s.endingHashKey === other.shards[i]!.endingHashKey,
    );
  }
}

/**
 * The PUT payload unit of Kinesis pricing: "25 KB". AWS does not say whether that is 25,000 or 25,600 bytes,
 * so Flowline counts (and sizes its records) with the smaller one: a count that holds in both readings.
 */
export const PUT_PAYLOAD_UNIT_BYTES = 25_000;

/** PUT payload units a Kinesis record of this many bytes (data + partition key) costs. */
export function putPayloadUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / PUT_PAYLOAD_UNIT_BYTES));
}
