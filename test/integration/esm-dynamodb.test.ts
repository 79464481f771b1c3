// The event source mapping emulator on a DynamoDB stream of real DynamoDB Local: table writes become
// DynamoDB stream events for an in-process function, with Lambda's batching, retries, partial batch responses,
// bisect, event filtering and on-failure records, and the mapping a CDK DynamoEventSource synthesizes wired
// from its template.
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteItemCommand,
  DescribeTableCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbStreamsClient } from '../../adapters/aws-clients.ts';
import { MemoryCheckpointStore } from '../../local/esm/checkpoint-store.ts';
import { type Clock, ManualClock, systemClock } from '../../local/esm/clock.ts';
import { DynamoDbStreamReader } from '../../local/esm/dynamodb-stream-reader.ts';
import { StreamEventSourceMapping } from '../../local/esm/emulator.ts';
import { MemoryFailureDestination } from '../../local/esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../../local/esm/invoker.ts';
import {
  DEFAULT_STREAM_MAPPING_SETTINGS,
  readDynamoDbStreamMappings,
  type StreamMappingSettings,
} from '../../local/esm/settings.ts';
import { templateEventSourceMapping } from '../../local/esm/template-mapping.ts';
import { createTableInputOf } from '../../local/runner/provision.ts';
import { readTableDefinition } from '../../local/runner/template.ts';
import { useEngines } from '../support/engines.ts';
import { dynamoDbStreamTemplate, EXPORTER_STACK } from '../unit/esm/dynamodb-stream-template.ts';

const engines = useEngines({ kinesis: false, clickhouse: false });
const ROLE_ARN = 'arn:aws:iam::000000000000:role/exporter-test-role';

let streams: DynamoDBStreamsClient;
let tableCount = 0;

beforeAll(() => {
  // useEngines has pointed AWS_ENDPOINT_URL_DYNAMODB_STREAMS at DynamoDB Local, which serves the Streams API.
  streams = createDynamoDbStreamsClient();
});
afterAll(() => {
  streams?.destroy();
});

/** A table keyed pk (S) + sk (N) with a stream of `viewType`; returns its name and stream ARN. */
async function streamTable(viewType: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES' = 'NEW_IMAGE') {
  const name = `esm-ddb-${process.pid}-${++tableCount}`;
  const streamArn = await createTable({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: viewType },
  });
  return { name, streamArn };
}

