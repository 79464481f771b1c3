// The flusher's side of the flow store (design: index.ts): the due query over the sparse GSI, and the
// pending-export manifests that make ClickHouse rows exactly-once.
//
// MANIFEST ITEMS (same table; their pk can never be a flow key, which always holds four '|')
//   pk "flusher#slot#<i>"        header of open batch i: batch S (id = its ClickHouse dedup token),
//                                rows N, chunks N, createdAt N, expiresAt N (TTL, hygiene only)
//   pk "flusher#slot#<i>#<j>"    chunk j of that batch: data B (gzip'd rows, <= MANIFEST_CHUNK_BYTES)
//   (flusher k > 0 of N: "flusher#<k>#slot#<i>..."; schema.ts manifestPrefixOf)
// A batch's rows are written here BEFORE the flows are marked exported and the header is deleted only
// after ClickHouse acknowledged the insert, so a crash at any point leaves either the flows still due
// or a manifest to replay with the same rows and the same token. Slots are reused: a round starts new
// batches only when every slot is free (reserved concurrency 1 per flusher => one run of it at a time).
// N FLUSHERS: flusher k of N queries only the due shards s with s mod N = k and writes only its own
// manifest slots, so flushers never share a flow or a slot (FlusherPartition, core/flow-state/ports.ts).
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type BatchManifest,
  type ExistingItemWrite,
  type ExportQueue,
  type FlusherPartition,
  MAX_WRITES_PER_BATCH,
  type ReadResult,
  SINGLE_FLUSHER,
  type WriteExtras,
  type WriteResult,
} from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig } from '../../core/flow-state/state.ts';
import { getItems, pause, writeItems } from './item-batches.ts';
import { conditionalStatementOf, storedFlowOf } from './marshal.ts';
import { ATTR, DUE_INDEX_NAME, manifestPrefixOf, ownedDueShards } from './schema.ts';
import { DynamoFlowStore } from './store.ts';

/** Stay well below DynamoDB's 400 KB item limit. */
export const MANIFEST_CHUNK_BYTES = 350_000;
const MANIFEST_TTL_SECONDS = 14 * 86_400;

/** Per-statement errors that a later attempt can get past. */
const RETRYABLE_STATEMENT_ERRORS = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
  'TransactionConflict',
  'InternalServerError',
]);
const STATEMENT_ATTEMPTS = 9;

export class DynamoExportQueue implements ExportQueue {
  private readonly store: DynamoFlowStore;

  private readonly shards: string[];
  private readonly manifestPrefix: string;

