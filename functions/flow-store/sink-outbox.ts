// The exporter's sink outbox in the flow table (design: functions/sinks/outbox.ts; port SinkOutboxStore).
//
// ITEMS (same table; their pk starts with "flusher#", the prefix the flusher gave them, and never is a flow key)
//   pk "<P>head"              the end of the log: seq N (next entry), row N (rows appended so far)
//   pk "<P>cursor#<sink>"     one sink's cursor: seq N (next entry to deliver), row N (rows before it),
//                             movers M (seq -> S: the containers that made its last 16 moves)
//   pk "<P><seq>"             entry header: batch S (ClickHouse dedup token), rows N, startRow N,
//                             createdAt N, chunks N, chunkKey S, expiresAt N (TTL: an entry no sink took in
//                             14 days)
//   pk "<chunkKey><j>"        chunk j of its rows: data B (gzip'd rows, <= OUTBOX_CHUNK_BYTES); chunkKey is
//                             "<P><seq>#<attempt>#", unique per append attempt
//   pk "<P>lease#<sink>"      who delivers to that sink now: owner S (an exporter container), until N (epoch
//                             ms), expiresAt N (TTL, a day after until); replaced by conditional puts
// with <P> = outboxPrefixOf(partition), 0 for the exporter. Only PutItem (also inside TransactWriteItems,
// which IAM governs by its actions), BatchGetItem, BatchWriteItem and DeleteItem (the exporter's outbox
// rights, lib/sinks.ts, limited to this prefix); the head and cursors are small items replaced by
// conditional puts.
//
// Exporters of several stream shards append to the one log at once. An append writes its chunks under
// keys of its own, then the entry header and the head move in one transaction conditional on the head:
// of two appends at the same seq exactly one lands, whole, and the other finds the head moved and tries
// the next seq. (Written apart, the loser's header would overwrite the winner's, and the winner's batch
// would reach no sink.)
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type {
  LeaseAnswer,
  OutboxEntry,
  OutboxPosition,
  SinkOutboxStore,
} from '../../core/flow-state/ports.ts';
import { getItems, writeItems } from './item-batches.ts';

/** A row chunk stays well below DynamoDB's 400 KB item limit. */
export const OUTBOX_CHUNK_BYTES = 350_000;

import { ATTR, outboxPrefixOf } from './schema.ts';

const ENTRY_TTL_SECONDS = 14 * 86_400;
/** A lease item outlives its time by a day, then the table's TTL removes it. */
const LEASE_TTL_SECONDS = 86_400;

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
    const chunkKey = `${key}#${randomUUID()}#`;
    const expiresAt = { N: String(Math.ceil(entry.createdAtMs / 1000) + ENTRY_TTL_SECONDS) };
    // The chunks first, under this attempt's keys: an attempt that loses leaves only items its TTL removes.
    await writeItems(
      this.client,
      this.tableName,
      entry.chunks.map((data, j) => ({
        PutRequest: {
          Item: { [ATTR.pk]: { S: `${chunkKey}${j}` }, data: { B: data }, [ATTR.expiresAt]: expiresAt },
        },
      })),
    );
    const header = {
      [ATTR.pk]: { S: key },
      batch: { S: entry.token },
      rows: { N: String(entry.rows) },
      startRow: { N: String(head.row) },
      createdAt: { N: String(entry.createdAtMs) },
      chunks: { N: String(entry.chunks.length) },
      chunkKey: { S: chunkKey },
      [ATTR.expiresAt]: expiresAt,
    };
    const next = { seq: head.seq + 1, row: head.row + entry.rows };
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: header } },
            {
              Put: {
                TableName: this.tableName,
                ...this.conditionalPositionPut(`${this.prefix}head`, head, next),
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // The head moved, or another append's transaction held it at the same moment: nothing of this one
      // landed, and the caller appends after the head as it now reads it.
      const lost = (error.CancellationReasons ?? []).some(
        (reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict',
      );
      if (!lost) throw error;
      return false;
    }
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

  async lease(sink: string, owner: string, nowMs: number, untilMs: number): Promise<LeaseAnswer> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [ATTR.pk]: { S: `${this.prefix}lease#${sink}` },
            owner: { S: owner },
            until: { N: String(untilMs) },
            [ATTR.expiresAt]: { N: String(Math.ceil(untilMs / 1000) + LEASE_TTL_SECONDS) },
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #owner = :owner OR #until < :now',
          ExpressionAttributeNames: { '#pk': ATTR.pk, '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: { ':owner': { S: owner }, ':now': { N: String(nowMs) } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { held: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return {
        held: false,
        holder: error.Item?.owner?.S ?? '',
        untilMs: Number(error.Item?.until?.N ?? nowMs),
      };
    }
  }

  /** The conditional put of a position item: it replaces the item if still at `from` (undefined: absent). */
  private conditionalPositionPut(pk: string, from: OutboxPosition | undefined, to: OutboxPosition) {
    const names: Record<string, string> = from ? { '#pk': ATTR.pk, '#seq': 'seq' } : { '#pk': ATTR.pk };
    return {
      Item: {
        [ATTR.pk]: { S: pk },
        seq: { N: String(to.seq) },
        row: { N: String(to.row) },
        ...(to.movers && {
          movers: { M: Object.fromEntries(Object.entries(to.movers).map(([seq, by]) => [seq, { S: by }])) },
        }),
      },
      ConditionExpression: from ? 'attribute_not_exists(#pk) OR #seq = :seq' : 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: from ? { ':seq': { N: String(from.seq) } } : undefined,
    };
  }

  /** Replaces a position item if it is still at `from` (undefined: absent); false if it moved. */
  private async putPosition(pk: string, from: OutboxPosition | undefined, to: OutboxPosition) {
    try {
      await this.client.send(
        new PutItemCommand({ TableName: this.tableName, ...this.conditionalPositionPut(pk, from, to) }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function positionOf(item: Record<string, AttributeValue>): OutboxPosition {
  const position: OutboxPosition = { seq: Number(item.seq?.N ?? 0), row: Number(item.row?.N ?? 0) };
  const movers = item.movers?.M;
  if (movers)
    position.movers = Object.fromEntries(Object.entries(movers).map(([seq, by]) => [seq, by.S ?? '']));
  return position;
}

function chunkKeysOf(key: string, header: Record<string, AttributeValue>): string[] {
  // Entries appended before chunk keys were per attempt keep their chunks at "<key>#<j>".
  const chunkKey = header.chunkKey?.S ?? `${key}#`;
  return Array.from({ length: Number(header.chunks?.N ?? 0) }, (_, j) => `${chunkKey}${j}`);
}
