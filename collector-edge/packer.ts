// Packs FlowRecords into Kinesis records: one open wire batch (core/wire.ts) per target shard, sealed when
// the next record could push it past the target size or when its oldest record has waited `lingerMs`.
//
// Target size: 25,000 bytes of data + partition key by default. Kinesis bills provisioned streams per PUT
// payload unit of 25 KB (a 5 KB record costs as much as a 25 KB one) and on-demand streams per KB, rounded
// up per record. A record just under one unit gets the most flow records per unit (about 250 at ~100 bytes
// each); a bigger record saves nothing per unit but holds records longer and makes Lambda batches coarser.
// 25,000 rather than 25,600 because AWS does not say which "25 KB" it means; under either reading the record
// is one unit. The sealing check uses an upper bound of the next record's encoded size, so a batch never
// exceeds the target (except a single record larger than the target, sent alone).
import { flowKeyOf } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { encodedSizeBound, WireBatchBuilder } from '../core/wire.ts';
import { hashKeyOf, type ShardMap } from './shard-map.ts';

/** A packed Kinesis record, ready for PutRecords. */
export interface SealedBatch {
  data: Buffer;
  partitionKey: string;
  /** Decimal 128-bit hash key inside the target shard's range (unset when the shard map is unknown). */
  explicitHashKey?: string;
  recordCount: number;
}

/** Kinesis rejects records above 1 MiB (data + partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;

interface OpenBatch {
  builder: WireBatchBuilder;
  partitionKey: string;
  /** Target minus the partition key: the most the wire payload may grow to. */
  dataLimit: number;
  explicitHashKey?: string;
  openedAtMs: number;
}

export interface PackerOptions {
  targetBytes: number;
  lingerMs: number;
  now: () => number;
  onSealed: (batch: SealedBatch) => void;
  /** A single record too large for a Kinesis record (cannot happen with IPFIX input; counted if it does). */
  onOversize?: (record: FlowRecord, bytes: number) => void;
}

export class ShardPacker {
  private shardMap: ShardMap | undefined;
  /** Open batch per shard index; the last slot serves records with no shard map. */
  private open: Array<OpenBatch | undefined> = [undefined];
  private openRecords = 0;

  constructor(private readonly options: PackerOptions) {}

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
    this.open = new Array(this.shardMap ? this.shardMap.size + 1 : 1).fill(undefined);
  }

  add(record: FlowRecord): void {
    const flowKey = flowKeyOf(record);
    const map = this.shardMap;
    let slot = this.open.length - 1;
    if (map) {
      const index = map.indexOfKey(flowKey);
      if (index >= 0) slot = index;
    }
    let batch = this.open[slot];
    if (batch) {
      if (batch.builder.byteLength + encodedSizeBound(record) > batch.dataLimit) {
        this.seal(slot);
        batch = undefined;
      }
    }
    if (!batch) {
      batch = {
        builder: new WireBatchBuilder(),
        partitionKey: flowKey,
        dataLimit: this.options.targetBytes - Buffer.byteLength(flowKey),
        openedAtMs: this.options.now(),
      };
      // The first record's own hash lies in this shard, so Kinesis routes the batch here either way.
      if (slot < this.open.length - 1) batch.explicitHashKey = hashKeyOf(flowKey).toString();
      this.open[slot] = batch;
    }
    batch.builder.add(record);
    this.openRecords++;
    if (batch.builder.recordCount === 1) {
      const size = batch.builder.byteLength + Buffer.byteLength(batch.partitionKey);
      if (size > KINESIS_MAX_RECORD_BYTES) {
        this.open[slot] = undefined;
        this.openRecords--;
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
    this.options.onSealed({
      data: batch.builder.finish(),
      partitionKey: batch.partitionKey,
      ...(batch.explicitHashKey ? { explicitHashKey: batch.explicitHashKey } : {}),
      recordCount: batch.builder.recordCount,
    });
  }
}