  /** `partition`: the due shards and manifest slots of this flusher (one of N). */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly config: ScheduleConfig,
    partition: FlusherPartition = SINGLE_FLUSHER,
  ) {
    this.store = new DynamoFlowStore(client, tableName, config);
    this.shards = ownedDueShards(partition, config.dueShardCount);
    this.manifestPrefix = manifestPrefixOf(partition.index);
  }

  read(keys: readonly string[]): Promise<ReadResult> {
    return this.store.read(keys);
  }

  write(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): Promise<WriteResult> {
    return this.store.write(state, expectedVersion, nowMs, extras);
  }

  /**
   * PartiQL UPDATEs through BatchExecuteStatement: the same conditional writes as UpdateItem, at the same
   * write units, but the SDK's per-request work (signing, middleware, HTTP), which is most of the
   * flusher's CPU per marked flow, is paid once per 25. Statements refused for throughput or a
   * transaction conflict are retried with backoff; any other per-statement error fails the batch.
   */
  async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number): Promise<WriteResult[]> {
    if (writes.length > MAX_WRITES_PER_BATCH) {
      throw new Error(`writeBatch takes at most ${MAX_WRITES_PER_BATCH} writes, got ${writes.length}`);
    }
    const results: WriteResult[] = new Array(writes.length);
    let pending = writes.map((_, i) => i);
    let lastRetryable = '';
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= STATEMENT_ATTEMPTS) {
        throw new Error(`BatchExecuteStatement: ${pending.length} writes still refused (${lastRetryable})`);
      }
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
      const out = await this.client.send(
        new BatchExecuteStatementCommand({
          Statements: pending.map((i) => ({
            ...conditionalStatementOf(
              this.tableName,
              writes[i]!.state,
              writes[i]!.expectedVersion,
              nowMs,
              this.config,
              writes[i]!.extras,
            ),
            // The current item comes back with a refusal at no extra cost, as with UpdateItem.
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          })),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      const responses = out.Responses ?? [];
      const applied = pending.filter((_, j) => !responses[j]?.Error).length;
      const units = (out.ConsumedCapacity ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
      const retry: number[] = [];
      for (const [j, i] of pending.entries()) {
        const error = responses[j]?.Error;
        if (!error) {
          // The request's units, shared among the writes it applied (the response has no per-statement figure).
          results[i] = {
            ok: true,
            version: writes[i]!.expectedVersion + 1,
            consumedWriteUnits: units / applied,
          };
        } else if (error.Code === 'ConditionalCheckFailed') {
          results[i] = { ok: false, current: error.Item ? storedFlowOf(error.Item) : undefined };
        } else if (error.Code && RETRYABLE_STATEMENT_ERRORS.has(error.Code)) {
          retry.push(i);
          lastRetryable = `${error.Code}: ${error.Message ?? ''}`;
        } else {
          throw new Error(
            `BatchExecuteStatement refused the write of ${writes[i]!.state.flow.flowKey}: ${error.Code}: ${error.Message ?? ''}`,
          );
        }
      }
      pending = retry;
    }
    return results;
  }

  async dueKeys(nowMs: number, limit: number): Promise<string[]> {
    const shards = this.shards;
    // Every shard gets a fair share first, so one hot shard cannot starve the others.
    const perShard = Math.max(1, Math.ceil(limit / shards.length));
    const results = await Promise.all(shards.map((shard) => this.queryShard(shard, nowMs, perShard * 4)));
    const keys: string[] = [];
    for (let round = 0; keys.length < limit; round++) {
      let added = false;
      for (const shardKeys of results) {
        const slice = shardKeys.slice(round * perShard, (round + 1) * perShard);
        if (slice.length > 0) added = true;
        for (const key of slice) if (keys.length < limit) keys.push(key);
      }
      if (!added) break;
    }
    return keys;
  }

  async oldestDueAt(nowMs: number): Promise<number | undefined> {
    const oldest = await Promise.all(
      this.shards.map(async (shard) => {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: DUE_INDEX_NAME,
            KeyConditionExpression: '#shard = :shard AND #due <= :now',
            ExpressionAttributeNames: { '#shard': ATTR.dueShard, '#due': ATTR.nextExportAt },
            ExpressionAttributeValues: { ':shard': { S: shard }, ':now': { N: String(nowMs) } },
            ProjectionExpression: '#due',
            Limit: 1,
          }),
        );
        const due = out.Items?.[0]?.[ATTR.nextExportAt]?.N;
        return due === undefined ? Number.POSITIVE_INFINITY : Number(due);
      }),
    );
    const earliest = Math.min(...oldest);
    return Number.isFinite(earliest) ? earliest : undefined;
  }

  private async queryShard(shard: string, nowMs: number, limit: number): Promise<string[]> {
    const keys: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: DUE_INDEX_NAME,
          KeyConditionExpression: '#shard = :shard AND #due <= :now',
          ExpressionAttributeNames: { '#shard': ATTR.dueShard, '#due': ATTR.nextExportAt, '#pk': ATTR.pk },
          ExpressionAttributeValues: { ':shard': { S: shard }, ':now': { N: String(nowMs) } },
          ProjectionExpression: '#pk',
          Limit: Math.min(1000, limit - keys.length),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) {
        const pk = item[ATTR.pk]?.S;
        if (pk) keys.push(pk);
      }
      start = out.LastEvaluatedKey;
    } while (start && keys.length < limit);
    return keys;
  }

  async putManifest(manifest: BatchManifest): Promise<void> {
    const expiresAt = Math.ceil(manifest.createdAtMs / 1000) + MANIFEST_TTL_SECONDS;
    // Chunks first, header last: a header is only ever visible with all its chunks in place.
    const chunkItems = manifest.chunks.map((data, j) => ({
      PutRequest: {
        Item: {
          [ATTR.pk]: { S: `${this.manifestPrefix}${manifest.slot}#${j}` },
          data: { B: data },
          [ATTR.expiresAt]: { N: String(expiresAt) },
        },
      },
    }));
    await writeItems(this.client, this.tableName, chunkItems);
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [ATTR.pk]: { S: `${this.manifestPrefix}${manifest.slot}` },
          batch: { S: manifest.batchId },
          rows: { N: String(manifest.rows) },
          chunks: { N: String(manifest.chunks.length) },
          createdAt: { N: String(manifest.createdAtMs) },
          [ATTR.expiresAt]: { N: String(expiresAt) },
        },
      }),
    );
  }

  async openManifests(slotCount: number): Promise<BatchManifest[]> {
    const headers = await getItems(
      this.client,
      this.tableName,
      Array.from({ length: slotCount }, (_, i) => `${this.manifestPrefix}${i}`),
    );
    const manifests: BatchManifest[] = [];
    for (const [pk, header] of headers) {
      const slot = Number(pk.slice(this.manifestPrefix.length));
      const chunkCount = Number(header.chunks?.N ?? 0);
      const chunkKeys = Array.from({ length: chunkCount }, (_, j) => `${pk}#${j}`);
      const chunks = await getItems(this.client, this.tableName, chunkKeys);
      const data = chunkKeys.map((key) => {
        const chunk = chunks.get(key)?.data?.B;
        if (!chunk) throw new Error(`manifest ${pk} (batch ${header.batch?.S}) lacks chunk ${key}`);
        return chunk;
      });
      manifests.push({
        slot,
        batchId: header.batch?.S ?? '',
        rows: Number(header.rows?.N ?? 0),
        chunks: data,
        createdAtMs: Number(header.createdAt?.N ?? 0),
      });
    }
    return manifests.sort((a, b) => a.slot - b.slot);
  }

  async deleteManifest(manifest: BatchManifest): Promise<void> {
    const header = `${this.manifestPrefix}${manifest.slot}`;
    // Header first (closes the batch, only if the slot still holds this batch); its chunks are then garbage.
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [ATTR.pk]: { S: header } },
          ConditionExpression: '#batch = :batch',
          ExpressionAttributeNames: { '#batch': 'batch' },
          ExpressionAttributeValues: { ':batch': { S: manifest.batchId } },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return; // another batch owns the slot now
      throw error;
    }
    const chunkDeletes = manifest.chunks.map((_, j) => ({
      DeleteRequest: { Key: { [ATTR.pk]: { S: `${header}#${j}` } } },
    }));
    await writeItems(this.client, this.tableName, chunkDeletes);
  }
}
