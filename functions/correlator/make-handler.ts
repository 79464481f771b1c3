// The correlator's Lambda handler, built from its dependencies (the store port, a clock, Powertools logger
// and metrics) so tests and local mode run exactly the code Lambda runs.
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { STALE_CONNECTION_RECORDS_METRIC } from '../shared/metric-names.ts';
import { type BatchOutcome, type CorrelatorSettings, correlateBatch } from './correlate-batch.ts';

export interface CorrelatorHandlerDeps {
  store: FlowStore;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  settings: CorrelatorSettings;
}

export type CorrelatorHandler = (
  event: KinesisStreamEvent,
  context?: Context,
) => Promise<KinesisStreamBatchResponse>;

const POISON_SAMPLE_BYTES = 96;

function emitMetrics(metrics: Metrics, outcome: BatchOutcome): void {
  const s = outcome.stats;
  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
  count('KinesisRecords', s.kinesisRecords);
  count('FlowRecords', s.flowRecords);
  count('PoisonRecords', s.poisonRecords);
  count('FlowKeys', s.flowKeys);
  count('AppliedRecords', s.appliedRecords);
  count('LateAppliedRecords', s.lateAppliedRecords);
  count('GapFilledRecords', s.gapFilledRecords);
  count('DuplicateRecords', s.duplicateRecords);
  count('CoveredRecords', s.coveredRecords);
  count(STALE_CONNECTION_RECORDS_METRIC, s.staleConnectionRecords);
  count('FlowsCreated', s.flowsCreated);
  count('FlowWrites', s.writes);
  count('WriteConflicts', s.writeConflicts);
  count('FailedFlowKeys', s.failedKeys);
  count('ConsumedWriteUnits', s.consumedWriteUnits);
  count('ConsumedReadUnits', s.consumedReadUnits);
  if (s.flowRecords > 0) count('WriteUnitsPerFlowRecord', s.consumedWriteUnits / s.flowRecords);
}

export function createCorrelatorHandler(deps: CorrelatorHandlerDeps): CorrelatorHandler {
  const { logger, metrics } = deps;
  return async (event, context) => {
    if (context) logger.addContext(context);
    try {
      const outcome = await correlateBatch(event.Records, deps, deps.settings);
      for (const poison of outcome.poison) {
        const record = event.Records[poison.index]!;
        // Reported as a batch item failure: the mapping retries it (bounded), then names its shard and
        // sequence range in the on-failure queue. The log keeps the evidence with the same coordinates.
        logger.error('undecodable Kinesis record (poison), reported as batch item failure', {
          eventID: record.eventID,
          eventSourceARN: record.eventSourceARN,
          sequenceNumber: poison.sequenceNumber,
          partitionKey: record.kinesis.partitionKey,
          reason: poison.reason,
          detail: poison.message,
          bytes: poison.bytes,
          sampleBase64: Buffer.from(record.kinesis.data, 'base64')
            .subarray(0, POISON_SAMPLE_BYTES)
            .toString('base64'),
        });
      }
      for (const failure of outcome.keyFailures) {
        logger.error('flow write failed; its Kinesis records are reported for retry', {
          flowKey: failure.flowKey,
          error: failure.error instanceof Error ? failure.error : String(failure.error),
        });
      }
      emitMetrics(metrics, outcome);
      logger.debug('batch correlated', { ...outcome.stats });
      return { batchItemFailures: outcome.batchItemFailures };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
