// Packs FlowRecords into Kinesis records: one open wire batch (core/wire.ts) per (target shard, lane),
// sealed when the next record could push it past the target size or when its oldest record has waited
// `lingerMs`.
//
// Lanes: Lambda's ParallelizationFactor N splits a shard's records into N concurrent batches by partition
// key, keeping each key in order. The correlator folds all records of one flow key in a batch into one
// DynamoDB write, so all records of a flow must share a partition key: otherwise its halves and rounds
// scatter over the N batches and each pays its own write. A flow's lane is fixed by its flow key's hash
// (`lanes` lane keys per shard, partition key `l<lane>`), so every record of a flow, from any Node and any
// collector replica, carries the same partition key. The target shard also comes from the flow key's hash
// (shard-map.ts), and the explicit hash key is a fixed point of that lane inside the shard's range, so
// Kinesis routes exactly as before and a consumer that spreads by hash key instead of partition key sees
// the same lanes. Cost: shards x lanes batches fill in parallel, and the linger seals the slow ones early.
// A lane needs targetBytes / lingerMs of traffic (50 KB/s at 25 KB and 500 ms) to fill its records; below
// that, flow records per PUT payload unit fall with the rate (README "Collector packing").
//
// Target size: 25,000 bytes of data + partition key by default. Kinesis bills provisioned streams per PUT
// payload unit of 25 KB (a 5 KB record costs as much as a 25 KB one) and on-demand streams per KB, rounded
// up per record. A record just under one unit gets the most flow records per unit (about 250 at ~100 bytes
// each); a bigger record saves nothing per unit but holds records longer and makes Lambda batches coarser.
// 25,000 rather than 25,600 because AWS does not say which "25 KB" it means; under either reading the record
// is one unit. A batch is sealed when the next record does not fit: the record is added, and taken back
// (WireBatchBuilder.rollback) if the batch is then past the target, so a batch never exceeds the target
// (except a single record larger than the target, sent alone) and fills it as far as whole records allow.
import type { FlowRecord } from '../core/flow-record.ts';
import { bucketRoutingHash, fnvText, routingSourceHash } from '../core/flow-routing.ts';
import { WIRE_STRING_FIELDS, WireBatchBuilder } from '../core/wire.ts';
import { flowRoutingHashAfter, laneHashOf, routingSourceAddress, type ShardMap } from './shard-map.ts';

/** A packed Kinesis record, ready for PutRecords. */
export interface SealedBatch {
  data: Buffer;
  partitionKey: string;
  /** Decimal 128-bit hash key: the lane's point inside the target shard's range (whole key space without a shard map). */
  explicitHashKey?: string;
  recordCount: number;
}

/** Kinesis rejects records above 1 MiB (data + partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Lane keys per shard. Lambda allows ParallelizationFactor <= 10; 16 keys leave every one of up to 10
 * concurrent batches per shard something to do, while keeping open batches per shard (and the fill loss at
 * low rates) small.
 */
export const DEFAULT_PARTITION_LANES = 16;

const HASH_SPACE = 1n << 128n;

/** Where a record's string hints have its source and SNAT addresses' (WireBatchBuilder.add). */
const SOURCE_IP_HINT = WIRE_STRING_FIELDS.indexOf('sourceIP');
const PROXY_SNAT_IP_HINT = WIRE_STRING_FIELDS.indexOf('proxySnatIP');
const DESTINATION_IP_HINT = WIRE_STRING_FIELDS.indexOf('destinationIP');
const SOURCE_HASH_SLOTS = 4096;
/** Slots of the address-pair hash cache (a flow's pair comes back with each export of it). */
const PAIR_HASH_SLOTS = 8192;
const PAIR_MIX = 0x9e3779b1;

interface OpenBatch {
  builder: WireBatchBuilder;
  /** Target minus the partition key: the most the wire payload may grow to. */
  dataLimit: number;
  openedAtMs: number;
}

export interface PackerOptions {
  targetBytes: number;
  lingerMs: number;
  now: () => number;
  onSealed: (batch: SealedBatch) => void;
  /** A single record too large for a Kinesis record (cannot happen with IPFIX input; counted if it does). */
  onOversize?: (record: FlowRecord, bytes: number) => void;
  /** Lane keys per shard (default DEFAULT_PARTITION_LANES). */
  lanes?: number;
  /**
   * The flow store's bucket count (FLOW_BUCKETS, functions/flow-store/buckets.ts), 0 or absent for one item
   * per flow: the flows of a bucket are then routed together (core/flow-routing.ts bucketRoutingHash), so
   * each bucket is written by one concurrent correlator batch.
   */
  flowBuckets?: number;
}

