// Batched item reads and writes by pk, with DynamoDB's unprocessed items retried: what the flow store
// (store.ts) reads flows with and the sinks' outbox (sink-outbox.ts) stores its chunked payloads with.
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { chunksOf } from '../../core/concurrency.ts';
import { ATTR } from './schema.ts';

/** Items per BatchWriteItem and keys per BatchGetItem request: DynamoDB's limits. */
const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
/** Requests per chunk of items before giving up on what DynamoDB keeps leaving unprocessed. */
const ATTEMPTS = 9;

/** Puts and deletes, 25 to a request; items DynamoDB leaves unprocessed are sent again with backoff. */
export async function writeItems(
  client: DynamoDBClient,
  tableName: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  for (const items of chunksOf([...requests], BATCH_WRITE_LIMIT)) {
    let pending: WriteRequest[] | undefined = items;
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
      if (attempt > 0) await pause(backoffMs(attempt));
      const out: BatchWriteItemCommandOutput = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = out.UnprocessedItems?.[tableName];
    }
  }
}

export interface GetItemsOptions {
  /**
   * false: eventually consistent, half the read units. Only for readers whose every write is conditional
   * on what they read, so a stale item costs a refused write and a retry, never a wrong one.
   */
  consistentRead?: boolean;
  /** Told the read units of each request (asks DynamoDB to return them). */
  onConsumedReadUnits?: (units: number) => void;
}

/**
 * Reads of the given pks, 100 to a request, the requests at once; keys DynamoDB leaves unprocessed are
 * asked again with backoff. Absent items are missing from the map. Strongly consistent unless told not.
 */
export async function getItems(
  client: DynamoDBClient,
  tableName: string,
  keys: readonly string[],
  { consistentRead = true, onConsumedReadUnits }: GetItemsOptions = {},
): Promise<Map<string, Record<string, AttributeValue>>> {
  const found = new Map<string, Record<string, AttributeValue>>();
  const readChunk = async (chunk: string[]) => {
    let pending: Array<Record<string, AttributeValue>> | undefined = chunk.map((pk) => ({
      [ATTR.pk]: { S: pk },
    }));
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
      if (attempt > 0) await pause(backoffMs(attempt));
      const out: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({
          RequestItems: { [tableName]: { Keys: pending, ConsistentRead: consistentRead } },
          ...(onConsumedReadUnits && { ReturnConsumedCapacity: 'TOTAL' }),
        }),
      );
      for (const consumed of out.ConsumedCapacity ?? []) onConsumedReadUnits?.(consumed.CapacityUnits ?? 0);
      for (const item of out.Responses?.[tableName] ?? []) {
        const pk = item[ATTR.pk]?.S;
        if (pk) found.set(pk, item);
      }
      pending = out.UnprocessedKeys?.[tableName]?.Keys;
    }
  };
  await Promise.all(chunksOf([...keys], BATCH_GET_LIMIT).map(readChunk));
  return found;
}

/**
 * Exponential backoff with jitter before retry `attempt` of what DynamoDB left unprocessed or refused as
 * retryable (here, and the ticker's statements in export-queue.ts).
 */
export function backoffMs(attempt: number): number {
  return Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