/** Creates the table, waits until it is ACTIVE, and returns its stream's ARN. */
async function createTable(input: CreateTableCommandInput): Promise<string> {
  await engines().dynamodb.send(new CreateTableCommand(input));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { Table: table } = await engines().dynamodb.send(
      new DescribeTableCommand({ TableName: input.TableName }),
    );
    if (table?.TableStatus === 'ACTIVE' && table.LatestStreamArn) return table.LatestStreamArn;
    if (Date.now() > deadline) throw new Error(`table ${input.TableName} did not become ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A function that keeps every event it is given and answers with `respond` (call numbers from 1). */
function recordingFunction(respond: (event: DynamoDBStreamEvent, call: number) => unknown = () => null) {
  const events: DynamoDBStreamEvent[] = [];
  const handler: LambdaHandler = async (event) => {
    events.push(event as DynamoDBStreamEvent);
    return respond(event as DynamoDBStreamEvent, events.length);
  };
  const records = (): DynamoDBRecord[] => events.flatMap((event) => event.Records);
  return { handler, events, records };
}

function mapping(
  streamArn: string,
  handler: LambdaHandler,
  settings: Partial<StreamMappingSettings> = {},
  extra: { clock?: Clock; destination?: MemoryFailureDestination; pollIntervalMs?: number } = {},
) {
  return new StreamEventSourceMapping({
    reader: new DynamoDbStreamReader(streams, streamArn),
    invoker: new InProcessFunctionInvoker({
      handler,
      functionName: 'exporter-test',
      region: 'us-east-1',
      accountId: '000000000000',
      timeoutSeconds: 30,
    }),
    settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, ...settings },
    invokeIdentityArn: ROLE_ARN,
    checkpoints: new MemoryCheckpointStore(),
    clock: extra.clock ?? new ManualClock(),
    retryDelayMs: () => 100,
    ...(extra.destination ? { destination: extra.destination } : {}),
    ...(extra.pollIntervalMs !== undefined ? { pollIntervalMs: extra.pollIntervalMs } : {}),
  });
}

async function put(table: string, pk: string, sk: number, n: number, more: Record<string, unknown> = {}) {
  await engines().dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: { pk: { S: pk }, sk: { N: String(sk) }, n: { N: String(n) }, ...more },
    }),
  );
}

/** Adds one to n of an existing item (a conditional update: it must exist). */
async function increment(table: string, pk: string, sk: number) {
  await engines().dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: pk }, sk: { N: String(sk) } },
      UpdateExpression: 'SET n = n + :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':one': { N: '1' } },
    }),
  );
}

async function remove(table: string, pk: string, sk: number) {
  await engines().dynamodb.send(
    new DeleteItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { N: String(sk) } } }),
  );
}

const sequenceOf = (record: DynamoDBRecord) => record.dynamodb?.SequenceNumber as string;
const changeOf = (record: DynamoDBRecord) =>
  `${record.eventName} ${record.dynamodb?.Keys?.pk?.S}/${record.dynamodb?.Keys?.sk?.N} n=${record.dynamodb?.NewImage?.n?.N ?? '-'}`;

describe('DynamoDB stream event source mapping on DynamoDB Local', () => {
  it('delivers every change once, in write order, as the DynamoDB stream event Lambda sends', async () => {
    const { name, streamArn } = await streamTable();
    const before = Date.now();
    await put(name, 'a', 1, 1);
    await put(name, 'b', 1, 1);
    await increment(name, 'a', 1);
    // A conditional update whose condition fails changes nothing: no stream record.
    await expect(
      engines().dynamodb.send(
        new UpdateItemCommand({
          TableName: name,
          Key: { pk: { S: 'b' }, sk: { N: '1' } },
          UpdateExpression: 'SET n = :five',
          ConditionExpression: 'n = :five',
          ExpressionAttributeValues: { ':five': { N: '5' } },
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const bytes = new Uint8Array([0, 159, 146, 150, 255]);
    await put(name, 'c', 2, 7, {
      payload: { B: bytes },
      exporter: { M: { address: { S: '10.0.0.1' }, ports: { L: [{ N: '4739' }, { NULL: true }] } } },
      labels: { SS: ['app', 'tier'] },
    });
    await remove(name, 'b', 1);
    await increment(name, 'a', 1);
    await remove(name, 'a', 1);
    const after = Date.now();

    const fn = recordingFunction();
    const esm = mapping(streamArn, fn.handler, { batchSize: 3 });
    await esm.drain();

    expect(fn.records().map(changeOf)).toEqual([
      'INSERT a/1 n=1',
      'INSERT b/1 n=1',
      'MODIFY a/1 n=2',
      'INSERT c/2 n=7',
      'REMOVE b/1 n=-',
      'MODIFY a/1 n=3',
      'REMOVE a/1 n=-',
    ]);
    expect(fn.events.map((event) => event.Records.length)).toEqual([3, 3, 1]);
    const sequences = fn.records().map((record) => BigInt(sequenceOf(record)));
    expect(
      sequences.every((sequence, index) => index === 0 || sequence > (sequences[index - 1] as bigint)),
    ).toBe(true);
    for (const record of fn.records()) {
      expect(record).toMatchObject({
        eventID: expect.any(String),
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: streamArn.split(':')[3], // 'ddblocal': DynamoDB Local's ARNs name no real region
        dynamodb: { StreamViewType: 'NEW_IMAGE', SizeBytes: expect.any(Number) },
        eventSourceARN: streamArn,
      });
      expect(Object.keys(record)).toEqual([
        'eventID',
        'eventName',
        'eventVersion',
        'eventSource',
        'awsRegion',
        'dynamodb',
        'eventSourceARN',
      ]);
      // Epoch seconds; DynamoDB Local truncates them to the minute.
      const createdMs = (record.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000;
      expect(createdMs).toBeGreaterThanOrEqual(before - 60_000);
      expect(createdMs).toBeLessThanOrEqual(after);
    }
    const [, , , inserted, removed] = fn.records();
    expect(inserted?.dynamodb?.Keys).toEqual({ pk: { S: 'c' }, sk: { N: '2' } });
    expect(inserted?.dynamodb?.NewImage).toEqual({
      pk: { S: 'c' },
      sk: { N: '2' },
      n: { N: '7' },
      payload: { B: Buffer.from(bytes).toString('base64') },
      exporter: { M: { address: { S: '10.0.0.1' }, ports: { L: [{ N: '4739' }, { NULL: true }] } } },
      labels: { SS: ['app', 'tier'] },
    });
    expect(removed?.dynamodb).not.toHaveProperty('NewImage');
    expect(removed?.dynamodb).not.toHaveProperty('OldImage');

    const [shardId] = esm.shardIds;
    expect(esm.checkpoints()).toEqual({ [shardId as string]: sequenceOf(fn.records()[6] as DynamoDBRecord) });
    expect(esm.snapshot()).toMatchObject({
      recordsRead: 7,
      recordsCompleted: 7,
      functionErrors: 0,
      retries: 0,
    });
    await esm.drain();
    expect(fn.records()).toHaveLength(7); // nothing twice
  });

  it('keeps each item in order when ParallelizationFactor runs batches of the shard concurrently', async () => {
    const { name, streamArn } = await streamTable();
    const items = ['flow-a', 'flow-b', 'flow-c', 'flow-d', 'flow-e'];
    for (const pk of items) await put(name, pk, 0, 1);
    for (let round = 0; round < 5; round += 1) for (const pk of items) await increment(name, pk, 0);
    let running = 0;
    let maxRunning = 0;
    const fn = recordingFunction();
    const handler: LambdaHandler = async (event, context, callback) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setImmediate(resolve)); // let the other lanes start
      running -= 1;
      return fn.handler(event, context, callback);
    };
    const esm = mapping(streamArn, handler, { batchSize: 2, parallelizationFactor: 3 });
    await esm.drain();
    expect(maxRunning).toBeGreaterThan(1);
    expect(fn.records()).toHaveLength(30);
    for (const pk of items) {
      const counts = fn
        .records()
        .filter((record) => record.dynamodb?.Keys?.pk?.S === pk)
        .map((record) => record.dynamodb?.NewImage?.n?.N);
      expect(counts).toEqual(['1', '2', '3', '4', '5', '6']);
    }
  });

  it('retries the same batch after a function error, then moves the checkpoint on', async () => {
    const { name, streamArn } = await streamTable();
    for (const sk of [1, 2, 3, 4]) await put(name, 'retry', sk, sk);
    const fn = recordingFunction((_event, call) => {
      if (call === 1) throw new Error('ClickHouse unavailable');
      return null;
    });
    const clock = new ManualClock();
    const esm = mapping(streamArn, fn.handler, { batchSize: 10 }, { clock });
    await esm.drain();

    expect(fn.events).toHaveLength(2);
    const [failed, retried] = fn.events;
    expect(retried).toEqual(failed); // same records, same first SequenceNumber, same eventIDs
    expect(retried?.Records.map((record) => record.dynamodb?.NewImage?.sk?.N)).toEqual(['1', '2', '3', '4']);
    expect(clock.sleeps).toEqual([100]);
    const [shardId] = esm.shardIds;
    expect(esm.checkpoints()[shardId as string]).toBe(sequenceOf(retried?.Records[3] as DynamoDBRecord));
    expect(esm.snapshot()).toMatchObject({ functionErrors: 1, retries: 1, recordsCompleted: 4 });
  });

  it('resumes at the lowest failed SequenceNumber of a ReportBatchItemFailures response', async () => {
    const { name, streamArn } = await streamTable();
    for (const sk of [1, 2, 3, 4, 5]) await put(name, 'partial', sk, sk);
    const fn = recordingFunction((event, call) => ({
      // The first time, the 3rd and 5th records fail.
      batchItemFailures:
        call === 1
          ? [event.Records[4], event.Records[2]].map((record) => ({
              itemIdentifier: sequenceOf(record as DynamoDBRecord),
            }))
          : [],
    }));
    const esm = mapping(streamArn, fn.handler, { batchSize: 10, reportBatchItemFailures: true });
    await esm.drain();

    const delivered = fn.events.map((event) => event.Records.map((record) => record.dynamodb?.Keys?.sk?.N));
    expect(delivered).toEqual([
      ['1', '2', '3', '4', '5'],
      ['3', '4', '5'],
    ]);
    expect(sequenceOf(fn.events[1]?.Records[0] as DynamoDBRecord)).toBe(
      sequenceOf(fn.events[0]?.Records[2] as DynamoDBRecord),
    );
    const [shardId] = esm.shardIds;
    expect(esm.checkpoints()[shardId as string]).toBe(sequenceOf(fn.events[0]?.Records[4] as DynamoDBRecord));
    expect(esm.snapshot()).toMatchObject({ partialFailures: 1, retries: 1, recordsCompleted: 5 });
  });

  it('bisects around a poison change and sends the DDBStreamBatchInfo on-failure record', async () => {
    const { name, streamArn } = await streamTable();
    for (const pk of ['ok-1', 'ok-2', 'poison', 'ok-3']) await put(name, pk, 1, 1);
    const fn = recordingFunction((event) => {
      if (event.Records.some((record) => record.dynamodb?.Keys?.pk?.S === 'poison'))
        throw new Error('poison');
      return null;
    });
    const destination = new MemoryFailureDestination();
    const esm = mapping(
      streamArn,
      fn.handler,
      { batchSize: 10, bisectBatchOnFunctionError: true, maximumRetryAttempts: 1 },
      { destination },
    );
    await esm.drain();

    const keys = (event: DynamoDBStreamEvent) => event.Records.map((record) => record.dynamodb?.Keys?.pk?.S);
    expect(fn.events.map(keys)).toEqual([
      ['ok-1', 'ok-2', 'poison', 'ok-3'],
      ['ok-1', 'ok-2'],
      ['poison', 'ok-3'],
      ['poison'],
      ['poison'],
      ['ok-3'],
    ]);
    const poison = fn.events[3]?.Records[0] as DynamoDBRecord;
    const [shardId] = esm.shardIds;
    expect(destination.records).toHaveLength(1);
    expect(destination.records[0]).not.toHaveProperty('KinesisBatchInfo');
    expect(destination.records[0]?.DDBStreamBatchInfo).toEqual({
      shardId,
      startSequenceNumber: sequenceOf(poison),
      endSequenceNumber: sequenceOf(poison),
      approximateArrivalOfFirstRecord: new Date(
        (poison.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000,
      ).toISOString(),
      approximateArrivalOfLastRecord: new Date(
        (poison.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000,
      ).toISOString(),
      batchSize: 1,
      streamArn,
    });
    expect(esm.snapshot()).toMatchObject({ recordsDiscardedRetriesExhausted: 1, recordsCompleted: 4 });
  });

  it('reads the closed shard of a disabled stream to its end, then has nothing left to do', async () => {
    const { name, streamArn } = await streamTable();
    for (const sk of [1, 2, 3]) await put(name, 'closing', sk, sk);
    await engines().dynamodb.send(
      new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: false } }),
    );
    const reader = new DynamoDbStreamReader(streams, streamArn);
    const description = await reader.describe();
    expect(description).toMatchObject({ status: 'DISABLED', readable: true });
    const fn = recordingFunction();
    const esm = mapping(streamArn, fn.handler);
    await esm.drain();
    expect(fn.records().map((record) => record.dynamodb?.Keys?.sk?.N)).toEqual(['1', '2', '3']);
    expect(await esm.step()).toBe(false); // the shard is finished: no more reads
    expect(esm.snapshot().getRecordsCalls).toBe(1);
  });

  it('asks GetRecords for at most 1,000 records, whatever the batch size', async () => {
    const { name, streamArn } = await streamTable();
    for (const sk of [1, 2]) await put(name, 'limit', sk, sk);
    const fn = recordingFunction();
    // Read-ahead is twice the batch size: 1,200 records, more than DynamoDB Streams lets one call return.
    const esm = mapping(streamArn, fn.handler, { batchSize: 600 });
    await esm.drain();
    expect(fn.records()).toHaveLength(2);
    expect(esm.snapshot().pollErrors).toBe(0);
  });

  it('polls in the background until stopped, as Lambda does', async () => {
    const { name, streamArn } = await streamTable();
    const fn = recordingFunction();
    const esm = mapping(streamArn, fn.handler, { batchSize: 50 }, { clock: systemClock, pollIntervalMs: 20 });
    esm.start();
    try {
      for (const sk of [1, 2, 3, 4, 5]) await put(name, 'live', sk, sk);
      const deadline = Date.now() + 15_000;
      while (fn.records().length < 5 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await esm.stop();
    }
    expect(fn.records().map((record) => record.dynamodb?.Keys?.sk?.N)).toEqual(['1', '2', '3', '4', '5']);
    expect(esm.snapshot().recordsCompleted).toBe(5);
  });

  it('keeps the records its filter rejects from the function and checkpoints past them, batches or not', async () => {
    const { name, streamArn } = await streamTable();
    // The exporter's filter (lib/exporter.ts): a binary `rows` in the new image.
    const filterPatterns = ['{"dynamodb":{"NewImage":{"rows":{"B":[{"exists":true}]}}}}'];
    const fn = recordingFunction();
    const esm = mapping(streamArn, fn.handler, { batchSize: 10, filterPatterns });
    const rows = { rows: { B: new Uint8Array([1, 2, 3]) } };
    await put(name, 'flow', 1, 1, rows);
    await put(name, 'flow', 2, 1); // a write that closed nothing
    await put(name, 'outbox', 3, 1, { rows: { N: '12' } }); // rows, but not binary
    await put(name, 'flow', 4, 1, rows);
    await esm.drain();
    expect(fn.records().map((record) => record.dynamodb?.Keys?.sk?.N)).toEqual(['1', '4']);
    expect(esm.snapshot()).toMatchObject({ recordsRead: 4, recordsFilteredOut: 2, recordsCompleted: 4 });

    // Nothing but rejected records: no invocation, and the checkpoint still moves to the last of them.
    await put(name, 'flow', 5, 1);
    await remove(name, 'flow', 5);
    await esm.drain();
    expect(fn.events).toHaveLength(1);
    const reader = new DynamoDbStreamReader(streams, streamArn);
    const [shardId] = esm.shardIds;
    const all = await reader.read(
      shardId as string,
      await reader.iterator(shardId as string, { type: 'TRIM_HORIZON' }),
      100,
    );
    expect(all.records).toHaveLength(6);
    expect(esm.checkpoints()).toEqual({ [shardId as string]: all.records.at(-1)?.sequenceNumber });
    expect(esm.snapshot()).toMatchObject({ recordsFilteredOut: 4, recordsCompleted: 6, invocations: 1 });
  });

  it('is caught up since a mark once a later read finds nothing and every record read is finished', async () => {
    const { name, streamArn } = await streamTable();
    const clock = new ManualClock();
    const fn = recordingFunction();
    const esm = mapping(streamArn, fn.handler, { batchSize: 10, maximumBatchingWindowSeconds: 5 }, { clock });
    await esm.drain(); // shard discovered, nothing to read
    const empty = esm.readMark();
    expect(esm.caughtUpSince(empty)).toBe(false); // no read has started since the mark
    await esm.step();
    expect(esm.caughtUpSince(empty)).toBe(true);

    const mark = esm.readMark();
    await put(name, 'k', 1, 1);
    await esm.drain();
    // Read, but waiting in its batching window: not caught up.
    expect(esm.bufferedRecords()).toBe(1);
    expect(esm.caughtUpSince(mark)).toBe(false);
    clock.advance(5000);
    await esm.drain();
    expect(fn.records()).toHaveLength(1);
    expect(esm.caughtUpSince(mark)).toBe(true);
  });

  it('runs the mapping a CDK DynamoEventSource synthesizes, on the table local mode creates from the template', async () => {
    const template = dynamoDbStreamTemplate();
    const [definition] = readDynamoDbStreamMappings(template);
    if (!definition) throw new Error('the template has no DynamoDB stream mapping');
    const tableId = definition.table.logicalId;
    const table = readTableDefinition(EXPORTER_STACK, tableId, template.Resources?.[tableId] ?? { Type: '' });
    const streamArn = await createTable(createTableInputOf(table));

    const seen: { functionName: string; remainingMs: number }[] = [];
    const fn = recordingFunction();
    const handler: LambdaHandler = async (event, context, callback) => {
      seen.push({ functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis() });
      return fn.handler(event, context, callback);
    };
    const destination = new MemoryFailureDestination();
    const esm = templateEventSourceMapping({
      stackName: EXPORTER_STACK,
      definition,
      reader: new DynamoDbStreamReader(streams, streamArn),
      handler,
      destination,
      checkpoints: new MemoryCheckpointStore(),
      clock: new ManualClock(),
    });
    for (const sk of [1, 2, 3, 4, 5, 6]) await put(table.name, 'template', sk, sk);
    await esm.drain();

    expect(fn.events.map((event) => event.Records.length)).toEqual([4, 2]); // the template's BatchSize 4
    expect(fn.records().every((record) => record.dynamodb?.StreamViewType === 'NEW_IMAGE')).toBe(true);
    expect(seen[0]?.functionName).toBe(`${EXPORTER_STACK}-${definition.function.logicalId}`);
    expect(seen[0]?.remainingMs).toBeLessThanOrEqual(20_000); // the function's Timeout
    expect(seen[0]?.remainingMs).toBeGreaterThan(15_000);
  });
});
