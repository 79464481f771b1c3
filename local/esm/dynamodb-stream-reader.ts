// Reading a DynamoDB stream shard by shard with the DynamoDB Streams API Lambda polls (DescribeStream,
// GetShardIterator, GetRecords), for an event source mapping whose EventSourceArn is a table's StreamArn.
//
// DynamoDB Local (2026-01-16, local/engines/dynamodb.ts) implements these calls; probed against it:
//   - ARNs are arn:aws:dynamodb:ddblocal:000000000000:table/<table>/stream/<label> whatever region the client
//     names, and every record's awsRegion is 'ddblocal'. The mapping's awsRegion comes from the ARN, so local
//     events say 'ddblocal' where AWS would say the table's region.
//   - The stream is ENABLED as soon as CreateTable returns (AWS: ENABLING first). It has one shard, id shaped as
//     AWS's (shardId-<20 digits>-<8 hex>); 3,000 writes did not split or roll it, so shard lineage (ParentShardId,
//     which AWS sets when it rolls shards about every four hours) is only covered with Kinesis.
//   - Sequence numbers are 21-digit zero-padded counters from 000000000000000000001 (AWS: decimal strings of
//     varying length); both increase within a shard and are compared as BigInt.
//   - ApproximateCreationDateTime is truncated to the minute (AWS: to the second), so records look up to 59 s
//     older than they are: IteratorAge and MaximumRecordAgeInSeconds (at least 60) see that age.
//   - An open shard read to its end returns no records and a NextShardIterator; disabling the stream
//     (UpdateTable StreamEnabled false) makes it DISABLED, gives its shard an EndingSequenceNumber, and the
//     closed shard read to its end returns no NextShardIterator, as in AWS. Re-enabling makes a new stream ARN.
//   - GetRecords rejects a Limit above 1000 (ValidationException, as AWS): reads are capped at 1000.
//   - AT_TIMESTAMP and an unknown sequence number make GetShardIterator fail with InternalFailure (AWS:
//     ValidationException); an invalid iterator gives ValidationException "Invalid ShardIterator". Iterators
//     can be used again and were not seen to expire.
//   - A write that changes nothing (an identical PutItem, a DeleteItem of a missing item) writes no record, as
//     in AWS. Numbers come back normalised ('1.50' -> '1.5') and image attributes in no particular order.
//   - UpdateTimeToLive is accepted but expired items were not deleted within five minutes, so DynamoDB Local gives
//     no Time to Live REMOVE records; their userIdentity is passed on as AWS documents it, untested here.
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  type _Record as StreamApiRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { ShardRecord } from './shard-record.ts';
import type {
  IteratorPosition,
  ReadResult,
  ShardInfo,
  StreamDescription,
  StreamReader,
} from './stream-reader.ts';

/** DynamoDB Streams GetRecords returns at most 1,000 records per call and rejects a larger Limit. */
export const DYNAMODB_GET_RECORDS_MAX = 1000;

/** ENABLING streams have no shards to read yet; a disabled stream's shards stay readable until trimmed (24 h). */
const READABLE_STATUSES = new Set(['ENABLED', 'DISABLING', 'DISABLED']);

export class DynamoDbStreamReader implements StreamReader {
  readonly #client: DynamoDBStreamsClient;
  readonly streamArn: string;

  constructor(client: DynamoDBStreamsClient, streamArn: string) {
    this.#client = client;
    this.streamArn = streamArn;
  }

  async describe(): Promise<StreamDescription> {
    const shards: Shard[] = [];
    let status = 'UNKNOWN';
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription: page } = await this.#client.send(
        new DescribeStreamCommand({
          StreamArn: this.streamArn,
          ...(exclusiveStartShardId ? { ExclusiveStartShardId: exclusiveStartShardId } : {}),
        }),
      );
      status = page?.StreamStatus ?? status;
      shards.push(...(page?.Shards ?? []));
      exclusiveStartShardId = page?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    const readable = READABLE_STATUSES.has(status);
    return {
      status,
      readable,
      shards: readable ? shards.map(shardInfoOf) : [],
    };
  }

  async iterator(shardId: string, position: IteratorPosition): Promise<string> {
    if (position.type === 'AT_TIMESTAMP') {
      throw new Error(
        `DynamoDB Streams has no AT_TIMESTAMP iterator (${this.streamArn}): start at TRIM_HORIZON or LATEST`,
      );
    }
    const response = await this.#client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: position.type,
        ...(position.type === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: position.sequenceNumber } : {}),
      }),
    );
    if (!response.ShardIterator) throw new Error(`GetShardIterator returned no iterator for ${shardId}`);
    return response.ShardIterator;
  }

  async read(shardId: string, iterator: string, limit: number): Promise<ReadResult> {
    const response = await this.#client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(limit, DYNAMODB_GET_RECORDS_MAX) }),
    );
    return {
      records: (response.Records ?? []).map((record) => toShardRecord(shardId, record)),
      // DynamoDB Streams reports no MillisBehindLatest.
      ...(response.NextShardIterator ? { nextIterator: response.NextShardIterator } : {}),
    };
  }
}

function shardInfoOf(shard: Shard): ShardInfo {
  return {
    shardId: shard.ShardId as string,
    // A DynamoDB stream shard has at most one parent (shards roll and split, never merge).
    parentShardIds: shard.ParentShardId ? [shard.ParentShardId] : [],
  };
}

/** A GetRecords record as the emulator keeps it; the fields Lambda's event needs must be there. */
export function toShardRecord(shardId: string, record: StreamApiRecord): ShardRecord {
  const change = record.dynamodb;
  const sequenceNumber = change?.SequenceNumber;
  const { eventID, eventName } = record;
  if (!change || !sequenceNumber || !eventID || !eventName || !change.Keys || !change.StreamViewType) {
    throw new Error(`incomplete DynamoDB stream record in ${shardId}: ${JSON.stringify(record)}`);
  }
  const identity = record.userIdentity;
  return {
    shardId,
    sequenceNumber,
    sequence: BigInt(sequenceNumber),
    approximateArrivalMs: change.ApproximateCreationDateTime?.getTime() ?? Date.now(),
    payload: {
      eventSource: 'aws:dynamodb',
      eventID,
      eventName,
      keys: change.Keys,
      ...(change.NewImage ? { newImage: change.NewImage } : {}),
      ...(change.OldImage ? { oldImage: change.OldImage } : {}),
      sizeBytes: change.SizeBytes ?? 0,
      streamViewType: change.StreamViewType,
      ...(identity?.Type && identity.PrincipalId
        ? { userIdentity: { type: identity.Type, principalId: identity.PrincipalId } }
        : {}),
    },
  };
}
