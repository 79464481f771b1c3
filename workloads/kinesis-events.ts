// Kinesis events exactly as the Lambda event source mapping delivers them (AWS Lambda developer guide,
// "Using Lambda with Kinesis", sample event): key order, base64 data, decimal-string sequence numbers,
// eventID = shard:sequence.
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

export const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/flowline-ingest';
const SHARD_ID = 'shardId-000000000000';
const FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;

export interface StreamRecord {
  data: Buffer;
  partitionKey: string;
  sequenceNumber: string;
  arrivalSeconds: number;
}

/** Assigns increasing sequence numbers (step > 1, as Kinesis does) to payloads in stream order. */
export function asStream(
  payloads: Array<{ data: Buffer; partitionKey: string }>,
  arrivalSeconds = 1_700_000_000,
): StreamRecord[] {
  return payloads.map((p, i) => ({
    data: p.data,
    partitionKey: p.partitionKey,
    sequenceNumber: (FIRST_SEQUENCE + BigInt(i) * 1_000_000_000n).toString(),
    arrivalSeconds: arrivalSeconds + i / 1000,
  }));
}

export function kinesisEvent(records: readonly StreamRecord[]): KinesisStreamEvent {
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: r.data.toString('base64'),
          approximateArrivalTimestamp: r.arrivalSeconds,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${SHARD_ID}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/flowline-correlator',
        awsRegion: 'us-east-1',
        eventSourceARN: STREAM_ARN,
      }),
    ),
  };
}
