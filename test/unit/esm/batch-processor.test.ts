import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { defaultRetryDelayMs, type EsmLogEvent, processBatch } from '../../../local/esm/batch-processor.ts';
import { ManualClock } from '../../../local/esm/clock.ts';
import { MemoryFailureDestination } from '../../../local/esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../../../local/esm/invoker.ts';
import { EsmMetrics } from '../../../local/esm/metrics.ts';
import { DEFAULT_STREAM_MAPPING_SETTINGS, type StreamMappingSettings } from '../../../local/esm/settings.ts';
import type { ShardRecord } from '../../../local/esm/shard-record.ts';
import { BASE_ARRIVAL_MS, shardRecords } from './records.ts';

const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/flows';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/correlator-role';

/** Runs processBatch with a handler that sees the events; returns what happened. */
async function run(
  records: ShardRecord[],
  settings: Partial<StreamMappingSettings>,
  decide: (event: KinesisStreamEvent, call: number) => unknown,
  clock = new ManualClock(BASE_ARRIVAL_MS + 60_000),
) {
  const calls: string[][] = [];
  const events: KinesisStreamEvent[] = [];
  const handler: LambdaHandler = async (event) => {
    const kinesisEvent = event as KinesisStreamEvent;
    events.push(kinesisEvent);
    calls.push(kinesisEvent.Records.map((record) => record.kinesis.sequenceNumber));
    return decide(kinesisEvent, calls.length);
  };
  const destination = new MemoryFailureDestination();
  const metrics = new EsmMetrics();
  const settled: string[] = [];
  const logs: EsmLogEvent[] = [];
  const completed = await processBatch(
    records,
    {
      settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, ...settings },
      invoker: new InProcessFunctionInvoker({
        handler,
        functionName: 'correlator',
        region: 'eu-west-1',
        accountId: '123456789012',
      }),
      source: { streamArn: STREAM_ARN, awsRegion: 'eu-west-1', invokeIdentityArn: ROLE_ARN },
      destination,
      clock,
      metrics,
      retryDelayMs: defaultRetryDelayMs,
      log: (event) => logs.push(event),
    },
    (done) => settled.push(...done.map((record) => record.sequenceNumber)),
  );
  return {
    completed,
    calls,
    events,
    failures: destination.records,
    metrics: metrics.snapshot(),
    settled,
    clock,
    logs,
  };
}

const records = shardRecords(8);
const seqOf = (index: number) => records[index]?.sequenceNumber as string;
const seqs = (...indexes: number[]) => indexes.map(seqOf);
const failing = (indexes: number[]) => (event: KinesisStreamEvent) => ({
  batchItemFailures: event.Records.filter((record) =>
    indexes.map(seqOf).includes(record.kinesis.sequenceNumber),
  ).map((record) => ({ itemIdentifier: record.kinesis.sequenceNumber })),
});
const poison = (index: number) => (event: KinesisStreamEvent) => {
  if (event.Records.some((record) => record.kinesis.sequenceNumber === seqOf(index)))
    throw new Error('poison');
  return null;
};

