// Reading a stream shard by shard with the polling API Lambda uses (GetShardIterator / GetRecords): the
// interface every source implements, and Kinesis's (DynamoDB Streams: dynamodb-stream-reader.ts).
// The Kinesis client must use the HTTP/1.1 handler when it talks to kinesis-mock (reference §4.1).
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { ShardRecord } from './shard-record.ts';

export interface ShardInfo {
  readonly shardId: string;
  readonly parentShardIds: readonly string[];
}

export type IteratorPosition =
  | { readonly type: 'TRIM_HORIZON' | 'LATEST' }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestampSeconds: number }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

export interface ReadResult {
  readonly records: ShardRecord[];
  /** Absent once a closed shard has been read to its end. */
  readonly nextIterator?: string;
  readonly millisBehindLatest?: number;
}

export interface StreamDescription {
  /** The source's own stream status (Kinesis ACTIVE, DynamoDB Streams ENABLED...). */
  readonly status: string;
  /** Whether shards can be listed and read now; if not, the mapping asks again at its next refresh. */
  readonly readable: boolean;
  readonly shards: ShardInfo[];
}

export interface StreamReader {
  readonly streamArn: string;
  describe(): Promise<StreamDescription>;
  iterator(shardId: string, position: IteratorPosition): Promise<string>;
  read(shardId: string, iterator: string, limit: number): Promise<ReadResult>;
}

export class KinesisStreamReader implements StreamReader {
  readonly #client: KinesisClient;
  readonly streamArn: string;

  constructor(client: KinesisClient, streamArn: string) {
    this.#client = client;
    this.streamArn = streamArn;
  }

  async describe(): Promise<StreamDescription> {
    const summary = await this.#client.send(new DescribeStreamSummaryCommand({ StreamARN: this.streamArn }));
    const status = summary.StreamDescriptionSummary?.StreamStatus ?? 'UNKNOWN';
    if (status !== 'ACTIVE' && status !== 'UPDATING') return { status, readable: false, shards: [] };
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#client.send(
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamARN: this.streamArn }),
      );
      shards.push(...(page.Shards ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return {
      status,
      readable: true,
      shards: shards.map((shard) => ({
        shardId: shard.ShardId as string,
        parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
          (id): id is string => typeof id === 'string',
        ),
      })),
    };
  }

  async iterator(shardId: string, position: IteratorPosition): Promise<string> {
    const response = await this.#client.send(
      new GetShardIteratorCommand({
        StreamARN: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: position.type as ShardIteratorType,
        ...(position.type === 'AT_TIMESTAMP'
          ? { Timestamp: new Date(position.timestampSeconds * 1000) }
          : {}),
        ...(position.type === 'AFTER_SEQUENCE_NUMBER'
          ? { StartingSequenceNumber: position.sequenceNumber }
          : {}),
      }),
    );
    if (!response.ShardIterator) throw new Error(`GetShardIterator returned no iterator for ${shardId}`);
    return response.ShardIterator;
  }

  async read(shardId: string, iterator: string, limit: number): Promise<ReadResult> {
    const response = await this.#client.send(
      new GetRecordsCommand({ StreamARN: this.streamArn, ShardIterator: iterator, Limit: limit }),
    );
    const records = (response.Records ?? []).map(
      (record): ShardRecord => ({
        shardId,
        sequenceNumber: record.SequenceNumber as string,
        sequence: BigInt(record.SequenceNumber as string),
        approximateArrivalMs: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
        payload: {
          eventSource: 'aws:kinesis',
          partitionKey: record.PartitionKey as string,
          data: record.Data ?? new Uint8Array(),
        },
      }),
    );
    return {
      records,
      ...(response.NextShardIterator ? { nextIterator: response.NextShardIterator } : {}),
      ...(response.MillisBehindLatest !== undefined
        ? { millisBehindLatest: response.MillisBehindLatest }
        : {}),
    };
  }
}
