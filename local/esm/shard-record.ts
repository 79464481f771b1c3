// A record as read from one shard of a stream, before it becomes part of a Lambda event. The emulator orders,
// checkpoints, batches and ages records by the fields every stream shares; what only one kind of stream has
// travels in `payload`, and the mapping's event format (stream-event.ts) turns it into that source's event.
import type { AttributeValue, StreamViewType } from '@aws-sdk/client-dynamodb-streams';

export interface ShardRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Sequence numbers are long decimals (56 digits in Kinesis): compare them as BigInt, never as numbers. */
  readonly sequence: bigint;
  /** Kinesis: the arrival time; DynamoDB Streams: ApproximateCreationDateTime. Record age is measured from it. */
  readonly approximateArrivalMs: number;
  readonly payload: RecordPayload;
}

export type RecordPayload = KinesisRecordPayload | DynamoDbRecordPayload;

export interface KinesisRecordPayload {
  readonly eventSource: 'aws:kinesis';
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** One item change of a DynamoDB stream, attribute values as the DynamoDB Streams API returns them. */
export interface DynamoDbRecordPayload {
  readonly eventSource: 'aws:dynamodb';
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly keys: Readonly<Record<string, AttributeValue>>;
  readonly newImage?: Readonly<Record<string, AttributeValue>>;
  readonly oldImage?: Readonly<Record<string, AttributeValue>>;
  readonly sizeBytes: number;
  readonly streamViewType: StreamViewType;
  /** Present on deletions by Time to Live: type 'Service', principalId 'dynamodb.amazonaws.com'. */
  readonly userIdentity?: { readonly type: string; readonly principalId: string };
}

/** The fixed fields of every event record of one mapping. */
export interface EventSourceIdentity {
  readonly streamArn: string;
  readonly awsRegion: string;
  /** The function's execution role ARN (Kinesis events carry it). */
  readonly invokeIdentityArn: string;
}

/** The `eventSource` of a mapping's records: Lambda tells the kinds apart by the service of the EventSourceArn. */
export type EventSource = RecordPayload['eventSource'];

export function eventSourceOfArn(streamArn: string): EventSource {
  const service = streamArn.split(':')[2];
  if (service === 'kinesis' && /:stream\/[^/]+$/.test(streamArn)) return 'aws:kinesis';
  if (service === 'dynamodb' && /:table\/[^/]+\/stream\/[^/]+$/.test(streamArn)) return 'aws:dynamodb';
  throw new Error(`not a Kinesis stream or DynamoDB stream ARN: ${streamArn}`);
}

export function regionFromArn(arn: string): string {
  const region = arn.split(':')[3];
  if (!region) throw new Error(`ARN has no region: ${arn}`);
  return region;
}

/** Narrows a record to the payload its mapping's source must have; a mismatch is an emulator bug. */
export function payloadOf<S extends EventSource>(
  record: ShardRecord,
  eventSource: S,
): Extract<RecordPayload, { eventSource: S }> {
  if (record.payload.eventSource !== eventSource) {
    throw new Error(
      `record ${record.sequenceNumber} of ${record.shardId} is from ${record.payload.eventSource}, not ${eventSource}`,
    );
  }
  return record.payload as Extract<RecordPayload, { eventSource: S }>;
}