/** The partition key every Kinesis record of this lane carries. */
export function lanePartitionKey(lane: number): string {
  return `l${lane}`;
}

/** A fixed hash key for a lane inside [start, end]: the middle of the lane's equal share of the range. */
export function laneHashKey(start: bigint, end: bigint, lane: number, lanes: number): bigint {
  const width = end - start + 1n;
  return start + (width * BigInt(2 * lane + 1)) / BigInt(2 * lanes);
}

export class ShardPacker {
  private shardMap: ShardMap | undefined;
  readonly lanes: number;
  /** Open batch per slot = shard index x lanes + lane; the last `lanes` slots serve records with no shard map. */
  private open: Array<OpenBatch | undefined>;
  private slotHashKeys: string[];
  private readonly partitionKeys: string[];
  private readonly partitionKeyBytes: number[];
  private openRecords = 0;
  /** Builders of sealed batches, reset for the next ones (their buffers are allocated once). */
  private readonly spareBuilders: WireBatchBuilder[] = [];
  /** routingSourceHash of recent source addresses, by string hint (see slotOf). */
  private readonly sourceHashText: string[] = new Array<string>(SOURCE_HASH_SLOTS).fill('');
  private readonly sourceHashValue = new Int32Array(SOURCE_HASH_SLOTS);
  /** fnvText(source hash, destination) of recent address pairs, by their string hints (see slotOf). */
  private readonly pairSource: string[] = new Array<string>(PAIR_HASH_SLOTS).fill('');
  private readonly pairDestination: string[] = new Array<string>(PAIR_HASH_SLOTS).fill('');
  private readonly pairHash = new Int32Array(PAIR_HASH_SLOTS);
  /** lanes - 1 when lanes is a power of two, else -1. */
  private readonly laneMask: number;

  constructor(private readonly options: PackerOptions) {
    this.lanes = options.lanes ?? DEFAULT_PARTITION_LANES;
    if (!Number.isInteger(this.lanes) || this.lanes < 1) throw new Error(`lanes must be >= 1: ${this.lanes}`);
    this.laneMask = (this.lanes & (this.lanes - 1)) === 0 ? this.lanes - 1 : -1;
    this.partitionKeys = Array.from({ length: this.lanes }, (_, lane) => lanePartitionKey(lane));
    this.partitionKeyBytes = this.partitionKeys.map((key) => Buffer.byteLength(key));
    this.open = new Array(this.lanes).fill(undefined);
    this.slotHashKeys = this.hashKeysFor(undefined);
  }

  get pendingRecords(): number {
    return this.openRecords;
  }

  get currentShardMap(): ShardMap | undefined {
    return this.shardMap;
  }

  /** Switches to a new shard map; open batches are sealed first (they target the old shards). */
  setShardMap(map: ShardMap | undefined): void {
    if (map === this.shardMap || map?.sameAs(this.shardMap)) return;
    this.flushAll();
    this.shardMap = map && map.size > 0 ? map : undefined;
    this.open = new Array(((this.shardMap?.size ?? 0) + 1) * this.lanes).fill(undefined);
    this.slotHashKeys = this.hashKeysFor(this.shardMap);
  }

  private hashKeysFor(map: ShardMap | undefined): string[] {
    const keys: string[] = [];
    for (const shard of map?.shards ?? []) {
      for (let lane = 0; lane < this.lanes; lane++)
        keys.push(laneHashKey(shard.startingHashKey, shard.endingHashKey, lane, this.lanes).toString());
    }
    // No shard map: lanes spread over the whole key space, so a flow still always lands in one shard.
    for (let lane = 0; lane < this.lanes; lane++)
      keys.push(laneHashKey(0n, HASH_SPACE - 1n, lane, this.lanes).toString());
    return keys;
  }

