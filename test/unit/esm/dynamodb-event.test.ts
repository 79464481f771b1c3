// GetRecords records of DynamoDB Streams (as the SDK returns them) into the Lambda DynamoDBStreamEvent, and the
// emulator's batch machinery on them: partial batch responses by SequenceNumber, DDBStreamBatchInfo on failure.
import type { _Record as StreamApiRecord } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { defaultRetryDelayMs, processBatch } from '../../../local/esm/batch-processor.ts';
import { ManualClock } from '../../../local/esm/clock.ts';
import { dynamoDbEventRecordBytes, itemKeyOf, toDynamoDbEvent } from '../../../local/esm/dynamodb-event.ts';
import { DynamoDbStreamReader, toShardRecord } from '../../../local/esm/dynamodb-stream-reader.ts';
import { StreamEventSourceMapping } from '../../../local/esm/emulator.ts';
import { MemoryFailureDestination } from '../../../local/esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../../../local/esm/invoker.ts';
import { EsmMetrics } from '../../../local/esm/metrics.ts';
import { DEFAULT_STREAM_MAPPING_SETTINGS, type StreamMappingSettings } from '../../../local/esm/settings.ts';
import { eventSourceOfArn, type ShardRecord } from '../../../local/esm/shard-record.ts';
import { eventFormatOf } from '../../../local/esm/stream-event.ts';

const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/flows/stream/2026-01-02T03:04:05.678';
const SOURCE = { streamArn: STREAM_ARN, awsRegion: 'eu-west-1', invokeIdentityArn: 'unused-by-dynamodb' };
const SHARD = 'shardId-00000001767323045678-0a1b2c3d';
const CREATED = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

