// The event source mapping emulator against real kinesis-mock, invoking an esbuild bundle of a test handler.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundleFunction, loadBundledHandler } from '../../local/bundle.ts';
import { FileCheckpointStore, MemoryCheckpointStore } from '../../local/esm/checkpoint-store.ts';
import { type Clock, ManualClock, systemClock } from '../../local/esm/clock.ts';
import { StreamEventSourceMapping } from '../../local/esm/emulator.ts';
import { JsonLinesFailureDestination, type OnFailureRecord } from '../../local/esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../../local/esm/invoker.ts';
import { DEFAULT_STREAM_MAPPING_SETTINGS, type StreamMappingSettings } from '../../local/esm/settings.ts';
import { KinesisStreamReader, type StreamReader } from '../../local/esm/stream-reader.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const ROLE_ARN = 'arn:aws:iam::000000000000:role/test-handler-role';
/** Hash keys that land on the first and second half of a two-shard stream's key space. */
const SHARD_HASH_KEYS = ['1', (2n ** 127n + 1n).toString()];

interface Invocation {
  requestId: string;
  functionName: string;
  remainingMs: number;
  records: { shardId: string; sequenceNumber: string; partitionKey: string; data: string }[];
}
function invocations(): Invocation[] {
  const shared = globalThis as { __esmInvocations?: Invocation[] };
  shared.__esmInvocations ??= [];
  return shared.__esmInvocations;
}

let workDir: string;
let bundledHandler: string;
let streamCount = 0;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'flowline-esm-'));
  bundledHandler = (
    await bundleFunction('esm-test', 'test/unit/esm/fixtures/failing-handler.ts', { outRoot: workDir })
  ).outFile;
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});
beforeEach(() => {
  invocations().length = 0;
});