  /**
   * The flow's (shard, lane): both from its flow key's routing hash, so every record of a flow agrees. With
   * string hints, the hash of the address pair (the same pairs come round after round) comes from a cache.
   */
  private slotOf(record: FlowRecord, hints: ArrayLike<number> | undefined, hintOffset: number): number {
    const source = routingSourceAddress(record);
    const destination = record.destinationIP;
    let pairHash: number;
    if (hints === undefined) pairHash = fnvText(routingSourceHash(source), destination);
    else {
      const sourceHint =
        hints[hintOffset + (source === record.sourceIP ? SOURCE_IP_HINT : PROXY_SNAT_IP_HINT)]!;
      const destinationHint = hints[hintOffset + DESTINATION_IP_HINT]!;
      const slot = (Math.imul(sourceHint, PAIR_MIX) ^ destinationHint) & (PAIR_HASH_SLOTS - 1);
      if (this.pairSource[slot] === source && this.pairDestination[slot] === destination)
        pairHash = this.pairHash[slot]!;
      else {
        pairHash = fnvText(this.sourceHashOf(source, sourceHint), destination);
        this.pairSource[slot] = source;
        this.pairDestination[slot] = destination;
        this.pairHash[slot] = pairHash;
      }
    }
    const flowHash = flowRoutingHashAfter(record, pairHash);
    const buckets = this.options.flowBuckets ?? 0;
    const routingHash = buckets > 0 ? bucketRoutingHash(flowHash % buckets) : flowHash;
    // A mask where the lane count allows it: the same lane as `%`, without a floating-point modulo (the hash
    // is a uint32, above int32 range half the time).
    const laneHash = laneHashOf(routingHash);
    const lane = this.laneMask >= 0 ? laneHash & this.laneMask : laneHash % this.lanes;
    const map = this.shardMap;
    if (map === undefined) return lane;
    const shard = map.indexOfRoutingHash(routingHash);
    return (shard >= 0 ? shard : map.size) * this.lanes + lane;
  }

  /** routingSourceHash of a source address, from a cache by its string hint when it has one. */
  private sourceHashOf(source: string, hint: number): number {
    if (hint < 0) return routingSourceHash(source);
    const slot = hint & (SOURCE_HASH_SLOTS - 1);
    if (this.sourceHashText[slot] === source) return this.sourceHashValue[slot]!;
    const hash = routingSourceHash(source);
    this.sourceHashText[slot] = source;
    this.sourceHashValue[slot] = hash;
    return hash;
  }

  /** Packs a record; `hints`/`hintOffset`: its string hints, if known (core/wire.ts WireBatchBuilder.add). */
  add(record: FlowRecord, hints?: ArrayLike<number>, hintOffset = 0): void {
    const slot = this.slotOf(record, hints, hintOffset);
    let batch = this.open[slot];
    if (batch !== undefined) {
      // Added, then taken back if the batch no longer fits: an upper bound of the record's size (checked
      // before adding, as before) is several hundred bytes above its usual 100, and left that much of every
      // PUT payload unit unused.
      const builder = batch.builder;
      builder.mark();
      builder.add(record, hints, hintOffset);
      if (builder.byteLength <= batch.dataLimit) {
        this.openRecords++;
        return;
      }
      builder.rollback(hints, hintOffset);
      this.seal(slot);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = {
        builder: this.spareBuilders.pop() ?? new WireBatchBuilder(),
        dataLimit: this.options.targetBytes - this.partitionKeyBytes[slot % this.lanes]!,
        openedAtMs: this.options.now(),
      };
      this.open[slot] = batch;
    }
    batch.builder.add(record, hints, hintOffset);
    this.openRecords++;
    if (batch.builder.recordCount === 1) {
      const size = batch.builder.byteLength + this.partitionKeyBytes[slot % this.lanes]!;
      if (size > KINESIS_MAX_RECORD_BYTES) {
        this.open[slot] = undefined;
        this.openRecords--;
        batch.builder.reset();
        this.spareBuilders.push(batch.builder);
        this.options.onOversize?.(record, size);
      }
    }
  }

  /** Seals every batch whose first record has waited at least `lingerMs`. */
  sealDue(): void {
    const deadline = this.options.now() - this.options.lingerMs;
    for (let slot = 0; slot < this.open.length; slot++) {
      const batch = this.open[slot];
      if (batch && batch.openedAtMs <= deadline) this.seal(slot);
    }
  }

  flushAll(): void {
    for (let slot = 0; slot < this.open.length; slot++) if (this.open[slot]) this.seal(slot);
  }

  private seal(slot: number): void {
    const batch = this.open[slot]!;
    this.open[slot] = undefined;
    this.openRecords -= batch.builder.recordCount;
    const sealed: SealedBatch = {
      data: batch.builder.finish(),
      partitionKey: this.partitionKeys[slot % this.lanes]!,
      explicitHashKey: this.slotHashKeys[slot]!,
      recordCount: batch.builder.recordCount,
    };
    batch.builder.reset();
    this.spareBuilders.push(batch.builder);
    this.options.onSealed(sealed);
  }
}
