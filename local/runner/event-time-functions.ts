// Bundle entry for event-time runs (`flowline local --replay`, the end-to-end suite). It wires the two
// functions as functions/correlator/handler.ts and functions/flusher/handler.ts do -- same config readers,
// same adapters, the flusher from the same assembly (functions/flusher/wiring.ts) -- with one difference: the clock is a parameter instead of
// Date.now, so time can follow the records' own timestamps. local/runner/functions.ts bundles it with the
// stack's esbuild settings (local/bundle.ts), so what runs is esbuild output, as on Lambda.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { correlatorConfigFromEnv } from '../../functions/correlator/config.ts';
import { wireCorrelator } from '../../functions/correlator/wiring.ts';
import { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import { flusherConfigFromEnv } from '../../functions/exporter/clickhouse-target.ts';
import { FlushLoop, type RoundReport } from '../../functions/flusher/flusher.ts';
import { wireFlusher } from '../../functions/flusher/wiring.ts';
import { FLUSHER_SERVICE_NAME } from '../../functions/shared/metric-names.ts';

/** What the handlers report through Powertools Metrics, kept in memory (CloudWatch gets them from EMF). */
export interface MetricSink {
  addMetric(name: string, unit: string, value: number): void;
  publishStoredMetrics(): void;
}

export interface EventTimeCorrelatorOptions {
  /** Invocation time, epoch ms (records carry their own arrival time; this is the fallback and TTL clock). */
  now: () => number;
  /** Fault injection and instrumentation around the DynamoDB store. */
  wrapStore?: (store: FlowStore) => FlowStore;
  metrics?: MetricSink;
}

/** The correlator's Lambda handler, built once per "execution environment" from the environment. */
export function createEventTimeCorrelator(options: EventTimeCorrelatorOptions) {
  return wireCorrelator(correlatorConfigFromEnv(), {
    now: options.now,
    logger: new Logger(),
    metrics: (options.metrics ?? new Metrics()) as Metrics,
    wrapStore: options.wrapStore,
  });
}

export interface EventTimeFlusher {
  readonly commitIntervalMs: number;
  /** One round at the clock's current time (replays open manifests, exports what is due). */
  round(): Promise<RoundReport>;
  /**
   * One scheduled invocation, as the Lambda handler runs it (FlushLoop with RUN_FOR_SECONDS,
   * COMMIT_INTERVAL_SECONDS and the early end at rest), on the caller's clock and sleep.
   */
  invoke(time: { clock: () => number; sleep: (ms: number) => Promise<void> }): Promise<RoundReport[]>;
  close(): Promise<void>;
}

/**
 * The flusher as handler.ts builds it (functions/flusher/wiring.ts: ClickHouse connected by the first insert),
 * on `clock`, from process.env with `env` over it: this flusher's own variables (template.ts
 * flusherOwnEnvironment: its FLUSHER_INDEX), a test's ClickHouse relay.
 */
export async function createEventTimeFlusher(options: {
  clock: () => number;
  env?: Record<string, string>;
}): Promise<EventTimeFlusher> {
  const config = flusherConfigFromEnv({ ...process.env, ...options.env });
  // Warnings and errors only: the schema check's INFO line would repeat for every run of a test suite.
  const logger = new Logger({ serviceName: FLUSHER_SERVICE_NAME, logLevel: 'WARN' });
  const queue = new DynamoExportQueue(
    createDynamoDbClient(),
    config.tableName,
    config.schedule,
    config.partition,
  );
  const { flusher, close } = wireFlusher(config, { queue, clock: options.clock, logger });
  const loop = new FlushLoop(flusher);
  return {
    commitIntervalMs: config.commitIntervalMs,
    round: () => flusher.round(),
    invoke: (time) =>
      loop.run({
        runForMs: config.runForMs,
        intervalMs: config.commitIntervalMs,
        maxBackoffMs: config.maxBackoffMs,
        ...time,
      }),
    close,
  };
}
