// The correlator assembled from its configuration: the one place that turns CorrelatorConfig into a
// handler (DynamoDB store, settings, the flusher wake-up). The Lambda entry (handler.ts) and local mode's
// event-time runs (local/runner/event-time-functions.ts) both build it here and differ only in the clock,
// logger and metrics they pass (and event-time runs, which drive the flusher themselves, pass no wake-up).
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { DynamoFlowStore } from '../flow-store/store.ts';
import type { CorrelatorConfig } from './config.ts';
import { type CorrelatorHandler, createCorrelatorHandler } from './make-handler.ts';
import { createFlusherWake, FLUSHER_WAKE_INTERVAL_MS, type FlusherWake } from './wake-flusher.ts';

export function wireCorrelator(
  config: CorrelatorConfig,
  deps: {
    now: () => number;
    logger: Logger;
    metrics: Metrics;
    /** Fault injection and instrumentation around the DynamoDB store (tests). */
    wrapStore?: (store: FlowStore) => FlowStore;
    flusherWake?: FlusherWake;
  },
): CorrelatorHandler {
  const dynamo = new DynamoFlowStore(createDynamoDbClient(), config.tableName, config.schedule);
  return createCorrelatorHandler({
    store: deps.wrapStore ? deps.wrapStore(dynamo) : dynamo,
    now: deps.now,
    logger: deps.logger,
    metrics: deps.metrics,
    settings: config.settings,
    flusherWake: deps.flusherWake,
  });
}

/**
 * The wake-up of the flushers named `functionNames` (one per flusher of N, each on its own due shards):
 * an asynchronous Invoke of each through `lambda`.
 */
export function lambdaFlusherWake(
  lambda: LambdaClient,
  functionNames: readonly string[],
  deps: { now: () => number; logger: Logger },
): FlusherWake {
  return createFlusherWake({
    invoke: async () => {
      await Promise.all(
        functionNames.map((name) =>
          lambda.send(
            new InvokeCommand({
              FunctionName: name,
              InvocationType: 'Event',
              Payload: Buffer.from('{"source":"flowline.correlator","reason":"flows created"}'),
            }),
          ),
        ),
      );
    },
    now: deps.now,
    minIntervalMs: FLUSHER_WAKE_INTERVAL_MS,
    // The schedule still runs the flusher every minute: a failed wake only costs latency.
    onError: (error) => deps.logger.warn('could not wake the flusher', { error: error as Error }),
  });
}
