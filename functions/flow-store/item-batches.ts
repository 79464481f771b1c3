// Batched item reads and writes by pk, with DynamoDB's unprocessed items retried: what the sinks' outbox
// (sink-outbox.ts) stores its chunked payloads with.
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
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
      const out: BatchWriteItemCommandOutput = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = out.UnprocessedItems?.[tableName];
    }
  }
}

/** Strongly consistent reads of the given pks; absent items are missing from the map. */
export async function getItems(
  client: DynamoDBClient,
  tableName: string,
  keys: readonly string[],
): Promise<Map<string, Record<string, AttributeValue>>> {
  const found = new Map<string, Record<string, AttributeValue>>();
  for (const chunk of chunksOf([...keys], BATCH_GET_LIMIT)) {
    let pending: Array<Record<string, AttributeValue>> | undefined = chunk.map((pk) => ({
      [ATTR.pk]: { S: pk },
    }));
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
      const out: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[tableName] ?? []) {
        const pk = item[ATTR.pk]?.S;
        if (pk) found.set(pk, item);
      }
      pending = out.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return found;
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