async function createStream(kinesis: KinesisClient, shards: number): Promise<string> {
  const name = `esm-test-${process.pid}-${++streamCount}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') {
      return summary.StreamDescriptionSummary.StreamARN as string;
    }
    if (Date.now() > deadline) throw new Error(`stream ${name} did not become ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Put {
  data: string;
  partitionKey: string;
  shard?: number;
}
interface PutResult extends Put {
  shardId: string;
  sequenceNumber: string;
}

async function put(kinesis: KinesisClient, streamArn: string, records: Put[]): Promise<PutResult[]> {
  const response = await kinesis.send(
    new PutRecordsCommand({
      StreamARN: streamArn,
      Records: records.map((record) => ({
        Data: new TextEncoder().encode(record.data),
        PartitionKey: record.partitionKey,
        ...(record.shard !== undefined ? { ExplicitHashKey: SHARD_HASH_KEYS[record.shard] } : {}),
      })),
    }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
  return (response.Records ?? []).map((entry, index) => ({
    ...(records[index] as Put),
    shardId: entry.ShardId as string,
    sequenceNumber: entry.SequenceNumber as string,
  }));
}

async function mapping(
  streamArn: string,
  settings: Partial<StreamMappingSettings>,
  extra: {
    clock?: Clock;
    handler?: LambdaHandler;
    checkpoints?: FileCheckpointStore;
    pollIntervalMs?: number;
  } = {},
) {
  const destination = new JsonLinesFailureDestination({
    directory: join(workDir, `failures-${streamCount}`),
  });
  const handler = extra.handler ?? (await loadBundledHandler(bundledHandler));
  const esm = new StreamEventSourceMapping({
    reader: new KinesisStreamReader(engines().kinesis, streamArn),
    invoker: new InProcessFunctionInvoker({
      handler,
      functionName: 'esm-test',
      region: 'us-east-1',
      accountId: '000000000000',
      timeoutSeconds: 30,
    }),
    settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, ...settings },
    invokeIdentityArn: ROLE_ARN,
    destination,
    checkpoints: extra.checkpoints ?? new MemoryCheckpointStore(),
    clock: extra.clock ?? new ManualClock(),
    retryDelayMs: () => 100,
    ...(extra.pollIntervalMs !== undefined ? { pollIntervalMs: extra.pollIntervalMs } : {}),
  });
  return { esm, destination };
}

async function failureRecords(path: string): Promise<OnFailureRecord[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as OnFailureRecord);
}

const delivered = () => invocations().flatMap((invocation) => invocation.records);

describe('Kinesis event source mapping emulator on kinesis-mock', () => {
  it('delivers every record once, one shard per batch, in sequence order per shard, within the batch size', async () => {
    const streamArn = await createStream(engines().kinesis, 2);
    const puts = await put(
      engines().kinesis,
      streamArn,
      Array.from({ length: 45 }, (_, index) => ({
        data: `r${index}`,
        partitionKey: `k${index % 7}`,
        shard: index % 2,
      })),
    );
    const { esm } = await mapping(streamArn, { batchSize: 10 });
    await esm.drain();

    expect(esm.shardIds.sort()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    for (const invocation of invocations()) {
      expect(invocation.records.length).toBeLessThanOrEqual(10);
      expect(new Set(invocation.records.map((record) => record.shardId)).size).toBe(1);
      expect(invocation.functionName).toBe('esm-test');
      expect(invocation.remainingMs).toBeGreaterThan(25_000);
    }
    for (const shardId of esm.shardIds) {
      const expected = puts.filter((record) => record.shardId === shardId);
      const got = delivered().filter((record) => record.shardId === shardId);
      expect(got.map((record) => record.sequenceNumber)).toEqual(
        expected.map((record) => record.sequenceNumber),
      );
      expect(got.map((record) => record.data)).toEqual(expected.map((record) => record.data));
      expect(esm.checkpoints()[shardId]).toBe(expected[expected.length - 1]?.sequenceNumber);
    }
    expect(esm.snapshot()).toMatchObject({
      recordsRead: 45,
      recordsCompleted: 45,
      functionErrors: 0,
      retries: 0,
    });
  });

  it('builds the AWS event from GetRecords: ARN, eventID, base64 data, arrival time in seconds', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const before = Date.now();
    const [sent] = await put(engines().kinesis, streamArn, [{ data: 'shape', partitionKey: 'pk-1' }]);
    const after = Date.now();
    let event: KinesisStreamEvent | undefined;
    const { esm } = await mapping(
      streamArn,
      {},
      {
        handler: async (received) => {
          event = received as KinesisStreamEvent;
        },
      },
    );
    await esm.drain();
    const record = event?.Records[0];
    expect(event?.Records).toHaveLength(1);
    expect(record).toMatchObject({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'pk-1',
        sequenceNumber: sent?.sequenceNumber,
        data: Buffer.from('shape').toString('base64'),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:${sent?.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: ROLE_ARN,
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
    });
    const arrivalMs = (record?.kinesis.approximateArrivalTimestamp ?? 0) * 1000;
    expect(arrivalMs).toBeGreaterThanOrEqual(before - 1000);
    expect(arrivalMs).toBeLessThanOrEqual(after + 1000);
  });

  it('checkpoints at the lowest reported failure and redelivers from there, in order', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const data = ['a', 'b', 'fail-once-c', 'd', 'fail-once-e', 'f'];
    const puts = await put(
      engines().kinesis,
      streamArn,
      data.map((text) => ({ data: text, partitionKey: 'same' })),
    );
    const { esm, destination } = await mapping(streamArn, { batchSize: 10, reportBatchItemFailures: true });
    await esm.drain();
    expect(invocations().map((invocation) => invocation.records.map((record) => record.data))).toEqual([
      data,
      ['fail-once-c', 'd', 'fail-once-e', 'f'],
    ]);
    expect(esm.checkpoints()['shardId-000000000000']).toBe(puts[5]?.sequenceNumber);
    expect(await failureRecords(destination.path)).toEqual([]);
    expect(esm.snapshot()).toMatchObject({ partialFailures: 1, retries: 1, recordsCompleted: 6 });
  });

  it('bisects around a poison record, exhausts its retries and writes the AWS on-failure record', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const data = ['r0', 'r1', 'r2', 'poison-3', 'r4', 'r5'];
    const puts = await put(
      engines().kinesis,
      streamArn,
      data.map((text) => ({ data: text, partitionKey: text })),
    );
    const { esm, destination } = await mapping(streamArn, {
      batchSize: 10,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 2,
      reportBatchItemFailures: true,
    });
    await esm.drain();

    expect(invocations().map((invocation) => invocation.records.map((record) => record.data))).toEqual([
      data,
      ['r0', 'r1', 'r2'],
      ['poison-3', 'r4', 'r5'],
      ['poison-3', 'r4'],
      ['poison-3'],
      ['poison-3'],
      ['poison-3'],
      ['r4'],
      ['r5'],
    ]);
    const failures = await failureRecords(destination.path);
    expect(failures).toHaveLength(1);
    const poison = puts[3] as PutResult;
    expect(failures[0]).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:esm-test',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 6,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: poison.sequenceNumber,
        endSequenceNumber: poison.sequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/Z$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: 1,
        streamArn,
      },
    });
    expect(esm.checkpoints()['shardId-000000000000']).toBe(puts[5]?.sequenceNumber);
    expect(esm.snapshot()).toMatchObject({
      recordsDiscardedRetriesExhausted: 1,
      failureRecordsSent: 1,
      recordsCompleted: 6,
    });
  });

  it('sends records older than MaximumRecordAgeInSeconds to the destination without invoking', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const puts = await put(engines().kinesis, streamArn, [
      { data: 'old-1', partitionKey: 'a' },
      { data: 'old-2', partitionKey: 'b' },
    ]);
    const clock = new ManualClock(Date.now() + 2 * 3600_000); // two hours later
    const { esm, destination } = await mapping(streamArn, { maximumRecordAgeSeconds: 3600 }, { clock });
    await esm.drain();
    expect(invocations()).toEqual([]);
    const failures = await failureRecords(destination.path);
    expect(failures.map((failure) => failure.requestContext.condition)).toEqual(['RecordAgeExceeded']);
    expect(failures[0]).not.toHaveProperty('responseContext');
    expect(failures[0]?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: puts[0]?.sequenceNumber,
      endSequenceNumber: puts[1]?.sequenceNumber,
      batchSize: 2,
    });
    expect(esm.snapshot().maxIteratorAgeMs).toBeGreaterThanOrEqual(2 * 3600_000 - 60_000);
  });

  it('waits for the batching window on the injected clock unless the batch is full', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    await put(
      engines().kinesis,
      streamArn,
      ['w1', 'w2', 'w3'].map((text) => ({ data: text, partitionKey: text })),
    );
    const clock = new ManualClock();
    const { esm } = await mapping(streamArn, { batchSize: 5, maximumBatchingWindowSeconds: 5 }, { clock });
    await esm.step(); // reads the three records, window starts
    await esm.step();
    expect(invocations()).toHaveLength(0);
    clock.advance(4_999);
    await esm.step();
    expect(invocations()).toHaveLength(0);
    clock.advance(1);
    await esm.step();
    expect(invocations().map((invocation) => invocation.records.length)).toEqual([3]);

    // A full batch does not wait for the window.
    await put(
      engines().kinesis,
      streamArn,
      Array.from({ length: 7 }, (_, index) => ({ data: `f${index}`, partitionKey: `p${index}` })),
    );
    await esm.step();
    expect(invocations().map((invocation) => invocation.records.length)).toEqual([3, 5]);
    await esm.step();
    expect(invocations()).toHaveLength(2); // the 2 left wait for their window
    clock.advance(5_000);
    await esm.step();
    expect(invocations().map((invocation) => invocation.records.length)).toEqual([3, 5, 2]);
  });

  it('runs ParallelizationFactor batches of one shard concurrently, keeping each partition key in order', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    const puts = await put(
      engines().kinesis,
      streamArn,
      Array.from({ length: 60 }, (_, index) => ({
        data: `d${index}`,
        partitionKey: keys[index % keys.length] as string,
      })),
    );
    let running = 0;
    let maxRunning = 0;
    const order: { partitionKey: string; sequenceNumber: string }[] = [];
    const handler: LambdaHandler = async (event) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 20)); // overlap with the other lanes
      for (const record of (event as KinesisStreamEvent).Records) order.push(record.kinesis);
      running -= 1;
      return null;
    };
    const { esm } = await mapping(streamArn, { batchSize: 4, parallelizationFactor: 3 }, { handler });
    await esm.drain();
    expect(maxRunning).toBeGreaterThan(1);
    expect(order).toHaveLength(60);
    for (const key of keys) {
      expect(
        order.filter((record) => record.partitionKey === key).map((record) => record.sequenceNumber),
      ).toEqual(puts.filter((record) => record.partitionKey === key).map((record) => record.sequenceNumber));
    }
    expect(esm.checkpoints()['shardId-000000000000']).toBe(puts[59]?.sequenceNumber);
  });

  it('resumes after a restart from the checkpoint file instead of redelivering', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    const checkpointPath = join(workDir, `checkpoints-${streamCount}.json`);
    await put(engines().kinesis, streamArn, [
      { data: 'before-1', partitionKey: 'a' },
      { data: 'before-2', partitionKey: 'a' },
    ]);
    const first = await mapping(streamArn, {}, { checkpoints: new FileCheckpointStore(checkpointPath) });
    await first.esm.drain();
    await put(engines().kinesis, streamArn, [{ data: 'after-1', partitionKey: 'a' }]);
    const second = await mapping(streamArn, {}, { checkpoints: new FileCheckpointStore(checkpointPath) });
    await second.esm.drain();
    expect(delivered().map((record) => record.data)).toEqual(['before-1', 'before-2', 'after-1']);
  });

  it('polls in the background until stopped', async () => {
    const streamArn = await createStream(engines().kinesis, 2);
    const { esm } = await mapping(streamArn, { batchSize: 50 }, { clock: systemClock, pollIntervalMs: 20 });
    esm.start();
    try {
      await put(
        engines().kinesis,
        streamArn,
        Array.from({ length: 20 }, (_, index) => ({
          data: `bg${index}`,
          partitionKey: `k${index}`,
          shard: index % 2,
        })),
      );
      const deadline = Date.now() + 15_000;
      while (delivered().length < 20 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await esm.stop();
    }
    expect(
      delivered()
        .map((record) => record.data)
        .sort(),
    ).toEqual(Array.from({ length: 20 }, (_, index) => `bg${index}`).sort());
    expect(esm.snapshot().recordsCompleted).toBe(20);
  });
});

