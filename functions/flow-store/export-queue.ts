// The ticker's side of the flow store (design: index.ts): the due query over the sparse KEYS_ONLY index and
// the batched conditional writes. TICKER k of N queries only the due shards s with s mod N = k, so tickers
// never share a flow (TickerPartition, core/flow-state/ports.ts).
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  type DynamoDBClient,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type ExistingItemWrite,
  type ExportQueue,
  type FlowWrite,
  MAX_WRITES_PER_BATCH,
  type ReadResult,
  SINGLE_TICKER,
  type TickerPartition,
  type WriteExtras,
  type WriteResult,
} from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig } from '../../core/flow-state/state.ts';
import { backoffMs, pause } from './item-batches.ts';
import { conditionalStatementOf, storedFlowOf } from './marshal.ts';
import { ATTR, DUE_INDEX_NAME, ownedDueShards } from './schema.ts';
import { DynamoFlowStore } from './store.ts';

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

  /** `partition`: the due shards of this ticker (one of N). */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly config: ScheduleConfig,
    partition: TickerPartition = SINGLE_TICKER,
  ) {
    this.store = new DynamoFlowStore(client, tableName, config);
    this.shards = ownedDueShards(partition, config.dueShardCount);
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

  writeMany(writes: readonly FlowWrite[], nowMs: number, concurrency: number): Promise<WriteResult[]> {
    return this.store.writeMany(writes, nowMs, concurrency);
  }

  /**
   * PartiQL UPDATEs through BatchExecuteStatement: the same conditional writes as UpdateItem, at the same
   * write units, but the SDK's per-request work (signing, middleware, HTTP), which is most of the
   * ticker's CPU per written flow, is paid once per 25. Statements refused for throughput or a
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
      if (attempt > 0) await pause(backoffMs(attempt));
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

  dueKeys(nowMs: number, limit: number): Promise<string[]> {
    return dueKeysIn(this.client, this.tableName, this.shards, nowMs, limit);
  }

  oldestDueAt(nowMs: number): Promise<number | undefined> {
    return oldestDueAtIn(this.client, this.tableName, this.shards, nowMs);
  }
}

/**
 * The pks with a due-index key at or before nowMs over the given shards, at most `limit`: every shard gets a
 * fair share first, so one hot shard cannot starve the others.
 */
export async function dueKeysIn(
  client: DynamoDBClient,
  tableName: string,
  shards: readonly string[],
  nowMs: number,
  limit: number,
): Promise<string[]> {
  const perShard = Math.max(1, Math.ceil(limit / shards.length));
  const results = await Promise.all(
    shards.map((shard) => queryDueIndex(client, tableName, shard, nowMs, perShard * 4)),
  );
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

/** The earliest due-index key (ms) at or before nowMs over the given shards; undefined when none. */
export async function oldestDueAtIn(
  client: DynamoDBClient,
  tableName: string,
  shards: readonly string[],
  nowMs: number,
): Promise<number | undefined> {
  const oldest = await Promise.all(
    shards.map(async (shard) => {
      const out = await client.send(
        new QueryCommand({
          TableName: tableName,
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

/** The pks of one due-index shard with a key at or before nowMs, earliest first, at most `limit`. */
export async function queryDueIndex(
  client: DynamoDBClient,
  tableName: string,
  shard: string,
  nowMs: number,
  limit: number,
): Promise<string[]> {
  const keys: string[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: tableName,
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
