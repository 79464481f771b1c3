// The bucketed layout of the flow store (FLOW_LAYOUT=buckets; docs/flow-state-and-scale-out.md "Buckets"):
// the flows whose keys hash to one bucket share one item, so a correlator window costs one write per
// bucket instead of one per flow. DynamoDB bills a write by the item's whole size in 1 KB units, and one
// flow's state is ~650 bytes, so one item per flow pays a whole unit for every flow in every window; the
// changing parts of 32 flows deflate together to about 5 units (0.6 write units per live flow per minute
// at the 20 s window, against 3.06). The DynamoDB adapter here (AWS SDK v3); the entries' encoding and the
// bucket's due key are bucket-entries.ts (pure).
//
// BUCKET ITEM (pk "bucket#<b>", b = the flow key's routing hash mod FLOW_BUCKETS, core/flow-routing.ts)
//   v             N    version; every write conditional on it (attribute_not_exists for a new bucket).
//   flows         B    raw-deflated entries, one per open flow of the bucket (bucket-entries.ts): the flow key,
//                      its merged record with the names left out (every string field but the exporter
//                      address and the TCP state: they change with records), its `agg` numbers, exportSeq,
//                      updated, the due key its writer chose, its TTL, its names item's TTL and its version.
//   rows          B    the rows this write closed, of all its flows (closed-rows.ts encodeRowGroups), deflated
//                      with the inflated entries as the dictionary: the stream image alone decodes them.
//   dueShard, nextExportAt   the due index, as for flow items, with one key for the bucket (bucketKeyOf).
//   expiresAt     N    TTL: the latest of its flows'.
// NAMES ITEM (pk "names#<flow key>"): `rec`, the flow's merged record with its names (marshal.ts
//   recordAttributeOf), and expiresAt. Written when a write changes a name (a new flow, the peer's half, new
//   Pod labels) or the bucket entry's TTL passes the names item's, never on an ordinary fold. Written before
//   the bucket: names newer than the bucket's entry are what the next fold of the flow writes anyway. A flow
//   that closes (inactive expiry) leaves its bucket: its names item then also keeps its whole state (`agg`,
//   exportSeq), so a late record of that lifetime adds only what was not counted.
//
// Every write of a bucket is conditional on its version, and a refusal hands the bucket back (ALL_OLD). A
// flow's own version is the bucket version that last wrote its entry, so a write made on an older read of
// the same flow is refused and folded again, while writes of the bucket's other flows since do not matter
// (the table builds each write on the bucket the last one left). The correlator's lane key
// (the Kinesis partition key) is the bucket, so one bucket's records reach one concurrent batch and the
// ticker is the only other writer, as with one item per flow.
//
// Exactly once is unchanged: each flow's Node marks and export sequence live in its entry, every write is
// conditional, and a row's dedup token is still pk#createdAtMs#exportSeq.

import { deflateRawSync } from 'node:zlib';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { forEachLimited } from '../../core/concurrency.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import { flowBucketOf } from '../../core/flow-routing.ts';
import {
  type ExistingItemWrite,
  type ExportQueue,
  type FlowWrite,
  type ReadResult,
  SINGLE_TICKER,
  type TickerPartition,
  type WriteExtras,
  type WriteResult,
} from '../../core/flow-state/ports.ts';
import {
  expiresAtOf,
  type FlowState,
  isExpired,
  nextExportAtOf,
  type ScheduleConfig,
  type StoredFlow,
} from '../../core/flow-state/state.ts';
import {
  type Bucket,
  type BucketEntry,
  bucketKeyOf,
  decodeEntries,
  encodeEntries,
  namesChanged,
} from './bucket-entries.ts';
import { encodeRowGroups } from './closed-rows.ts';
import { dueKeysIn, oldestDueAtIn } from './export-queue.ts';
import { getItems } from './item-batches.ts';
import {
  aggregationListOf,
  type FlowItem,
  FlowItemError,
  flowStateOf,
  recordAttributeOf,
  recordOfAttribute,
} from './marshal.ts';
import { ATTR, BUCKET_PK_PREFIX, dueShardOf, NAMES_PK_PREFIX, ownedDueShards } from './schema.ts';

