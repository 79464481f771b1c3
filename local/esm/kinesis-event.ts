// The Kinesis event Lambda delivers to a function (AWS shape, reference §2.1): one shard per batch, keys in
// the order AWS emits them, data base64, arrival time in epoch seconds with a millisecond fraction.
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { type EventSourceIdentity, payloadOf, type ShardRecord } from './shard-record.ts';

export function toKinesisEventRecord(record: ShardRecord, source: EventSourceIdentity): KinesisStreamRecord {
  const { partitionKey, data } = payloadOf(record, 'aws:kinesis');
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
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

/** Serialized size of one event record: base64 data plus the fixed fields (an upper bound, no JSON parse). */
export function kinesisEventRecordBytes(record: ShardRecord, source: EventSourceIdentity): number {
  const { partitionKey, data } = payloadOf(record, 'aws:kinesis');
  const fixed =
    330 + // key names, quotes, constant values
    record.shardId.length +
    2 * record.sequenceNumber.length +
    partitionKey.length +
    source.streamArn.length +
    source.awsRegion.length +
    source.invokeIdentityArn.length;
  return fixed + Math.ceil(data.byteLength / 3) * 4;
}

export function streamNameFromArn(streamArn: string): string {
  const match = /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/(.+)$/.exec(streamArn);
  if (!match?.[1]) throw new Error(`not a Kinesis stream ARN: ${streamArn}`);
  return match[1];
}