describe('Kinesis event source mapping emulator, resharding and faults', () => {
  it('processes a split parent shard to its end before its children', async () => {
    const { SplitShardCommand } = await import('@aws-sdk/client-kinesis');
    const streamArn = await createStream(engines().kinesis, 1);
    await put(
      engines().kinesis,
      streamArn,
      ['p0', 'p1', 'p2'].map((text) => ({ data: text, partitionKey: 'k' })),
    );
    await engines().kinesis.send(
      new SplitShardCommand({
        StreamARN: streamArn,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(engines().kinesis, streamArn);
    await put(
      engines().kinesis,
      streamArn,
      ['c0', 'c1', 'c2', 'c3'].map((text, index) => ({ data: text, partitionKey: 'k', shard: index % 2 })),
    );
    const { esm } = await mapping(streamArn, { batchSize: 10 }, { clock: new ManualClock() });
    await esm.drain();
    const order = delivered().map((record) => record.data);
    expect(order.slice(0, 3)).toEqual(['p0', 'p1', 'p2']);
    expect(order.slice(3).sort()).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(esm.shardIds).toHaveLength(3);
  });

  it('retries GetRecords after a throttling error and loses nothing', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    await put(
      engines().kinesis,
      streamArn,
      ['t0', 't1'].map((text) => ({ data: text, partitionKey: 'k' })),
    );
    const real = new KinesisStreamReader(engines().kinesis, streamArn);
    let throttled = 0;
    const throttlingReader: StreamReader = {
      streamArn,
      describe: () => real.describe(),
      iterator: (shardId, position) => real.iterator(shardId, position),
      read: async (shardId, iterator, limit) => {
        if (throttled < 2) {
          throttled += 1;
          throw Object.assign(new Error('Rate exceeded for shard'), {
            name: 'ProvisionedThroughputExceededException',
          });
        }
        return real.read(shardId, iterator, limit);
      },
    };
    const esm = new StreamEventSourceMapping({
      reader: throttlingReader,
      invoker: new InProcessFunctionInvoker({
        handler: await loadBundledHandler(bundledHandler),
        functionName: 'esm-test',
        region: 'us-east-1',
        accountId: '000000000000',
      }),
      settings: DEFAULT_STREAM_MAPPING_SETTINGS,
      invokeIdentityArn: ROLE_ARN,
      clock: new ManualClock(),
    });
    // drain() stops at the first round without progress, so step through the throttled rounds first.
    for (let round = 0; round < 3 && delivered().length < 2; round += 1) await esm.step();
    await esm.drain();
    expect(delivered().map((record) => record.data)).toEqual(['t0', 't1']);
    expect(esm.snapshot()).toMatchObject({ pollErrors: 2, recordsCompleted: 2 });
  });

  it('keeps a batch whose failure record could not be written, and finishes it on a later poll', async () => {
    const streamArn = await createStream(engines().kinesis, 1);
    await put(engines().kinesis, streamArn, [{ data: 'poison-x', partitionKey: 'k' }]);
    const written: OnFailureRecord[] = [];
    let destinationDown = true;
    const esm = new StreamEventSourceMapping({
      reader: new KinesisStreamReader(engines().kinesis, streamArn),
      invoker: new InProcessFunctionInvoker({
        handler: await loadBundledHandler(bundledHandler),
        functionName: 'esm-test',
        region: 'us-east-1',
        accountId: '000000000000',
      }),
      settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, maximumRetryAttempts: 0 },
      invokeIdentityArn: ROLE_ARN,
      clock: new ManualClock(),
      destination: {
        send: async (record) => {
          if (destinationDown) throw new Error('queue unavailable');
          written.push(record);
        },
      },
    });
    await esm.step();
    expect(written).toEqual([]);
    expect(esm.checkpoints()['shardId-000000000000']).toBeUndefined();
    expect(esm.snapshot().processingErrors).toBe(1);
    destinationDown = false;
    await esm.drain();
    expect(written.map((record) => record.KinesisBatchInfo?.batchSize)).toEqual([1]);
    expect(esm.checkpoints()['shardId-000000000000']).toBeDefined();
  });
});

async function waitActive(kinesis: KinesisClient, streamArn: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamARN: streamArn }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${streamArn} did not become ACTIVE`);
}
