// What Lambda does with one batch of one shard until every record of it is either processed or discarded:
// invoke, read the response, checkpoint after partial success, bisect on function error, retry with backoff,
// discard on exhausted retries or record age into the on-failure destination.
//
// Retry accounting follows AWS: every re-invocation after a failure is a retry, except that the invocation whose
// function error caused a bisect is not charged (the halves inherit the retries used before it). A partial
// failure checkpoints and retries from the lowest failed sequence number; with bisect enabled that is also where
// AWS splits, so the two coincide.
import { interpretInvokeResult } from './batch-response.ts';
import type { Clock } from './clock.ts';
import type { FailureCondition, FailureDestination } from './failure-destination.ts';
import { buildOnFailureRecord } from './failure-destination.ts';
import type { FunctionInvoker } from './invoker.ts';
import type { EsmMetrics } from './metrics.ts';
import type { StreamMappingSettings } from './settings.ts';
import type { EventSourceIdentity, ShardRecord } from './shard-record.ts';
import { eventFormatOf, type StreamEvent } from './stream-event.ts';

export type EsmLogEvent =
  | {
      readonly type: 'function-error';
      readonly shardId: string;
      readonly batchSize: number;
      readonly errorType: string;
      readonly errorMessage: string;
    }
  | {
      readonly type: 'partial-failure';
      readonly shardId: string;
      readonly batchSize: number;
      readonly failedSequenceNumber: string;
    }
  | {
      readonly type: 'invalid-response';
      readonly shardId: string;
      readonly batchSize: number;
      readonly reason: string;
    }
  | {
      readonly type: 'discarded';
      readonly shardId: string;
      readonly condition: FailureCondition;
      readonly records: number;
      readonly destination: boolean;
    }
  | {
      readonly type: 'poll-error' | 'processing-error';
      readonly shardId: string;
      readonly errorType: string;
      readonly errorMessage: string;
    };

export interface BatchProcessorDeps {
  readonly settings: StreamMappingSettings;
  readonly invoker: FunctionInvoker;
  readonly source: EventSourceIdentity;
  readonly destination: FailureDestination | undefined;
  readonly clock: Clock;
  readonly metrics: EsmMetrics;
  /** Delay before the n-th retry (n >= 1). */
  readonly retryDelayMs: (retry: number) => number;
  readonly log: (event: EsmLogEvent) => void;
  readonly signal?: AbortSignal;
}

/** 0.5 s, growing by half each retry, capped at one minute (the backoff LocalStack uses for stream retries). */
export function defaultRetryDelayMs(retry: number): number {
  return Math.min(60_000, Math.round(500 * 1.5 ** (retry - 1)));
}

/**
 * Processes `records` (one shard, ascending sequence). `onSettled` is called with each prefix that is finished
 * (succeeded or discarded), in order. Returns false if stopped by `signal` before everything settled.
 */
export async function processBatch(
  records: readonly ShardRecord[],
  deps: BatchProcessorDeps,
  onSettled: (settled: readonly ShardRecord[]) => void,
): Promise<boolean> {
  return processSegment(records, { retriesUsed: 0, invocations: 0 }, deps, onSettled);
}

interface Attempts {
  retriesUsed: number;
  /** Invocations that carried these records, for approximateInvokeCount. */
  invocations: number;
}

