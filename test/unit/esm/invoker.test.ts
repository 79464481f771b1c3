import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOnFailureRecord, JsonLinesFailureDestination } from '../../../local/esm/failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from '../../../local/esm/invoker.ts';
import { toKinesisEvent } from '../../../local/esm/kinesis-event.ts';
import { shardRecords } from './records.ts';

const invoker = (handler: LambdaHandler, timeoutSeconds?: number) =>
  new InProcessFunctionInvoker({
    handler,
    functionName: 'fn',
    region: 'eu-west-1',
    accountId: '123456789012',
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    memorySizeMb: 1024,
  });

describe('InProcessFunctionInvoker', () => {
  it('gives the handler a Lambda context and returns its result through JSON', async () => {
    let seen: Record<string, unknown> = {};
    const result = await invoker(async (_event, context) => {
      seen = {
        functionName: context.functionName,
        arn: context.invokedFunctionArn,
        memory: context.memoryLimitInMB,
        requestId: context.awsRequestId,
        remaining: context.getRemainingTimeInMillis(),
      };
      return { when: new Date(0), skipped: undefined };
    }, 10).invoke({});
    expect(result).toEqual({ ok: true, payload: { when: '1970-01-01T00:00:00.000Z' } });
    expect(seen).toMatchObject({
      functionName: 'fn',
      arn: 'arn:aws:lambda:eu-west-1:123456789012:function:fn',
      memory: '1024',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(seen.remaining).toBeGreaterThan(9_000);
    expect(seen.remaining).toBeLessThanOrEqual(10_000);
  });

  it('turns a throw into a function error and supports callback handlers', async () => {
    expect(
      await invoker(async () => {
        throw new RangeError('bad');
      }).invoke({}),
    ).toEqual({ ok: false, errorType: 'RangeError', errorMessage: 'bad' });
    const callbackHandler: LambdaHandler = (_event, _context, callback) => {
      setImmediate(() => callback(null, { via: 'callback' }));
    };
    expect(await invoker(callbackHandler).invoke({})).toEqual({ ok: true, payload: { via: 'callback' } });
  });

  it('times out a handler that outlives the function timeout', async () => {
    const result = await invoker(() => new Promise(() => {}), 0.05).invoke({});
    expect(result).toEqual({
      ok: false,
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 0.05 seconds',
    });
  });
});

describe('JsonLinesFailureDestination', () => {
  it('appends one record per line, with the records as an S3 destination would when asked', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'flowline-failures-'));
    try {
      const records = shardRecords(2);
      const source = {
        streamArn: 'arn:aws:kinesis:eu-west-1:1:stream/s',
        awsRegion: 'eu-west-1',
        invokeIdentityArn: 'r',
      };
      const failure = buildOnFailureRecord({
        condition: 'RecordAgeExceeded',
        records,
        approximateInvokeCount: 1,
        functionArn: 'arn:aws:lambda:eu-west-1:1:function:fn',
        streamArn: source.streamArn,
        nowMs: 0,
      });
      const plain = new JsonLinesFailureDestination({ directory });
      const withPayload = new JsonLinesFailureDestination({
        directory,
        fileName: 's3.jsonl',
        includePayload: true,
      });
      await plain.send(failure, toKinesisEvent(records, source));
      await plain.send(failure, toKinesisEvent(records, source));
      await withPayload.send(failure, toKinesisEvent(records, source));
      const lines = (await readFile(plain.path, 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line))).toEqual([failure, failure]);
      const [s3] = (await readFile(withPayload.path, 'utf8')).trimEnd().split('\n');
      expect(JSON.parse(s3 as string)).toEqual({ ...failure, payload: toKinesisEvent(records, source) });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
