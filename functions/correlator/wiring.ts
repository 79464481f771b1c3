// The correlator assembled from its configuration: the one place that turns CorrelatorConfig into a
// handler (the flow table's store in its layout, settings). The Lambda entry (handler.ts) and local mode's
// event-time runs (local/runner/event-time-functions.ts) both build it here and differ only in the clock,
// logger and metrics they pass.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { openFlowTable } from '../flow-store/layout.ts';
import type { CorrelatorConfig } from './config.ts';
import { type CorrelatorHandler, createCorrelatorHandler } from './make-handler.ts';

export function wireCorrelator(
  config: CorrelatorConfig,
  deps: {
    now: () => number;
    logger: Logger;
    metrics: Metrics;
    /** Fault injection and instrumentation around the DynamoDB store (tests). */
    wrapStore?: (store: FlowStore) => FlowStore;
  },
): CorrelatorHandler {
  const dynamo = openFlowTable(createDynamoDbClient(), config.tableName, config.schedule, config.layout);
  return createCorrelatorHandler({
    store: deps.wrapStore ? deps.wrapStore(dynamo) : dynamo,
    now: deps.now,
    logger: deps.logger,
    metrics: deps.metrics,
    settings: config.settings,
  });
}