/** The version of a flow moved out of its bucket when it closed (its state is in its names item). */
const CLOSED_VERSION = 0;
/** Buckets a table keeps in memory between reads and writes before it forgets them all. */
const MAX_REMEMBERED_BUCKETS = 4096;
/** Bucket writes in flight at once within one ticker batch. */
const BUCKET_WRITES_PER_TICKER_BATCH = 4;
/** DynamoDB's item limit is 400 KB; a bucket this large is refused rather than failing at DynamoDB. */
export const MAX_BUCKET_BYTES = 350 * 1024;

/** The bucket item of a flow: its routing hash's bucket, the collector's lane for it (core/flow-routing.ts). */
export function bucketPkOf(flowKey: string, buckets: number): string {
  return `${BUCKET_PK_PREFIX}${flowBucketOf(flowKey, buckets)}`;
}

export function namesPkOf(flowKey: string): string {
  return `${NAMES_PK_PREFIX}${flowKey}`;
}

/** A names item to write: the flow's names, and its whole state when it closed. */
interface NamesWrite {
  state: FlowState;
  expiresAt: number;
}

export interface BucketTableOptions {
  /** FLOW_BUCKETS: fixed for the table's life; about live flows / 32. */
  buckets: number;
  /** The lazy index key's margin (INDEX_MARGIN_SECONDS): the bucket's key moves when this close. */
  marginMs: number;
  partition?: TickerPartition;
}

/** The flow store port (correlator) and the export queue port (ticker) over bucket items. */
export class BucketFlowTable implements ExportQueue {
  /** The buckets as last read, written or handed back by a refusal: what a write builds on. */
  private buckets = new Map<string, Bucket>();
  /** The names items as last read or written, by flow key (undefined: read and absent). */
  private names = new Map<string, FlowRecord | undefined>();
  /** Closed flows moved out of their buckets into their names items, as last read, by flow key. */
  private closed = new Map<string, { state: FlowState; expiresAt: number }>();
  private readonly shards: string[];
  /** The write of each bucket in flight, so the next one builds on what it leaves. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly config: ScheduleConfig,
    private readonly options: BucketTableOptions,
  ) {
    this.shards = ownedDueShards(options.partition ?? SINGLE_TICKER, config.dueShardCount);
  }

  /**
   * The flows of the given keys from their buckets and names items (eventually consistent, as with one
   * item per flow: every write is conditional on the bucket's version). A flow's version is its entry's
   * (the bucket version that last wrote it), its indexKey its bucket's due key. What it read is what later
   * writes of these buckets build on.
   */
  async read(keys: readonly string[]): Promise<ReadResult> {
    this.bound();
    const bucketPks = [...new Set(keys.map((key) => bucketPkOf(key, this.options.buckets)))];
    let consumedReadUnits = 0;
    const items = await getItems(this.client, this.tableName, [...bucketPks, ...keys.map(namesPkOf)], {
      consistentRead: false,
      onConsumedReadUnits: (units) => {
        consumedReadUnits += units;
      },
    });
    for (const key of keys) this.rememberNames(key, items.get(namesPkOf(key)));
    for (const pk of bucketPks) this.remember(this.bucketOf(pk, items.get(pk)));
    const flows = new Map<string, StoredFlow>();
    for (const key of keys) {
      const stored = this.storedFlow(key);
      if (stored) flows.set(key, stored);
    }
    return { flows, consumedReadUnits };
  }

  async write(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): Promise<WriteResult> {
    const [result] = await this.writeMany([{ state, expectedVersion, extras }], nowMs, 1);
    return result!;
  }

