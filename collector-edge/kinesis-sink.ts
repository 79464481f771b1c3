// The producer's sink on AWS SDK v3: PutRecords and ListShards on one KinesisClient. The client comes from
// adapters/aws-clients.ts (HTTP/1.1 handler, AWS_ENDPOINT_URL_KINESIS), with SDK retries off: the producer
// retries itself, entry by entry, with its own backoff, and a request must not hide minutes of SDK retries.
import {
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { KinesisSink, PutEntry, PutResult } from './producer.ts';
import type { ShardRange } from './shard-map.ts';

export class KinesisStreamSink implements KinesisSink {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
  ) {}

  async putRecords(entries: PutEntry[]): Promise<PutResult[]> {
    const response = await this.client.send(
      new PutRecordsCommand({
        StreamName: this.streamName,
        Records: entries.map((e) => ({
          Data: e.data,
          PartitionKey: e.partitionKey,
          ...(e.explicitHashKey ? { ExplicitHashKey: e.explicitHashKey } : {}),
        })),
      }),
    );
    const records = response.Records ?? [];
    return entries.map((_, i): PutResult => {
      const result = records[i];
      if (!result) return { ok: false, errorCode: 'MissingResult', errorMessage: 'no result for this entry' };
      if (result.ErrorCode)
        return { ok: false, errorCode: result.ErrorCode, errorMessage: result.ErrorMessage ?? '' };
      return { ok: true, ...(result.ShardId ? { shardId: result.ShardId } : {}) };
    });
  }

  /** Open shards (no ending sequence number), following NextToken pages. */
  async listShards(): Promise<ShardRange[]> {
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.streamName }),
      );
      shards.push(...(page.Shards ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return shards
      .filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
      .map((s) => ({
        shardId: s.ShardId!,
        startingHashKey: BigInt(s.HashKeyRange!.StartingHashKey!),
        endingHashKey: BigInt(s.HashKeyRange!.EndingHashKey!),
      }));
  }
}
