// The Kinesis event Lambda delivers to a function (AWS shape, reference §2.1): one shard per batch, keys in
// the order AWS emits them, data base64, arrival time in epoch seconds with a millisecond fraction.
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** A record as read from one shard, before it is turned into the Lambda event shape. */
export interface ShardRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Sequence numbers are 56-digit decimals: compare them as BigInt, never as numbers. */
  readonly sequence: bigint;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly approximateArrivalMs: number;
}

/** The fixed fields of every event record of one mapping. */
export interface EventSourceIdentity {
  readonly streamArn: string;
  readonly awsRegion: string;
  /** The function's execution role ARN. */
  readonly invokeIdentityArn: string;
}

export function toKinesisEventRecord(record: ShardRecord, source: EventSourceIdentity): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString(
        'base64',
      ),
      approximateArrivalTimestamp: record.approximateArrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${record.shardId}:${record.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.awsRegion,
    eventSourceARN: source.streamArn,
  };
}

export function toKinesisEvent(
  records: readonly ShardRecord[],
  source: EventSourceIdentity,
): KinesisStreamEvent {
  return { Records: records.map((record) => toKinesisEventRecord(record, source)) };
}

/** Lambda's synchronous invocation payload limit; a batch is cut before its event would exceed it. */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Serialized size of one event record: base64 data plus the fixed fields (an upper bound, no JSON parse). */
export function eventRecordBytes(record: ShardRecord, source: EventSourceIdentity): number {
  const fixed =
    330 + // key names, quotes, constant values
    record.shardId.length +
    2 * record.sequenceNumber.length +
    record.partitionKey.length +
    source.streamArn.length +
    source.awsRegion.length +
    source.invokeIdentityArn.length;
  return fixed + Math.ceil(record.data.byteLength / 3) * 4;
}

export function streamNameFromArn(streamArn: string): string {
  const match = /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/(.+)$/.exec(streamArn);
  if (!match?.[1]) throw new Error(`not a Kinesis stream ARN: ${streamArn}`);
  return match[1];
}

export function regionFromArn(arn: string): string {
  const region = arn.split(':')[3];
  if (!region) throw new Error(`ARN has no region: ${arn}`);
  return region;
}
