// Where a flow record goes: Kinesis routes a record by the MD5 of its partition key, or by an explicit hash
// key, into the open shard whose hash-key range contains it. The producer groups records by the shard of
// their flow key's routing hash, so that one packed Kinesis record holds only flows of its shard (both
// halves of a flow meet in one shard), and sends each group with an explicit hash key inside the shard's
// range. Pure: no AWS imports.
import { isSourceNodeFromExternalFlow } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { fnvText, mix32, routingHashAfter, routingSourceHash } from '../core/flow-routing.ts';

export interface ShardRange {
  shardId: string;
  /** Inclusive hash-key range, 128-bit unsigned. */
  startingHashKey: bigint;
  endingHashKey: bigint;
}

/** The flow key's source address: the SNAT address for the ingress-Node half of a from-external flow. */
export function routingSourceAddress(record: FlowRecord): string {
  return isSourceNodeFromExternalFlow(record) ? record.proxySnatIP : record.sourceIP;
}

/**
 * A uint32 hash of a record's flow key (the fields of core/flow-key.ts flowTupleOf, SNAT rule included)
 * without building the key text: the collector routes every record by it, so it must be cheap. Equal flow keys
 * give equal hashes on every collector replica (pure integer arithmetic), which is all routing needs.
 * `sourceHash` is routingSourceHash(routingSourceAddress(record)), if the caller has it at hand.
 */
export function flowRoutingHash(
  record: FlowRecord,
  sourceHash = routingSourceHash(routingSourceAddress(record)),
): number {
  return flowRoutingHashAfter(record, fnvText(sourceHash, record.destinationIP));
}

/**
 * flowRoutingHash from `h`, the hash of its two addresses (fnvText(sourceHash, destinationIP)): the packer
 * caches that per address pair, as the same pairs come again and again.
 */
export function flowRoutingHashAfter(record: FlowRecord, h: number): number {
  const snat = isSourceNodeFromExternalFlow(record);
  return routingHashAfter(
    h,
    record.protocolIdentifier,
    snat ? record.proxySnatPort : record.sourceTransportPort,
    record.destinationTransportPort,
  );
}

/** A second hash of a routing hash, independent of its high bits (which pick the shard): picks the lane. */
export function laneHashOf(routingHash: number): number {
  return mix32(routingHash ^ 0x9e3779b9);
}

const HALF_STEP = 1n << 95n;
const STEP = 1n << 96n;

export class ShardMap {
  readonly shards: readonly ShardRange[];
  /**
   * Routing hash h stands for the 128-bit hash key h x 2^96 + 2^95; per shard, the first and last h whose
   * key lies in its range, so a lookup compares plain numbers (no BigInt per record).
   */
  private readonly firstHash: number[];
  private readonly lastHash: number[];

  constructor(shards: ShardRange[]) {
    const open = [...shards].sort((a, b) => (a.startingHashKey < b.startingHashKey ? -1 : 1));
    for (let i = 1; i < open.length; i++) {
      if (open[i]!.startingHashKey <= open[i - 1]!.endingHashKey)
        throw new Error(`shards ${open[i - 1]!.shardId} and ${open[i]!.shardId} overlap`);
    }
    this.shards = open;
    const ceilDiv = (a: bigint, b: bigint) => (a <= 0n ? 0n : (a + b - 1n) / b);
    this.firstHash = open.map((s) => Number(ceilDiv(s.startingHashKey - HALF_STEP, STEP)));
    this.lastHash = open.map((s) =>
      s.endingHashKey < HALF_STEP ? -1 : Number((s.endingHashKey - HALF_STEP) / STEP),
    );
  }

  /** Index into `shards` of the shard owning this routing hash's key; -1 if no open shard covers it. */
  indexOfRoutingHash(routingHash: number): number {
    let low = 0;
    let high = this.shards.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (routingHash < this.firstHash[mid]!) high = mid - 1;
      else if (routingHash > this.lastHash[mid]!) low = mid + 1;
      else return mid;
    }
    return -1;
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