  /** The ticker's batch of up to 25 writes: its requests already run WRITE_CONCURRENCY at once. */
  writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    return this.writeMany(writes, nowMs, BUCKET_WRITES_PER_TICKER_BATCH);
  }

  /** One conditional write per bucket for all its flows' writes; a result per write, in order. */
  async writeMany(writes: readonly FlowWrite[], nowMs: number, concurrency: number): Promise<WriteResult[]> {
    const results: WriteResult[] = new Array(writes.length);
    const byBucket = new Map<string, number[]>();
    for (const [i, write] of writes.entries()) {
      const pk = bucketPkOf(write.state.flow.flowKey, this.options.buckets);
      const indices = byBucket.get(pk);
      if (indices) indices.push(i);
      else byBucket.set(pk, [i]);
    }
    await forEachLimited([...byBucket], concurrency, async ([pk, indices]) => {
      try {
        const outcome = await this.writeBucket(
          pk,
          indices.map((i) => writes[i]!),
          nowMs,
        );
        for (const [j, i] of indices.entries()) results[i] = outcome[j]!;
      } catch (error) {
        for (const i of indices) results[i] = { ok: false, current: undefined, error };
      }
    });
    return results;
  }

  /** Writes of one bucket wait for the one in flight: each builds on the bucket the last one left. */
  private writeBucket(pk: string, writes: readonly FlowWrite[], nowMs: number): Promise<WriteResult[]> {
    const previous = this.inFlight.get(pk) ?? Promise.resolve();
    const next = previous.then(() => this.writeBucketNow(pk, writes, nowMs));
    const settled = next.then(
      () => {},
      () => {},
    );
    this.inFlight.set(pk, settled);
    void settled.then(() => {
      if (this.inFlight.get(pk) === settled) this.inFlight.delete(pk);
    });
    return next;
  }

  private async writeBucketNow(
    pk: string,
    writes: readonly FlowWrite[],
    nowMs: number,
  ): Promise<WriteResult[]> {
    const bucket = this.buckets.get(pk) ?? (await this.readBucket(pk));
    const version = bucket.version ?? 0;
    // A write is made on what its writer read of its flow: the same entry (its version), or no entry
    // (absent, or closed into its names item: version 0). Other flows' writes since do not matter.
    const stale = writes.some((w) => {
      const entry = bucket.entries.get(w.state.flow.flowKey);
      return entry
        ? w.expectedVersion !== entry.changedAt
        : w.expectedVersion !== undefined && w.expectedVersion !== CLOSED_VERSION;
    });
    if (stale) return writes.map((w) => this.refused(w.state.flow.flowKey));
    const entries = new Map(bucket.entries);
    for (const [key, entry] of entries) if (isExpired(entry, nowMs)) entries.delete(key);
    const nameWrites: NamesWrite[] = [];
    for (const { state, extras } of writes) {
      const key = state.flow.flowKey;
      const expiresAt = expiresAtOf(state, nowMs, this.config);
      if (state.closed) {
        // A closed flow leaves the bucket for its names item, which keeps what a late record needs.
        entries.delete(key);
        nameWrites.push({ state, expiresAt });
        continue;
      }
      let namesExpireAt = bucket.entries.get(key)?.namesExpireAt ?? 0;
      if (namesChanged(state.flow.record, this.names.get(key)) || expiresAt > namesExpireAt) {
        namesExpireAt = expiresAt + this.config.flowTtlSeconds;
        nameWrites.push({ state, expiresAt: namesExpireAt });
      }
      const dueBy = extras ? extras.indexKey : nextExportAtOf(state, this.config);
      entries.set(key, { state, changedAt: version + 1, dueBy, expiresAt, namesExpireAt });
    }
    let units = 0;
    await Promise.all(
      nameWrites.map(async (n) => {
        units += await this.putNames(n);
      }),
    );
    const dueKey = bucketKeyOf(bucket.dueKey, entries.values(), nowMs, this.options.marginMs);
    const rows = new Map(writes.map((w) => [w.state.flow.flowKey, w.extras?.rows ?? []]));
    const item = this.bucketItem(pk, version + 1, entries, dueKey, rows);
    try {
      const out = await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ...this.conditionOf(bucket.version),
          ReturnConsumedCapacity: 'TOTAL',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      units += out.ConsumedCapacity?.CapacityUnits ?? 0;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // ALL_OLD hands back the bucket as it is now: the refused writes are folded again on it.
      this.remember(this.bucketOf(pk, error.Item));
      return writes.map((w) => this.refused(w.state.flow.flowKey));
    }
    this.remember({ pk, version: version + 1, entries, dueKey });
    for (const n of nameWrites) if (n.state.closed) this.closed.set(n.state.flow.flowKey, n);
    return writes.map((w) => ({
      ok: true,
      version: w.state.closed ? CLOSED_VERSION : version + 1,
      consumedWriteUnits: units / writes.length,
    }));
  }

  private conditionOf(version: number | undefined): {
    ConditionExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: FlowItem;
  } {
    if (version === undefined) {
      return {
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': ATTR.pk },
      };
    }
    return {
      ConditionExpression: '#v = :v',
      ExpressionAttributeNames: { '#v': ATTR.version },
      ExpressionAttributeValues: { ':v': { N: String(version) } },
    };
  }

  private bucketItem(
    pk: string,
    version: number,
    entries: Map<string, BucketEntry>,
    dueKey: number | undefined,
    rows: ReadonlyMap<string, WriteExtras['rows']>,
  ): FlowItem {
    const plain = encodeEntries(entries.values());
    const flows = deflateRawSync(plain, { level: 9 });
    if (flows.length > MAX_BUCKET_BYTES) {
      throw new FlowItemError(`bucket ${pk} would hold ${flows.length} bytes: raise FLOW_BUCKETS`);
    }
    const expiresAt = Math.max(0, ...[...entries.values()].map((e) => e.expiresAt));
    const item: FlowItem = {
      [ATTR.pk]: { S: pk },
      [ATTR.version]: { N: String(version) },
      [ATTR.flows]: { B: flows },
      [ATTR.expiresAt]: { N: String(expiresAt) },
    };
    const closed = encodeRowGroups(rows, plain);
    if (closed) item[ATTR.rows] = { B: closed };
    if (dueKey !== undefined) {
      item[ATTR.dueShard] = { S: dueShardOf(pk, this.config.dueShardCount) };
      item[ATTR.nextExportAt] = { N: String(dueKey) };
    }
    return item;
  }

  /** Writes a flow's names item (with its state when it closed); returns its write units. */
  private async putNames({ state, expiresAt }: NamesWrite): Promise<number> {
    const key = state.flow.flowKey;
    const item: FlowItem = {
      [ATTR.pk]: { S: namesPkOf(key) },
      [ATTR.record]: { B: recordAttributeOf(state.flow.record) },
      [ATTR.expiresAt]: { N: String(expiresAt) },
    };
    if (state.closed) {
      item[ATTR.aggregation] = { L: aggregationListOf(state).map((v) => ({ N: String(v) })) };
      item[ATTR.exportSeq] = { N: String(state.exportSeq) };
      item[ATTR.updated] = { BOOL: state.updatedSinceExport };
    }
    const out = await this.client.send(
      new PutItemCommand({ TableName: this.tableName, Item: item, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.names.set(key, state.flow.record);
    return out.ConsumedCapacity?.CapacityUnits ?? 0;
  }

  /** A bucket no read of this set covered: read it (strongly) with its flows' names. */
  private async readBucket(pk: string): Promise<Bucket> {
    const items = await getItems(this.client, this.tableName, [pk]);
    const bucket = this.bucketOf(pk, items.get(pk));
    const unknown = [...bucket.entries.keys()].filter((key) => !this.names.has(key));
    if (unknown.length > 0) {
      const names = await getItems(this.client, this.tableName, unknown.map(namesPkOf));
      for (const key of unknown) this.rememberNames(key, names.get(namesPkOf(key)));
      return this.remember(this.bucketOf(pk, items.get(pk)));
    }
    return this.remember(bucket);
  }

  /** A names item as read: the names, and the state of a flow that closed (moved out of its bucket). */
  private rememberNames(key: string, item: FlowItem | undefined): void {
    const bytes = item?.[ATTR.record]?.B;
    const record = bytes ? recordOfAttribute(bytes, key) : undefined;
    this.names.set(key, record);
    const aggregation = item?.[ATTR.aggregation]?.L;
    if (!record || !aggregation) return;
    const state = flowStateOf(
      key,
      record,
      aggregation.map((v) => Number(v.N)),
      {
        updated: item?.[ATTR.updated]?.BOOL === true,
        exportSeq: Number(item?.[ATTR.exportSeq]?.N ?? 0),
      },
    );
    this.closed.set(key, { state, expiresAt: Number(item?.[ATTR.expiresAt]?.N ?? 0) });
  }

  private bucketOf(pk: string, item: FlowItem | undefined): Bucket {
    const flows = item?.[ATTR.flows]?.B;
    if (!item || !flows) return { pk, version: undefined, entries: new Map(), dueKey: undefined };
    const due = item[ATTR.nextExportAt]?.N;
    return {
      pk,
      version: Number(item[ATTR.version]?.N ?? 0),
      entries: decodeEntries(flows, pk, (key) => this.names.get(key)),
      dueKey: due === undefined ? undefined : Number(due),
    };
  }

  private remember(bucket: Bucket): Bucket {
    this.buckets.set(bucket.pk, bucket);
    return bucket;
  }

  /**
   * A flow as stored: its bucket entry (its version: the bucket version that wrote it), else the closed
   * state its names item keeps (version CLOSED_VERSION: a late record of that lifetime adds only what was
   * not counted).
   */
  private storedFlow(key: string): StoredFlow | undefined {
    const bucket = this.buckets.get(bucketPkOf(key, this.options.buckets));
    if (!bucket) return undefined;
    const entry = bucket.entries.get(key);
    if (entry) {
      return {
        state: entry.state,
        version: entry.changedAt,
        expiresAt: entry.expiresAt,
        ...(bucket.dueKey !== undefined ? { indexKey: bucket.dueKey } : {}),
      };
    }
    const closed = this.closed.get(key);
    return closed && { state: closed.state, version: CLOSED_VERSION, expiresAt: closed.expiresAt };
  }

  /**
   * Keeps what the table remembers bounded (a long-lived Lambda sandbox): past MAX_REMEMBERED_BUCKETS it
   * forgets everything; a later write of a forgotten bucket reads it again.
   */
  private bound(): void {
    if (this.buckets.size <= MAX_REMEMBERED_BUCKETS) return;
    this.buckets = new Map();
    this.names = new Map();
    this.closed = new Map();
  }

  private refused(key: string): WriteResult {
    return { ok: false, current: this.storedFlow(key) };
  }

  /**
   * Flow keys due by nowMs: of the buckets whose due key has passed, the flows whose own due key (the one
   * their last writer chose) has. A live flow in a bucket that fell due for another flow is left to the
   * correlator, as it would be in an item of its own: taking its step early would leave records still on
   * their way to the next period.
   */
  async dueKeys(nowMs: number, limit: number): Promise<string[]> {
    const pks = await dueKeysIn(this.client, this.tableName, this.shards, nowMs, limit);
    const items = await getItems(this.client, this.tableName, pks, { consistentRead: false });
    const keys: string[] = [];
    for (const pk of pks) {
      for (const [key, entry] of this.bucketOf(pk, items.get(pk)).entries) {
        const due = entry.dueBy !== undefined && entry.dueBy <= nowMs && !isExpired(entry, nowMs);
        if (due && keys.length < limit) keys.push(key);
      }
    }
    return keys;
  }

  oldestDueAt(nowMs: number): Promise<number | undefined> {
    return oldestDueAtIn(this.client, this.tableName, this.shards, nowMs);
  }
}