/** A record as GetRecords returns it through the SDK: binary as bytes, the creation time as a Date. */
function apiRecord(index: number, change: Partial<StreamApiRecord> = {}): StreamApiRecord {
  const sequenceNumber = String(4_421_584_500_000_000_017_450_439_091n + BigInt(index));
  return {
    eventID: `c4ca4238a0b923820dcc509a6f7584${String(index).padStart(2, '0')}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    ...change,
    dynamodb: {
      ApproximateCreationDateTime: new Date(CREATED.getTime() + index * 1000),
      Keys: { sk: { N: String(index) }, pk: { S: `flow-${index % 2}` } },
      NewImage: { sk: { N: String(index) }, pk: { S: `flow-${index % 2}` }, packets: { N: '10' } },
      SequenceNumber: sequenceNumber,
      SizeBytes: 40,
      StreamViewType: 'NEW_IMAGE',
      ...change.dynamodb,
    },
  };
}

describe('DynamoDB stream records in the Lambda event', () => {
  it('keeps NewImage in DynamoDB JSON: numbers as strings, binary as base64, maps, lists and sets typed', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const record = toShardRecord(
      SHARD,
      apiRecord(0, {
        dynamodb: {
          Keys: { sk: { N: '7' }, pk: { S: 'flow-a' } },
          NewImage: {
            pk: { S: 'flow-a' },
            sk: { N: '7' },
            bytes: { N: '1234567890123456789012345678.5' },
            payload: { B: bytes },
            exporter: {
              M: {
                address: { S: '10.0.0.1' },
                ports: { L: [{ N: '4739' }, { NULL: true }, { BOOL: false }] },
                digest: { B: new Uint8Array([222, 173, 190, 239]) },
              },
            },
            labels: { SS: ['app', 'tier'] },
            shards: { NS: ['1', '2.5'] },
            keys: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
          },
        },
      }),
    );
    const event: DynamoDBStreamEvent = toDynamoDbEvent([record], SOURCE);
    expect(event).toEqual({
      Records: [
        {
          eventID: 'c4ca4238a0b923820dcc509a6f758400',
          eventName: 'INSERT',
          eventVersion: '1.1',
          eventSource: 'aws:dynamodb',
          awsRegion: 'eu-west-1',
          dynamodb: {
            ApproximateCreationDateTime: CREATED.getTime() / 1000,
            Keys: { sk: { N: '7' }, pk: { S: 'flow-a' } },
            NewImage: {
              pk: { S: 'flow-a' },
              sk: { N: '7' },
              bytes: { N: '1234567890123456789012345678.5' },
              payload: { B: Buffer.from(bytes).toString('base64') },
              exporter: {
                M: {
                  address: { S: '10.0.0.1' },
                  ports: { L: [{ N: '4739' }, { NULL: true }, { BOOL: false }] },
                  digest: { B: '3q2+7w==' },
                },
              },
              labels: { SS: ['app', 'tier'] },
              shards: { NS: ['1', '2.5'] },
              keys: { BS: ['AQ==', 'AgM='] },
            },
            SequenceNumber: '4421584500000000017450439091',
            SizeBytes: 40,
            StreamViewType: 'NEW_IMAGE',
          },
          eventSourceARN: STREAM_ARN,
        },
      ],
    });
    const [first] = event.Records;
    expect(Object.keys(first ?? {})).toEqual([
      'eventID',
      'eventName',
      'eventVersion',
      'eventSource',
      'awsRegion',
      'dynamodb',
      'eventSourceARN',
    ]);
    expect(Object.keys(first?.dynamodb ?? {})).toEqual([
      'ApproximateCreationDateTime',
      'Keys',
      'NewImage',
      'SequenceNumber',
      'SizeBytes',
      'StreamViewType',
    ]);
    expect(Number.isInteger(first?.dynamodb?.ApproximateCreationDateTime)).toBe(true); // epoch seconds
  });

  it('carries MODIFY with both images, REMOVE without NewImage, and the Time to Live identity', () => {
    const modify = toShardRecord(
      SHARD,
      apiRecord(1, {
        eventName: 'MODIFY',
        dynamodb: {
          OldImage: { pk: { S: 'flow-1' }, sk: { N: '1' }, packets: { N: '9' } },
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      }),
    );
    const ttlRemove = toShardRecord(
      SHARD,
      apiRecord(2, {
        eventName: 'REMOVE',
        userIdentity: { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' },
        dynamodb: { NewImage: undefined, StreamViewType: 'KEYS_ONLY', SizeBytes: 12 },
      }),
    );
    const [modified, removed] = toDynamoDbEvent([modify, ttlRemove], SOURCE).Records;
    expect(Object.keys(modified?.dynamodb ?? {})).toEqual([
      'ApproximateCreationDateTime',
      'Keys',
      'NewImage',
      'OldImage',
      'SequenceNumber',
      'SizeBytes',
      'StreamViewType',
    ]);
    expect(modified?.dynamodb?.OldImage).toEqual({
      pk: { S: 'flow-1' },
      sk: { N: '1' },
      packets: { N: '9' },
    });
    expect(modified).not.toHaveProperty('userIdentity');
    expect(removed).toEqual({
      eventID: 'c4ca4238a0b923820dcc509a6f758402',
      eventName: 'REMOVE',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'eu-west-1',
      dynamodb: {
        ApproximateCreationDateTime: CREATED.getTime() / 1000 + 2,
        Keys: { sk: { N: '2' }, pk: { S: 'flow-0' } },
        SequenceNumber: '4421584500000000017450439093',
        SizeBytes: 12,
        StreamViewType: 'KEYS_ONLY',
      },
      eventSourceARN: STREAM_ARN,
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    });
  });

  it('refuses a record without the fields the event needs', () => {
    expect(() => toShardRecord(SHARD, { eventName: 'INSERT', dynamodb: {} })).toThrow(/incomplete/);
  });

  it('sizes each record as its JSON in the event, and orders by item whatever the key attribute order', () => {
    const records = [0, 1, 2].map((index) => toShardRecord(SHARD, apiRecord(index)));
    const event = JSON.stringify(toDynamoDbEvent(records, SOURCE));
    const sized = records.reduce((sum, record) => sum + dynamoDbEventRecordBytes(record, SOURCE), 0);
    expect(sized).toBe(Buffer.byteLength(event) - '{"Records":[]}'.length + 1); // one comma fewer than records
    const sameItem = toShardRecord(
      SHARD,
      apiRecord(3, { dynamodb: { Keys: { pk: { S: 'flow-0' }, sk: { N: '0' } } } }),
    );
    expect(itemKeyOf(sameItem)).toBe(itemKeyOf(records[0] as ShardRecord));
    expect(itemKeyOf(records[1] as ShardRecord)).not.toBe(itemKeyOf(records[0] as ShardRecord));
  });

  it('chooses the event by the source ARN, as Lambda does', () => {
    expect(eventSourceOfArn(STREAM_ARN)).toBe('aws:dynamodb');
    expect(eventSourceOfArn('arn:aws:kinesis:eu-west-1:1:stream/flows')).toBe('aws:kinesis');
    expect(() => eventSourceOfArn('arn:aws:dynamodb:eu-west-1:1:table/flows')).toThrow(/not a Kinesis/);
    expect(() => eventSourceOfArn('arn:aws:sqs:eu-west-1:1:queue')).toThrow(/not a Kinesis/);
    expect(eventFormatOf(STREAM_ARN).startingPositions).toEqual(['TRIM_HORIZON', 'LATEST']);
    const kinesisRecord: ShardRecord = {
      ...toShardRecord(SHARD, apiRecord(0)),
      payload: { eventSource: 'aws:kinesis', partitionKey: 'k', data: new Uint8Array() },
    };
    expect(() => toDynamoDbEvent([kinesisRecord], SOURCE)).toThrow(/from aws:kinesis, not aws:dynamodb/);
  });
});

describe('DynamoDB Streams has no AT_TIMESTAMP', () => {
  it('is refused by the reader before any request, and by the mapping when it is configured', async () => {
    // No endpoint is ever contacted: both refuse before sending anything.
    const client = new DynamoDBStreamsClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' });
    const reader = new DynamoDbStreamReader(client, STREAM_ARN);
    await expect(reader.iterator(SHARD, { type: 'AT_TIMESTAMP', timestampSeconds: 1 })).rejects.toThrow(
      /no AT_TIMESTAMP iterator/,
    );
    expect(
      () =>
        new StreamEventSourceMapping({
          reader,
          invoker: invoker(async () => null),
          settings: {
            ...DEFAULT_STREAM_MAPPING_SETTINGS,
            startingPosition: 'AT_TIMESTAMP',
            startingPositionTimestamp: 1,
          },
          invokeIdentityArn: 'role',
        }),
    ).toThrow(/AT_TIMESTAMP is not supported for aws:dynamodb/);
    client.destroy();
  });
});

describe('processBatch on DynamoDB stream records', () => {
  const records = [0, 1, 2, 3, 4].map((index) => toShardRecord(SHARD, apiRecord(index)));
  const seq = (index: number) => records[index]?.sequenceNumber as string;

  async function run(settings: Partial<StreamMappingSettings>, handler: LambdaHandler) {
    const destination = new MemoryFailureDestination();
    const metrics = new EsmMetrics();
    const settled: string[] = [];
    await processBatch(
      records,
      {
        settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, ...settings },
        invoker: invoker(handler),
        source: SOURCE,
        destination,
        clock: new ManualClock(CREATED.getTime() + 60_000),
        metrics,
        retryDelayMs: defaultRetryDelayMs,
        log: () => {},
      },
      (done) => settled.push(...done.map((record) => record.sequenceNumber)),
    );
    return { failures: destination.records, metrics: metrics.snapshot(), settled };
  }

  it('resumes at the lowest itemIdentifier (a SequenceNumber) of a partial batch response', async () => {
    const calls: string[][] = [];
    const { settled, metrics } = await run({ reportBatchItemFailures: true }, async (event) => {
      const sequenceNumbers = (event as DynamoDBStreamEvent).Records.map(
        (record) => record.dynamodb?.SequenceNumber as string,
      );
      calls.push(sequenceNumbers);
      return calls.length === 1
        ? { batchItemFailures: [{ itemIdentifier: seq(3) }, { itemIdentifier: seq(2) }] }
        : {};
    });
    expect(calls).toEqual([
      [seq(0), seq(1), seq(2), seq(3), seq(4)],
      [seq(2), seq(3), seq(4)],
    ]);
    expect(settled).toEqual([seq(0), seq(1), seq(2), seq(3), seq(4)]);
    expect(metrics).toMatchObject({ partialFailures: 1, retries: 1 });
  });

  it('names the discarded range under DDBStreamBatchInfo in the on-failure record', async () => {
    const { failures } = await run({ maximumRetryAttempts: 1 }, async () => {
      throw new Error('exporter down');
    });
    expect(failures).toHaveLength(1);
    expect(Object.keys(failures[0] ?? {})).toEqual([
      'requestContext',
      'responseContext',
      'version',
      'timestamp',
      'DDBStreamBatchInfo',
    ]);
    expect(failures[0]?.DDBStreamBatchInfo).toEqual({
      shardId: SHARD,
      startSequenceNumber: seq(0),
      endSequenceNumber: seq(4),
      approximateArrivalOfFirstRecord: CREATED.toISOString(),
      approximateArrivalOfLastRecord: new Date(CREATED.getTime() + 4000).toISOString(),
      batchSize: 5,
      streamArn: STREAM_ARN,
    });
  });
});

function invoker(handler: LambdaHandler): InProcessFunctionInvoker {
  return new InProcessFunctionInvoker({
    handler,
    functionName: 'exporter',
    region: 'eu-west-1',
    accountId: '123456789012',
  });
}
