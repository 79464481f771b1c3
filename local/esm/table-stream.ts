// A DynamoDB table's stream read as the event source mapping reads it, one batch at a time, for integration
// tests and benchmarks on DynamoDB Local: batches of Lambda's DynamoDBStreamEvent shape (this folder's
// reader and event builder), a checkpoint that moves only when the caller says the batch succeeded, so a
// failed batch comes again. (The emulator, emulator.ts, runs the same reader in the background instead.)
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createDynamoDbStreamsClient } from '../../adapters/aws-clients.ts';
import { toDynamoDbEvent } from './dynamodb-event.ts';
import { DynamoDbStreamReader } from './dynamodb-stream-reader.ts';
import type { ShardRecord } from './shard-record.ts';

export class TableStream {
  private readonly streams = createDynamoDbStreamsClient();
  private reader: DynamoDbStreamReader | undefined;
  /** Per shard: the last sequence number of a batch that succeeded. */
  private readonly checkpoints = new Map<string, string>();
  private pending: { shardId: string; records: ShardRecord[] } | undefined;

  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly table: string,
  ) {}

  private async open(): Promise<DynamoDbStreamReader> {
    if (this.reader) return this.reader;
    const { Table } = await this.dynamodb.send(new DescribeTableCommand({ TableName: this.table }));
    if (!Table?.LatestStreamArn) throw new Error(`table ${this.table} has no stream`);
    this.reader = new DynamoDbStreamReader(this.streams, Table.LatestStreamArn);
    return this.reader;
  }

  /**
   * The next batch (at most `limit` records) after the checkpoint, or the same batch again when the last one
   * was not acknowledged; undefined when every shard is read to its end.
   */
  async next(limit = 1000): Promise<DynamoDBStreamEvent | undefined> {
    const reader = await this.open();
    if (!this.pending) {
      for (const { shardId } of (await reader.describe()).shards) {
        const after = this.checkpoints.get(shardId);
        const iterator = await reader.iterator(
          shardId,
          after ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: after } : { type: 'TRIM_HORIZON' },
        );
        const { records } = await reader.read(shardId, iterator, limit);
        if (records.length > 0) {
          this.pending = { shardId, records };
          break;
        }
      }
    }
    if (!this.pending) return undefined;
    return toDynamoDbEvent(this.pending.records, {
      streamArn: reader.streamArn,
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/exporter',
    });
  }

  /** The last batch succeeded: the checkpoint moves past it. */
  ack(): void {
    if (!this.pending) return;
    this.checkpoints.set(this.pending.shardId, this.pending.records.at(-1)!.sequenceNumber);
    this.pending = undefined;
  }

  close(): void {
    this.streams.destroy();
  }
}
