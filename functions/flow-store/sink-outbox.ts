// The exporter's sink outbox in the flow table (design: functions/sinks/outbox.ts; port SinkOutboxStore).
//
// ITEMS (same table; their pk starts with "flusher#", the prefix the flusher gave them, and never is a flow key)
//   pk "<P>head"              the end of the log: seq N (next entry), row N (rows appended so far)
//   pk "<P>cursor#<sink>"     one sink's cursor: seq N (next entry to deliver), row N (rows before it)
//   pk "<P><seq>"             entry header: batch S (ClickHouse dedup token), rows N, startRow N,
//                             createdAt N, chunks N, expiresAt N (TTL: an entry no sink took in 14 days)
//   pk "<P><seq>#<j>"         chunk j of its rows: data B (gzip'd rows, <= OUTBOX_CHUNK_BYTES)
// with <P> = outboxPrefixOf(partition), 0 for the exporter. Only PutItem, BatchGetItem, BatchWriteItem and
// DeleteItem (the exporter's outbox rights, lib/sinks.ts, limited to this prefix); the head and cursors are
// small items replaced by conditional puts.
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { OutboxEntry, OutboxPosition, SinkOutboxStore } from '../../core/flow-state/ports.ts';
import { getItems, writeItems } from './item-batches.ts';

/** A row chunk stays well below DynamoDB's 400 KB item limit. */
export const OUTBOX_CHUNK_BYTES = 350_000;

import { ATTR, outboxPrefixOf } from './schema.ts';

const ENTRY_TTL_SECONDS = 14 * 86_400;

export class DynamoSinkOutboxStore implements SinkOutboxStore {
  private readonly prefix: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    partition = 0,
  ) {
    this.prefix = outboxPrefixOf(partition);
  }

  async positions(sinks: readonly string[]) {
    const headKey = `${this.prefix}head`;
    const cursorKey = (sink: string) => `${this.prefix}cursor#${sink}`;
    const items = await getItems(this.client, this.tableName, [headKey, ...sinks.map(cursorKey)]);
    const cursors = new Map<string, OutboxPosition>();
    for (const sink of sinks) {
      const item = items.get(cursorKey(sink));
      if (item) cursors.set(sink, positionOf(item));
    }
    const head = items.get(headKey);
    return { head: head ? positionOf(head) : { seq: 0, row: 0 }, cursors };
  }

  async append(head: OutboxPosition, entry: Omit<OutboxEntry, 'seq' | 'startRow'>): Promise<boolean> {
    const key = `${this.prefix}${head.seq}`;
    const expiresAt = { N: String(Math.ceil(entry.createdAtMs / 1000) + ENTRY_TTL_SECONDS) };
    // Chunks, then the entry header, then the head: an entry is in the log only once all of it is stored.
    // A crash before the head moves leaves items the next append at this seq overwrites.
    await writeItems(this.client, this.tableName, [
      ...entry.chunks.map((data, j) => ({
        PutRequest: {
          Item: { [ATTR.pk]: { S: `${key}#${j}` }, data: { B: data }, [ATTR.expiresAt]: expiresAt },
        },
      })),
      {
        PutRequest: {
          Item: {
            [ATTR.pk]: { S: key },
            batch: { S: entry.token },
            rows: { N: String(entry.rows) },
            startRow: { N: String(head.row) },
            createdAt: { N: String(entry.createdAtMs) },
            chunks: { N: String(entry.chunks.length) },
            [ATTR.expiresAt]: expiresAt,
          },
        },
      },
    ]);
    return this.putPosition(`${this.prefix}head`, head, { seq: head.seq + 1, row: head.row + entry.rows });
  }

  async entry(seq: number, withRows: boolean): Promise<OutboxEntry | undefined> {
    const key = `${this.prefix}${seq}`;
    const header = (await getItems(this.client, this.tableName, [key])).get(key);
    if (!header) return undefined;
    const chunkKeys = withRows ? chunkKeysOf(key, header) : [];
    const chunks = await getItems(this.client, this.tableName, chunkKeys);
    return {
      seq,
      token: header.batch?.S ?? '',
      rows: Number(header.rows?.N ?? 0),
      startRow: Number(header.startRow?.N ?? 0),
      createdAtMs: Number(header.createdAt?.N ?? 0),
      chunks: chunkKeys.map((k) => {
        const data = chunks.get(k)?.data?.B;
        if (!data) throw new Error(`outbox entry ${key} (batch ${header.batch?.S}) lacks chunk ${k}`);
        return data;
      }),
    };
  }

  moveCursor(sink: string, from: OutboxPosition | undefined, to: OutboxPosition): Promise<boolean> {
    return this.putPosition(`${this.prefix}cursor#${sink}`, from, to);
  }

  async removeEntries(from: number, to: number): Promise<void> {
    const keys = Array.from({ length: Math.max(0, to - from) }, (_, i) => `${this.prefix}${from + i}`);
    const headers = await getItems(this.client, this.tableName, keys);
    const deletes = [...headers].flatMap(([key, header]) => [key, ...chunkKeysOf(key, header)]);
    await writeItems(
      this.client,
      this.tableName,
      deletes.map((pk) => ({ DeleteRequest: { Key: { [ATTR.pk]: { S: pk } } } })),
    );
  }

  /** Replaces a position item if it is still at `from` (undefined: absent); false if it moved. */
  private async putPosition(pk: string, from: OutboxPosition | undefined, to: OutboxPosition) {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { [ATTR.pk]: { S: pk }, seq: { N: String(to.seq) }, row: { N: String(to.row) } },
          ConditionExpression: from
            ? 'attribute_not_exists(#pk) OR #seq = :seq'
            : 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: from ? { '#pk': ATTR.pk, '#seq': 'seq' } : { '#pk': ATTR.pk },
          ExpressionAttributeValues: from ? { ':seq': { N: String(from.seq) } } : undefined,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function positionOf(item: Record<string, AttributeValue>): OutboxPosition {
  return { seq: Number(item.seq?.N ?? 0), row: Number(item.row?.N ?? 0) };
}

function chunkKeysOf(key: string, header: Record<string, AttributeValue>): string[] {
  return Array.from({ length: Number(header.chunks?.N ?? 0) }, (_, j) => `${key}#${j}`);
}