async function processSegment(
  records: readonly ShardRecord[],
  attempts: Attempts,
  deps: BatchProcessorDeps,
  onSettled: (settled: readonly ShardRecord[]) => void,
): Promise<boolean> {
  const { settings, metrics } = deps;
  let pending = records;
  let retriesUsed = attempts.retriesUsed;
  let invocations = attempts.invocations;
  let failedBefore = invocations > 0;
  const settle = (done: readonly ShardRecord[]): void => {
    if (done.length === 0) return;
    metrics.add('recordsCompleted', done.length);
    onSettled(done);
  };

  while (pending.length > 0) {
    if (deps.signal?.aborted) return false;
    if (failedBefore) {
      await deps.clock.sleep(deps.retryDelayMs(Math.max(1, retriesUsed)), deps.signal);
      if (deps.signal?.aborted) return false;
      failedBefore = false;
    }
    // Age is checked right before each invocation, so time spent in backoff counts.
    if (settings.maximumRecordAgeSeconds >= 0) {
      const cutoff = deps.clock.now() - settings.maximumRecordAgeSeconds * 1000;
      const expired = countPrefix(pending, (record) => record.approximateArrivalMs < cutoff);
      if (expired > 0) {
        await discard('RecordAgeExceeded', pending.slice(0, expired), invocations, undefined, deps);
        settle(pending.slice(0, expired));
        pending = pending.slice(expired);
        continue;
      }
    }
    if (invocations > 0) metrics.add('retries'); // these records were invoked before

    const result = await deps.invoker.invoke(eventOf(pending, deps));
    invocations += 1;
    metrics.add('invocations');
    metrics.add('recordsInvoked', pending.length);
    const outcome = interpretInvokeResult(result, pending, settings.reportBatchItemFailures);
    const shardId = pending[0]?.shardId ?? '';

    if (outcome.kind === 'success') {
      metrics.add('batchesSucceeded');
      settle(pending);
      return true;
    }

    let functionError: string | null = null;
    if (outcome.kind === 'partial') {
      metrics.add('partialFailures');
      deps.log({
        type: 'partial-failure',
        shardId,
        batchSize: pending.length,
        failedSequenceNumber: outcome.failedSequence.toString(),
      });
      const succeeded = countPrefix(pending, (record) => record.sequence < outcome.failedSequence);
      settle(pending.slice(0, succeeded));
      pending = pending.slice(succeeded);
    } else if (outcome.kind === 'invalid-response') {
      metrics.add('invalidResponses');
      deps.log({ type: 'invalid-response', shardId, batchSize: pending.length, reason: outcome.reason });
    } else {
      metrics.add('functionErrors');
      functionError = 'Unhandled';
      deps.log({
        type: 'function-error',
        shardId,
        batchSize: pending.length,
        errorType: outcome.errorType,
        errorMessage: outcome.errorMessage,
      });
      if (settings.bisectBatchOnFunctionError && pending.length > 1) {
        metrics.add('bisects');
        const middle = Math.ceil(pending.length / 2);
        const inherited = { retriesUsed, invocations };
        if (!(await processSegment(pending.slice(0, middle), { ...inherited }, deps, onSettled)))
          return false;
        return processSegment(pending.slice(middle), { ...inherited }, deps, onSettled);
      }
    }

    failedBefore = true;
    if (settings.maximumRetryAttempts >= 0 && retriesUsed >= settings.maximumRetryAttempts) {
      await discard('RetryAttemptsExhausted', pending, invocations, { functionError }, deps);
      settle(pending);
      return true;
    }
    retriesUsed += 1;
  }
  return true;
}

async function discard(
  condition: FailureCondition,
  records: readonly ShardRecord[],
  invocations: number,
  lastResponse: { functionError: string | null } | undefined,
  deps: BatchProcessorDeps,
): Promise<void> {
  deps.metrics.add(
    condition === 'RecordAgeExceeded' ? 'recordsDiscardedRecordAge' : 'recordsDiscardedRetriesExhausted',
    records.length,
  );
  deps.log({
    type: 'discarded',
    shardId: records[0]?.shardId ?? '',
    condition,
    records: records.length,
    destination: deps.destination !== undefined,
  });
  if (!deps.destination) {
    deps.metrics.add('discardedWithoutDestination');
    return;
  }
  const record = buildOnFailureRecord({
    condition,
    records,
    approximateInvokeCount: invocations,
    ...(lastResponse ? { lastResponse } : {}),
    functionArn: deps.invoker.functionArn,
    streamArn: deps.source.streamArn,
    nowMs: deps.clock.now(),
  });
  await deps.destination.send(record, eventOf(records, deps));
  deps.metrics.add('failureRecordsSent');
}

/** The event of `records` in the shape of the mapping's source (Kinesis or DynamoDB Streams). */
function eventOf(records: readonly ShardRecord[], deps: BatchProcessorDeps): StreamEvent {
  return eventFormatOf(deps.source.streamArn).toEvent(records, deps.source);
}

function countPrefix(records: readonly ShardRecord[], predicate: (record: ShardRecord) => boolean): number {
  let count = 0;
  while (count < records.length && predicate(records[count] as ShardRecord)) count += 1;
  return count;
}
