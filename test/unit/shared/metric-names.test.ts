// The dashboard and alarms (lib/monitoring.ts) watch metric names from functions/shared/metric-names.ts; the
// handlers emit them. These tests run the handlers' metric publishing and check every watched name is
// emitted, so renaming a metric on one side cannot leave a graph or an alarm empty.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import type { FlowStore } from '../../../core/flow-state/ports.ts';
import { createCorrelatorHandler } from '../../../functions/correlator/make-handler.ts';
import { publishRound } from '../../../functions/flusher/make-handler.ts';
import {
  CORRELATOR_METRICS,
  CORRELATOR_SERVICE_NAME,
  FLUSHER_METRICS,
  FLUSHER_SERVICE_NAME,
  METRICS_NAMESPACE,
} from '../../../functions/shared/metric-names.ts';

function recordingMetrics(serviceName: string): { metrics: Metrics; names: () => Set<string> } {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  const addMetric = vi.spyOn(metrics, 'addMetric');
  vi.spyOn(metrics, 'publishStoredMetrics').mockReturnValue(metrics);
  return { metrics, names: () => new Set(addMetric.mock.calls.map(([name]) => name)) };
}

describe('metric names the dashboard shows', () => {
  it('are all emitted by the flusher every round', () => {
    const { metrics, names } = recordingMetrics(FLUSHER_SERVICE_NAME);
    publishRound(metrics, {
      ok: false,
      dueFlows: 3,
      rowsInserted: 2,
      inserts: 1,
      replayedBatches: 0,
      replayedRows: 0,
      markConflicts: 1,
      incompleteRows: 0,
      closedFlows: 0,
      insertFailures: 1,
      rejectedRows: 1,
      rejected: [],
      durationMs: 5,
      exportLagSeconds: 4,
    });
    expect([...names()]).toEqual(expect.arrayContaining(Object.values(FLUSHER_METRICS)));
  });

  it('are emitted by the correlator (a batch with one poison record; the per-record ratio needs records)', async () => {
    const { metrics, names } = recordingMetrics(CORRELATOR_SERVICE_NAME);
    const store: FlowStore = {
      read: async (keys) => {
        expect(keys).toEqual([]); // a poison-only batch has no flow to read
        return { flows: new Map(), consumedReadUnits: 0 };
      },
      write: () => {
        throw new Error('a poison-only batch writes no flow');
      },
    };
    const handler = createCorrelatorHandler({
      store,
      now: () => 1_800_000_000_000,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics,
      settings: {
        timeouts: { activeTimeoutMs: 60_000, inactiveTimeoutMs: 90_000 },
        writeConcurrency: 1,
        maxWriteAttempts: 1,
      },
    });
    const event = {
      Records: [
        {
          eventID: 'shardId-000000000000:1',
          eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/flowline',
          kinesis: {
            data: Buffer.from('not a wire batch').toString('base64'),
            sequenceNumber: '1',
            partitionKey: 'k',
          },
        },
      ],
    } as unknown as KinesisStreamEvent;
    const response = await handler(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '1' }]);
    const { writeUnitsPerFlowRecord, ...perBatch } = CORRELATOR_METRICS;
    expect([...names()]).toEqual(expect.arrayContaining(Object.values(perBatch)));
  });
});
