// The DynamoDB Streams event Lambda delivers to a function (the DynamoDBStreamEvent of @types/aws-lambda):
// one shard per batch, each record as GetRecords returned it with epoch seconds instead of a date, images in
// DynamoDB JSON (typed attribute values, binary as base64, never unmarshalled) and the mapping's stream ARN.
// Keys keep the order of Lambda's events: the record's top-level fields, then `dynamodb` with its members in
// the order the Streams API returns them.
import type { AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import type {
  DynamoDBRecord,
  DynamoDBStreamEvent,
  AttributeValue as EventAttributeValue,
  StreamRecord,
} from 'aws-lambda';
import { type EventSourceIdentity, payloadOf, type ShardRecord } from './shard-record.ts';

export function toDynamoDbEventRecord(record: ShardRecord, source: EventSourceIdentity): DynamoDBRecord {
  const change = payloadOf(record, 'aws:dynamodb');
  const dynamodb: StreamRecord = {
    ApproximateCreationDateTime: record.approximateArrivalMs / 1000,
    Keys: toEventImage(change.keys),
    ...(change.newImage ? { NewImage: toEventImage(change.newImage) } : {}),
    ...(change.oldImage ? { OldImage: toEventImage(change.oldImage) } : {}),
    SequenceNumber: record.sequenceNumber,
    SizeBytes: change.sizeBytes,
    StreamViewType: change.streamViewType,
  };
  return {
    eventID: change.eventID,
    eventName: change.eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: source.awsRegion,
    dynamodb,
    eventSourceARN: source.streamArn,
    ...(change.userIdentity
      ? { userIdentity: { type: change.userIdentity.type, principalId: change.userIdentity.principalId } }
      : {}),
  };
}

export function toDynamoDbEvent(
  records: readonly ShardRecord[],
  source: EventSourceIdentity,
): DynamoDBStreamEvent {
  return { Records: records.map((record) => toDynamoDbEventRecord(record, source)) };
}

/**
 * Serialized size of one event record, exact: images are nested and of any shape, so no cheap bound is close
 * enough, and local mode can afford one JSON.stringify per record read.
 */
export function dynamoDbEventRecordBytes(record: ShardRecord, source: EventSourceIdentity): number {
  return Buffer.byteLength(JSON.stringify(toDynamoDbEventRecord(record, source))) + 1; // and its comma
}

/** Records of one item keep their order across ParallelizationFactor lanes: the item's keys, canonically. */
export function itemKeyOf(record: ShardRecord): string {
  const { keys } = payloadOf(record, 'aws:dynamodb');
  const sorted = Object.keys(keys)
    .sort()
    .map((name) => [name, toEventAttributeValue(keys[name] as AttributeValue)]);
  return JSON.stringify(sorted);
}

function toEventImage(image: Readonly<Record<string, AttributeValue>>): Record<string, EventAttributeValue> {
  return Object.fromEntries(
    Object.entries(image).map(([name, value]) => [name, toEventAttributeValue(value)]),
  );
}

/** The SDK's attribute value (binary as bytes) -> the wire's DynamoDB JSON (binary as base64). */
export function toEventAttributeValue(value: AttributeValue): EventAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: base64(value.B) };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map(base64) };
  if (value.L !== undefined) return { L: value.L.map(toEventAttributeValue) };
  if (value.M !== undefined) return { M: toEventImage(value.M) };
  throw new Error(`unknown DynamoDB attribute value type: ${JSON.stringify(Object.keys(value))}`);
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
