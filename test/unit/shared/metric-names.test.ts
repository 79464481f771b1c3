// The dashboard and alarms (lib/monitoring.ts) watch metric names from functions/shared/metric-names.ts; the
// handlers emit them. These tests run the handlers' metric publishing and check every watched name is
// emitted, so renaming a metric on one side cannot leave a graph or an alarm empty.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_LAZY_INDEX } from '../../../core/flow-state/advance.ts';
import type { FlowStore } from '../../../core/flow-state/ports.ts';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { createCorrelatorHandler } from '../../../functions/correlator/make-handler.ts';
import { publishBatch } from '../../../functions/exporter/make-handler.ts';
import {
  CORRELATOR_METRICS,
  CORRELATOR_SERVICE_NAME,
  EXPORTER_METRICS,
  EXPORTER_SERVICE_NAME,
  METRICS_NAMESPACE,
  TICKER_METRICS,
  TICKER_SERVICE_NAME,
} from '../../../functions/shared/metric-names.ts';
import { publishTick } from '../../../functions/ticker/make-handler.ts';

function recordingMetrics(serviceName: string): { metrics: Metrics; names: () => Set<string> } {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  const addMetric = vi.spyOn(metrics, 'addMetric');
  vi.spyOn(metrics, 'publishStoredMetrics').mockReturnValue(metrics);
  return { metrics, names: () => new Set(addMetric.mock.calls.map(([name]) => name)) };
}

describe('metric names the dashboard shows', () => {
  it('are all emitted by the exporter every batch', () => {
    const { metrics, names } = recordingMetrics(EXPORTER_SERVICE_NAME);
    publishBatch(metrics, {
      records: 4,
      inserts: 1,
      replayedRecords: 0,
      rowsInserted: 2,
      replayedRows: 0,
      incompleteRows: 1,
      rejected: [],
    });
    expect([...names()]).toEqual(expect.arrayContaining(Object.values(EXPORTER_METRICS)));
  });

  it('are all emitted by the ticker every round', () => {
    const { metrics, names } = recordingMetrics(TICKER_SERVICE_NAME);
    publishTick(metrics, {
      ok: false,
      dueFlows: 3,
      advancedFlows: 2,
      rowsClosed: 2,
      incompleteRows: 0,
      closedFlows: 1,
      conflicts: 1,
      durationMs: 5,
      lagSeconds: 4,
    });
    expect([...names()]).toEqual(expect.arrayContaining(Object.values(TICKER_METRICS)));
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
      writeMany: async (writes) => {
        expect(writes).toEqual([]); // a poison-only batch writes no flow
        return [];
      },
    };
    const handler = createCorrelatorHandler({
      store,
      now: () => 1_800_000_000_000,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics,
      settings: {
        timeouts: { activeTimeoutMs: 60_000, inactiveTimeoutMs: 90_000 },
        schedule: defaultScheduleConfig(),
        lazyIndex: DEFAULT_LAZY_INDEX,
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
