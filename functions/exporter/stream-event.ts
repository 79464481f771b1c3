// A DynamoDB Streams event (the Lambda event source mapping's shape) -> the exporter's change records.
// In the event, Binary attributes are base64 text (JSON), not bytes: they are turned back into bytes
// before the item decoder (functions/flow-store/marshal.ts) reads them. Records of items that are not flows
// (the exporter's intents, the sinks' outbox, names items) and writes without closed rows carry no rows; the mapping's
// filter (lib/) keeps most of them away, and they are harmless when they come.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent, AttributeValue as EventAttributeValue } from 'aws-lambda';
import { closedRowsOf, type FlowItem } from '../flow-store/marshal.ts';
import { ATTR, BUCKET_PK_PREFIX } from '../flow-store/schema.ts';
import type { ChangeRecord } from './export-batch.ts';

export class StreamEventError extends Error {
  override name = 'StreamEventError';
}

/** The attributes the exporter reads, converted from the event's JSON form. */
const READ_ATTRIBUTES = [ATTR.pk, ATTR.record, ATTR.aggregation, ATTR.rows, ATTR.flows] as const;

function attributeOf(value: EventAttributeValue): AttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B, 'base64') };
  if (value.L !== undefined) return { L: value.L.map(attributeOf) };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  throw new StreamEventError(`attribute type not read by the exporter: ${Object.keys(value).join(',')}`);
}

/** The change records of one batch, in order. */
export function changeRecordsOf(event: DynamoDBStreamEvent): ChangeRecord[] {
  return event.Records.map((record) => {
    const eventId = record.eventID;
    if (!eventId) throw new StreamEventError('stream record without an eventID');
    const image = record.dynamodb?.NewImage;
    const pk = image?.[ATTR.pk]?.S;
    const holdsFlows = pk !== undefined && (pk.includes('|') || pk.startsWith(BUCKET_PK_PREFIX));
    if (!image || image[ATTR.rows] === undefined || !holdsFlows) return { eventId, rows: [] };
    const item: FlowItem = {};
    for (const name of READ_ATTRIBUTES) {
      const value = image[name];
      if (value !== undefined) item[name] = attributeOf(value);
    }
    return { eventId, rows: closedRowsOf(item) };
  });
}
