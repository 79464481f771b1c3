// Bundle entry for event-time runs (`flowline local --replay`, the end-to-end suite). It wires the functions
// as functions/correlator/handler.ts, functions/ticker/handler.ts and functions/exporter/handler.ts do -- same
// config readers, same adapters, the same assemblies (the functions' wiring.ts) -- with one difference: the
// clock is a parameter instead of Date.now, so time can follow the records' own timestamps.
// local/runner/functions.ts bundles it with the stack's esbuild settings (local/bundle.ts), so what runs is
// esbuild output, as on Lambda.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import { correlatorConfigFromEnv } from '../../functions/correlator/config.ts';
import { wireCorrelator } from '../../functions/correlator/wiring.ts';
import { exporterConfigFromEnv } from '../../functions/exporter/config.ts';
import type { ExportReport } from '../../functions/exporter/export-batch.ts';
import { createExporterHandler } from '../../functions/exporter/make-handler.ts';
import { wireExporter } from '../../functions/exporter/wiring.ts';
import { EXPORTER_SERVICE_NAME } from '../../functions/shared/metric-names.ts';
import { tickerConfigFromEnv } from '../../functions/ticker/config.ts';
import type { TickReport } from '../../functions/ticker/ticker.ts';
import { wireTicker } from '../../functions/ticker/wiring.ts';

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

export interface EventTimeTicker {
  readonly commitIntervalMs: number;
  /** One round at the clock's current time: advances every flow that fell due. */
  round(): Promise<TickReport>;
  /**
   * One scheduled invocation, as the Lambda handler runs it (the round loop with RUN_FOR_SECONDS,
   * COMMIT_INTERVAL_SECONDS and the early end at rest), on the caller's clock and sleep.
   */
  invoke(time: { clock: () => number; sleep: (ms: number) => Promise<void> }): Promise<TickReport[]>;
}

/**
 * The ticker as handler.ts builds it (functions/ticker/wiring.ts), on `clock`, from process.env with `env`
 * over it: this ticker's own variables (template.ts tickerOwnEnvironment: its TICKER_INDEX).
 */
export function createEventTimeTicker(options: {
  clock: () => number;
  env?: Record<string, string>;
}): EventTimeTicker {
  const config = tickerConfigFromEnv({ ...process.env, ...options.env });
  const { ticker, loop, loopOptions } = wireTicker(config, {
    dynamodb: createDynamoDbClient(),
    clock: options.clock,
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  });
  return {
    commitIntervalMs: config.commitIntervalMs,
    round: () => ticker.round(),
    invoke: (time) => loop.run({ ...loopOptions, ...time }),
  };
}

export interface EventTimeExporter {
  /** The exporter's Lambda handler: one batch of the flow table's stream. */
  handler(event: DynamoDBStreamEvent): Promise<ExportReport>;
  /** Closes the ClickHouse client if an insert opened one. */
  close(): Promise<void>;
}

/**
 * The exporter as handler.ts builds it (functions/exporter/wiring.ts: intents in the flow table, ClickHouse
 * connected by the first insert), from process.env with `env` over it (a test's ClickHouse relay), its
 * intents' expiry on `clock`. Without the extra sinks: event-time runs check ClickHouse's rows.
 */
export function createEventTimeExporter(options: {
  clock: () => number;
  env?: Record<string, string>;
  metrics?: MetricSink;
}): EventTimeExporter {
  const config = exporterConfigFromEnv({ ...process.env, ...options.env });
  // Warnings and errors only: the schema check's INFO line would repeat for every run of a test suite.
  const logger = new Logger({ serviceName: EXPORTER_SERVICE_NAME, logLevel: 'WARN' });
  const dynamodb = createDynamoDbClient();
  const wired = wireExporter(config, { dynamodb, clock: options.clock, logger });
  const handler = createExporterHandler({
    prepare: async () => wired.exporter,
    logger,
    metrics: (options.metrics ?? new Metrics({ serviceName: EXPORTER_SERVICE_NAME })) as Metrics,
  });
  return {
    handler,
    async close() {
      await wired.close();
      dynamodb.destroy();
    },
  };
}
