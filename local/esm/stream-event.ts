// What differs between the stream sources a mapping can read: the Lambda event its batches become, how large
// each record is in that event, which records must stay in order across ParallelizationFactor lanes, and the
// starting positions the source supports. Lambda picks the source by the service of the EventSourceArn, and so
// does the emulator: everything else (batching, retries, bisect, checkpoints, lineage) is shared.
import type { DynamoDBStreamEvent, KinesisStreamEvent } from 'aws-lambda';
import {
  dynamoDbEventRecordBytes,
  itemKeyOf,
  toDynamoDbEvent,
  toDynamoDbEventRecord,
} from './dynamodb-event.ts';
import { kinesisEventRecordBytes, toKinesisEvent, toKinesisEventRecord } from './kinesis-event.ts';
import type { StartingPosition } from './settings.ts';
import {
  type EventSource,
  type EventSourceIdentity,
  eventSourceOfArn,
  payloadOf,
  type ShardRecord,
} from './shard-record.ts';

export type StreamEvent = KinesisStreamEvent | DynamoDBStreamEvent;

/** Lambda's synchronous invocation payload limit; a batch is cut before its event would exceed it. */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface StreamEventFormat {
  readonly eventSource: EventSource;
  toEvent(records: readonly ShardRecord[], source: EventSourceIdentity): StreamEvent;
  /** One record as the event carries it: what a mapping's filter patterns look at. */
  toEventRecord(record: ShardRecord, source: EventSourceIdentity): StreamEvent['Records'][number];
  /** Bytes the record adds to the event's JSON (at least: never less than it takes). */
  recordBytes(record: ShardRecord, source: EventSourceIdentity): number;
  /** Records with equal keys are processed in order: Kinesis partition keys, DynamoDB item keys. */
  orderingKey(record: ShardRecord): string;
  readonly startingPositions: readonly StartingPosition[];
}

const KINESIS: StreamEventFormat = {
  eventSource: 'aws:kinesis',
  toEvent: toKinesisEvent,
  toEventRecord: toKinesisEventRecord,
  recordBytes: kinesisEventRecordBytes,
  orderingKey: (record) => payloadOf(record, 'aws:kinesis').partitionKey,
  startingPositions: ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'],
};

const DYNAMODB: StreamEventFormat = {
  eventSource: 'aws:dynamodb',
  toEvent: toDynamoDbEvent,
  toEventRecord: toDynamoDbEventRecord,
  recordBytes: dynamoDbEventRecordBytes,
  // Lambda keeps DynamoDB changes in order per item (partition and sort key) when it parallelises a shard.
  orderingKey: itemKeyOf,
  // DynamoDB Streams has no AT_TIMESTAMP iterator.
  startingPositions: ['TRIM_HORIZON', 'LATEST'],
};

export function eventFormatOf(streamArn: string): StreamEventFormat {
  return eventSourceOfArn(streamArn) === 'aws:kinesis' ? KINESIS : DYNAMODB;
}