describe('processBatch', () => {
  it('delivers the exact AWS Kinesis event shape and finishes on success', async () => {
    const result = await run(records.slice(0, 2), {}, () => null);
    expect(result.calls).toEqual([seqs(0, 1)]);
    const first = result.events[0]?.Records[0];
    expect(first).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'key-0',
        sequenceNumber: seqOf(0),
        data: Buffer.from('record 0').toString('base64'),
        approximateArrivalTimestamp: BASE_ARRIVAL_MS / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000001:${seqOf(0)}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: ROLE_ARN,
      awsRegion: 'eu-west-1',
      eventSourceARN: STREAM_ARN,
    });
    expect(Object.keys(first ?? {})).toEqual([
      'kinesis',
      'eventSource',
      'eventVersion',
      'eventID',
      'eventName',
      'invokeIdentityArn',
      'awsRegion',
      'eventSourceARN',
    ]);
    expect(result.settled).toEqual(seqs(0, 1));
    expect(result.metrics).toMatchObject({
      invocations: 1,
      batchesSucceeded: 1,
      retries: 0,
      recordsCompleted: 2,
    });
  });

  it('checkpoints at the lowest failed item and retries from there', async () => {
    const result = await run(records.slice(0, 6), { reportBatchItemFailures: true }, (event, call) =>
      call === 1 ? failing([4, 2])(event) : null,
    );
    expect(result.calls).toEqual([seqs(0, 1, 2, 3, 4, 5), seqs(2, 3, 4, 5)]);
    expect(result.settled).toEqual(seqs(0, 1, 2, 3, 4, 5));
    expect(result.metrics).toMatchObject({ partialFailures: 1, retries: 1, invocations: 2 });
    expect(result.clock.sleeps).toEqual([500]);
  });

  it('retries the whole batch when an identifier is invalid', async () => {
    const result = await run(records.slice(0, 3), { reportBatchItemFailures: true }, (_event, call) =>
      call === 1 ? { batchItemFailures: [{ itemIdentifier: 123 }] } : {},
    );
    expect(result.calls).toEqual([seqs(0, 1, 2), seqs(0, 1, 2)]);
    expect(result.metrics.invalidResponses).toBe(1);
  });

  it('sends exhausted retries to the destination with invoke count 1 + MaximumRetryAttempts and backoff', async () => {
    const result = await run(records.slice(0, 3), { maximumRetryAttempts: 3 }, () => {
      throw new TypeError('cannot decode');
    });
    expect(result.calls).toHaveLength(4);
    expect(result.clock.sleeps).toEqual([500, 750, 1125]);
    expect(result.failures).toHaveLength(1);
    const failure = result.failures[0];
    expect(Object.keys(failure ?? {})).toEqual([
      'requestContext',
      'responseContext',
      'version',
      'timestamp',
      'KinesisBatchInfo',
    ]);
    expect(failure).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:correlator',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date(BASE_ARRIVAL_MS + 60_000 + 500 + 750 + 1125).toISOString(),
      KinesisBatchInfo: {
        shardId: 'shardId-000000000001',
        startSequenceNumber: seqOf(0),
        endSequenceNumber: seqOf(2),
        approximateArrivalOfFirstRecord: new Date(BASE_ARRIVAL_MS).toISOString(),
        approximateArrivalOfLastRecord: new Date(BASE_ARRIVAL_MS + 2000).toISOString(),
        batchSize: 3,
        streamArn: STREAM_ARN,
      },
    });
    expect(result.settled).toEqual(seqs(0, 1, 2)); // discarded records are finished: the shard moves on
    expect(result.metrics).toMatchObject({
      functionErrors: 4,
      retries: 3,
      recordsDiscardedRetriesExhausted: 3,
    });
  });

  it('after exhausted partial failures names only the records from the checkpoint, with no function error', async () => {
    const result = await run(
      records.slice(0, 6),
      { reportBatchItemFailures: true, maximumRetryAttempts: 2 },
      failing([5]),
    );
    expect(result.calls).toEqual([seqs(0, 1, 2, 3, 4, 5), seqs(5), seqs(5)]);
    expect(result.failures[0]?.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: null,
    });
    expect(result.failures[0]?.requestContext.approximateInvokeCount).toBe(3);
    expect(result.failures[0]?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seqOf(5),
      endSequenceNumber: seqOf(5),
      batchSize: 1,
    });
  });

  it('bisects on function error until the poison record is alone, in order, without charging splits as retries', async () => {
    const result = await run(
      records,
      { bisectBatchOnFunctionError: true, maximumRetryAttempts: 1 },
      poison(5),
    );
    expect(result.calls).toEqual([
      seqs(0, 1, 2, 3, 4, 5, 6, 7),
      seqs(0, 1, 2, 3),
      seqs(4, 5, 6, 7),
      seqs(4, 5),
      seqs(4),
      seqs(5),
      seqs(5), // the one retry MaximumRetryAttempts allows
      seqs(6, 7),
    ]);
    expect(result.settled).toEqual(seqs(0, 1, 2, 3, 4, 5, 6, 7));
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seqOf(5),
      batchSize: 1,
    });
    // Invocations that carried record 5: the batch of 8, of 4, of 2, then 2 alone.
    expect(result.failures[0]?.requestContext.approximateInvokeCount).toBe(5);
    expect(result.metrics).toMatchObject({
      bisects: 3,
      recordsDiscardedRetriesExhausted: 1,
      recordsCompleted: 8,
    });
  });

  it('discards records older than MaximumRecordAgeInSeconds without responseContext, then invokes the rest', async () => {
    // Record i arrived at BASE + i s; at BASE + 62.5 s with a 60 s limit, records 0..2 are too old.
    const clock = new ManualClock(BASE_ARRIVAL_MS + 62_500);
    const result = await run(records.slice(0, 5), { maximumRecordAgeSeconds: 60 }, () => null, clock);
    expect(result.calls).toEqual([seqs(3, 4)]);
    expect(result.failures).toHaveLength(1);
    const failure = result.failures[0];
    expect(failure?.requestContext.condition).toBe('RecordAgeExceeded');
    expect(failure && 'responseContext' in failure).toBe(false);
    expect(failure?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seqOf(0),
      endSequenceNumber: seqOf(2),
      batchSize: 3,
    });
    expect(result.settled).toEqual(seqs(0, 1, 2, 3, 4));
  });

  it('with unlimited retries keeps retrying until the records are too old', async () => {
    const clock = new ManualClock(BASE_ARRIVAL_MS);
    const result = await run(
      records.slice(0, 2),
      { maximumRetryAttempts: -1, maximumRecordAgeSeconds: 60 },
      () => {
        throw new Error('down');
      },
      clock,
    );
    // Backoff 0.5 s x 1.5^n: the sleeps pass 60 s after the 9th retry.
    const sleeps = clock.sleeps;
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThan(60_000);
    expect(result.calls).toHaveLength(sleeps.length);
    expect(result.failures.map((failure) => failure.requestContext.condition)).toEqual(['RecordAgeExceeded']);
    expect(result.failures[0]?.requestContext.approximateInvokeCount).toBe(result.calls.length);
  });

  it('ignores batchItemFailures without ReportBatchItemFailures', async () => {
    const result = await run(records.slice(0, 3), { reportBatchItemFailures: false }, failing([1]));
    expect(result.calls).toHaveLength(1);
    expect(result.failures).toEqual([]);
  });

  it('stops between retries when aborted, leaving the records unfinished', async () => {
    const controller = new AbortController();
    const handler: LambdaHandler = async () => {
      controller.abort();
      throw new Error('fail');
    };
    const settled: string[] = [];
    const completed = await processBatch(
      records.slice(0, 2),
      {
        settings: { ...DEFAULT_STREAM_MAPPING_SETTINGS, maximumRetryAttempts: 5 },
        invoker: new InProcessFunctionInvoker({
          handler,
          functionName: 'f',
          region: 'eu-west-1',
          accountId: '1',
        }),
        source: { streamArn: STREAM_ARN, awsRegion: 'eu-west-1', invokeIdentityArn: ROLE_ARN },
        destination: undefined,
        clock: new ManualClock(),
        metrics: new EsmMetrics(),
        retryDelayMs: defaultRetryDelayMs,
        log: () => {},
        signal: controller.signal,
      },
      (done) => settled.push(...done.map((record) => record.sequenceNumber)),
    );
    expect(completed).toBe(false);
    expect(settled).toEqual([]);
  });
});
