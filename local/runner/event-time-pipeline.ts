// The whole pipeline on event time: collector -> Kinesis -> event source mapping -> correlator -> DynamoDB
// (and the tickers) -> the table's stream -> exporter -> ClickHouse, where time is what the input says it
// is, not the wall clock. Used by `flowline local --replay` and the end-to-end suite, so a capture or a
// simulated hour runs in seconds.
//
// Clocks:
//   event time    RunningClock: set to each message's (or poll's) time, it runs on in real time in between,
//                 so the collector's retries and linger timers still make progress. The collector stamps
//                 records with it (FlowRecord.receivedAtMs: the correlator's "now" of a record), and it is
//                 the correlator's invocation clock.
//   mapping       ManualClock: the correlator's batching windows and retry backoff pass instantly (settle()
//                 advances it).
//   ticker        one fixed time per round: rounds run at every commit interval of event time; with N
//                 tickers (the template's tickerCount) all N run each round, at once.
//   exporter      AcceleratedClock: the exporter's mapping polls the table's stream in the background, 50
//                 times faster than real time. A row is complete when the correlator or a ticker writes it
//                 (its export time included), so when the exporter inserts it changes nothing but when
//                 ClickHouse has it; running on its own, a ClickHouse outage leaves the exporter retrying
//                 while event time goes on, as it would live. exported() waits for it to catch up.
// Order is kept as a live run would see it: before time moves past a round, everything received earlier has
// gone through Kinesis and the correlator (settle), so a round at time T closes exactly the periods of the
// records that arrived before T.

import { join } from 'node:path';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createDynamoDbStreamsClient } from '../../adapters/aws-clients.ts';
import type { Collector } from '../../collector-edge/collector.ts';
import type { ListenSpec } from '../../collector-edge/config.ts';
import type { IngestPipeline, IngestSession } from '../../collector-edge/ingest.ts';
import type { KinesisSink } from '../../collector-edge/producer.ts';
import { DEFAULT_LAZY_INDEX } from '../../core/flow-state/advance.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import type { ExportReport } from '../../functions/exporter/export-batch.ts';
import type { TickReport } from '../../functions/ticker/ticker.ts';
import { MemoryCheckpointStore } from '../esm/checkpoint-store.ts';
import { AcceleratedClock, ManualClock } from '../esm/clock.ts';
import type { StreamEventSourceMapping } from '../esm/emulator.ts';
import { JsonLinesFailureDestination } from '../esm/failure-destination.ts';
import type { LambdaHandler } from '../esm/invoker.ts';
import type { StreamReader } from '../esm/stream-reader.ts';
import {
  CorrelatorCounters,
  correlatorMapping,
  countingCorrelator,
  exporterMapping,
  type LocalKubernetesOptions,
  startLocalCollector,
} from './components.ts';
import type { EventTimeExporter, EventTimeTicker, MetricSink } from './event-time-functions.ts';
import { loadEventTimeFunctions } from './functions.ts';
import { collectorFlowBucketsOf, type LocalTopology, tickerOwnEnvironment } from './template.ts';

/** How much faster than real time the exporter's mapping runs (its batching window, backoff and polls). */
const EXPORTER_TIME_FACTOR = 50;
const EXPORTER_IDLE_POLL_REAL_MS = 100;
/** How long exported() waits for the exporter by default: its retries outlast a short ClickHouse outage. */
const EXPORTED_TIMEOUT_MS = 120_000;

/** Event time that holds the value it was last set to and runs on in real time from there. */
export class RunningClock {
  #base: number;
  #setAt = performance.now();
  #held: number | undefined;

  constructor(startMs: number) {
    this.#base = startMs;
  }

  now(): number {
    return this.#held ?? Math.floor(this.#base + (performance.now() - this.#setAt));
  }

  /** Moves time forward to `ms` (never backwards: records out of order keep time monotonic). */
  set(ms: number): void {
    if (ms <= this.now()) return;
    this.#base = ms;
    this.#setAt = performance.now();
  }

  /**
   * Runs `fn` (synchronous) with the time held at `ms`, or at the time last set when that is later (a
   * message out of order): every stamp it takes is exact, whatever real time the run has spent since. A
   * new flow's first row carries its record's arrival as its export time, so replays of the same input
   * print the same rows only with exact stamps.
   */
  holding<T>(ms: number, fn: () => T): T {
    this.#held = Math.max(ms, this.#base);
    try {
      return fn();
    } finally {
      this.#held = undefined;
    }
  }
}

export interface EventTimePipelineOptions {
  topology: LocalTopology;
  /** The ingest stream (Kinesis). */
  streamArn: string;
  /** The flow table's stream, read by the exporter's mapping (PreparedStack.tableStreamArn). */
  tableStreamArn: string;
  kinesis: KinesisClient;
  /** On-failure records and the collector spool go here. */
  workDir: string;
  /** Event time at the start, epoch ms. */
  startMs: number;
  /** The in-process collector: its listeners (none: messages come through ingestMessage), or false when the
   * collector runs elsewhere (a child process). */
  collector?:
    | false
    | {
        listen?: ListenSpec[];
        wrapSink?: (sink: KinesisSink) => KinesisSink;
        kubernetes?: LocalKubernetesOptions;
      };
  wrapReader?: (reader: StreamReader) => StreamReader;
  /** Variables over the functions' environment for the exporter only (a test's ClickHouse relay). */
  exporterEnv?: Record<string, string>;
  /** What the exporter reports through Powertools Metrics. */
  exporterMetrics?: MetricSink;
  correlator?: {
    wrapStore?: (store: FlowStore) => FlowStore;
    wrapHandler?: (handler: LambdaHandler) => LambdaHandler;
    metrics?: MetricSink;
  };
}

/** Counts the Kinesis records the collector really wrote (duplicates included, refused entries not). */
class PutCounter {
  records = 0;
  wrap(sink: KinesisSink): KinesisSink {
    return {
      putRecords: async (entries) => {
        const results = await sink.putRecords(entries);
        this.records += results.filter((result) => result.ok).length;
        return results;
      },
      listShards: () => sink.listShards(),
    };
  }
}

/** The time values of the schedule, from the functions' environment (flow-store/config.ts names). */
function scheduleFromEnv(env: NodeJS.ProcessEnv) {
  const seconds = (name: string, fallback: number) => Number(env[name] || fallback);
  const active = seconds('ACTIVE_TIMEOUT_SECONDS', 60);
  return {
    activeMs: active * 1000,
    inactiveMs: seconds('INACTIVE_TIMEOUT_SECONDS', 90) * 1000,
    incompleteAfterMs: seconds('INCOMPLETE_AFTER_SECONDS', 3 * active) * 1000,
    // The lazy due-index key: a flow that falls idle is found by the ticker up to this much later.
    indexSlackMs: seconds('INDEX_SLACK_SECONDS', DEFAULT_LAZY_INDEX.slackMs / 1000) * 1000,
  };
}

export class EventTimePipeline {
  readonly eventClock: RunningClock;
  readonly mappingClock: ManualClock;
  readonly correlatorCounters: CorrelatorCounters;
  /** Every ticker round, in order (all tickers of a round one after the other). */
  readonly rounds: TickReport[] = [];
  /** What each successful exporter invocation reported, in order. */
  readonly exports: ExportReport[];
  /** On-failure records of the correlator's mapping, and of the exporter's. */
  readonly failures: JsonLinesFailureDestination;
  readonly exporterFailures: JsonLinesFailureDestination;
  readonly collector: Collector | undefined;
  /** The correlator's mapping on the ingest stream. */
  readonly mapping: StreamEventSourceMapping;
  /** The exporter's mapping on the flow table's stream, polling in the background. */
  readonly exporterMapping: StreamEventSourceMapping;
  /** One per ticker function of the template, in TICKER_INDEX order. */
  readonly #tickers: EventTimeTicker[];
  /** The tickers' clock reads this: one fixed time per round. */
  readonly #tickerTime: { ms: number };
  readonly #exporter: EventTimeExporter;
  readonly #streams: DynamoDBStreamsClient;
  readonly #windowMs: number;
  /** The correlator's environment (its schedule and lazy index settings, as text). */
  readonly #correlatorEnv: Record<string, string>;
  readonly #sessions = new Map<string, IngestSession>();
  readonly #putCounter: PutCounter;
  #nextRoundAt: number;
  #lastEventMs: number;

  private constructor(
    parts: {
      eventClock: RunningClock;
      mappingClock: ManualClock;
      correlatorCounters: CorrelatorCounters;
      collector: Collector | undefined;
      mapping: StreamEventSourceMapping;
      exporterMapping: StreamEventSourceMapping;
      tickers: EventTimeTicker[];
      tickerTime: { ms: number };
      exporter: EventTimeExporter;
      streams: DynamoDBStreamsClient;
      exports: ExportReport[];
      failures: JsonLinesFailureDestination;
      exporterFailures: JsonLinesFailureDestination;
      putCounter: PutCounter;
    },
    options: EventTimePipelineOptions,
  ) {
    this.#putCounter = parts.putCounter;
    this.eventClock = parts.eventClock;
    this.mappingClock = parts.mappingClock;
    this.correlatorCounters = parts.correlatorCounters;
    this.collector = parts.collector;
    this.mapping = parts.mapping;
    this.exporterMapping = parts.exporterMapping;
    this.#tickers = parts.tickers;
    this.#tickerTime = parts.tickerTime;
    this.#exporter = parts.exporter;
    this.#streams = parts.streams;
    this.exports = parts.exports;
    this.failures = parts.failures;
    this.exporterFailures = parts.exporterFailures;
    this.#windowMs = Math.max(1000, options.topology.mapping.settings.maximumBatchingWindowSeconds * 1000);
    this.#correlatorEnv = Object.fromEntries(
      Object.entries(options.topology.correlator.environment).map(([name, value]) => [name, String(value)]),
    );
    const interval = this.#commitIntervalMs;
    this.#nextRoundAt = Math.ceil(options.startMs / interval) * interval;
    this.#lastEventMs = options.startMs;
  }

  /**
   * Loads the bundled functions (environment from prepareLocalStack) and starts the collector and both
   * mappings (the exporter's in the background).
   */
  static async start(options: EventTimePipelineOptions): Promise<EventTimePipeline> {
    const functions = await loadEventTimeFunctions();
    const eventClock = new RunningClock(options.startMs);
    const tickerTime = { ms: options.startMs };
    const tickers = options.topology.tickers.map((_, index) =>
      functions.createEventTimeTicker({
        clock: () => tickerTime.ms,
        env: tickerOwnEnvironment(options.topology, index),
      }),
    );
    const exporter = functions.createEventTimeExporter({
      clock: () => eventClock.now(),
      ...(options.exporterEnv ? { env: options.exporterEnv } : {}),
      ...(options.exporterMetrics ? { metrics: options.exporterMetrics } : {}),
    });
    const exportReports: ExportReport[] = [];
    const exporterFailures = new JsonLinesFailureDestination({
      directory: options.workDir,
      fileName: 'exporter-on-failure.jsonl',
    });
    const streams = createDynamoDbStreamsClient();
    const exporterEsm = exporterMapping({
      topology: options.topology,
      streams,
      tableStreamArn: options.tableStreamArn,
      handler: async (event) => {
        const report = await exporter.handler(event as DynamoDBStreamEvent);
        exportReports.push(report);
        return report;
      },
      destination: exporterFailures,
      checkpoints: new MemoryCheckpointStore(),
      clock: new AcceleratedClock(EXPORTER_TIME_FACTOR),
      // An idle shard is polled every 100 ms of real time, not every 20 ms (Lambda's 1 s, accelerated):
      // DynamoDB Local serves every pipeline of a test run, and idle polling would take its CPU.
      pollIntervalMs: EXPORTER_IDLE_POLL_REAL_MS * EXPORTER_TIME_FACTOR,
    });
    exporterEsm.start();
    const correlatorCounters = new CorrelatorCounters();
    let handler = functions.createEventTimeCorrelator({
      now: () => eventClock.now(),
      ...(options.correlator?.wrapStore ? { wrapStore: options.correlator.wrapStore } : {}),
      ...(options.correlator?.metrics ? { metrics: options.correlator.metrics } : {}),
    }) as LambdaHandler;
    if (options.correlator?.wrapHandler) handler = options.correlator.wrapHandler(handler);
    const failures = new JsonLinesFailureDestination({ directory: options.workDir });
    const mappingClock = new ManualClock(Date.now());
    const mapping = correlatorMapping({
      topology: options.topology,
      kinesis: options.kinesis,
      streamArn: options.streamArn,
      handler: countingCorrelator(handler, correlatorCounters),
      destination: failures,
      checkpoints: new MemoryCheckpointStore(),
      clock: mappingClock,
      ...(options.wrapReader ? { wrapReader: options.wrapReader } : {}),
    });
    const putCounter = new PutCounter();
    const collectorOptions = options.collector === false ? undefined : (options.collector ?? {});
    const collector = collectorOptions
      ? await startLocalCollector(
          {
            streamName: options.topology.stream.name,
            kinesis: options.kinesis,
            listen: collectorOptions.listen ?? [],
            spoolDir: join(options.workDir, 'spool'),
            now: () => eventClock.now(),
            logLevel: 'warn',
            flowBuckets: collectorFlowBucketsOf(options.topology),
            ...(collectorOptions.kubernetes ? { kubernetes: collectorOptions.kubernetes } : {}),
            wrapSink: (sink) => {
              const counted = putCounter.wrap(sink);
              return collectorOptions.wrapSink ? collectorOptions.wrapSink(counted) : counted;
            },
          },
          {},
        )
      : undefined;
    return new EventTimePipeline(
      {
        eventClock,
        mappingClock,
        correlatorCounters,
        collector,
        mapping,
        exporterMapping: exporterEsm,
        tickers,
        tickerTime,
        exporter,
        streams,
        exports: exportReports,
        failures,
        exporterFailures,
        putCounter,
      },
      options,
    );
  }

  /**
   * One IPFIX message received at `atMs` from an exporter, through the collector's ingest path (decode,
   * normalise, pack, spool, Kinesis) as if its listener had read it. Rounds that fall due first are run.
   */
  async ingestMessage(
    bytes: Uint8Array,
    exporter: { sessionId: string; address: string; transport: 'udp' | 'tcp' },
    atMs: number,
  ): Promise<void> {
    if (!this.collector) throw new Error('this pipeline has no in-process collector');
    await this.advanceTo(atMs);
    // The collector has no public per-message entry: its listeners call the ingest pipeline directly.
    const ingest = (this.collector as unknown as { ingest: IngestPipeline }).ingest;
    let session = this.#sessions.get(exporter.sessionId);
    if (!session) {
      session = ingest.openSession(exporter.transport, exporter.address, 0, `replay:${exporter.sessionId}`);
      this.#sessions.set(exporter.sessionId, session);
    }
    this.eventClock.holding(atMs, () => ingest.handleMessage(bytes, session));
  }

  /** Runs the ticker rounds due up to `eventMs` (after settling what came before), then sets time to it. */
  async advanceTo(eventMs: number): Promise<void> {
    if (this.#nextRoundAt <= eventMs) {
      await this.settle();
      while (this.#nextRoundAt <= eventMs) {
        await this.round(this.#nextRoundAt);
        this.#nextRoundAt += this.#commitIntervalMs;
      }
    }
    this.eventClock.set(eventMs);
    this.#lastEventMs = Math.max(this.#lastEventMs, eventMs);
  }

  /**
   * Until everything received so far is in Kinesis and through the correlator: the collector delivers its
   * open batches, the mapping drains, and its clock moves past batching windows and retry backoffs.
   */
  async settle(options: { kinesisRecords?: number; timeoutMs?: number } = {}): Promise<void> {
    if (this.collector) await this.collector.whenDelivered();
    // Kinesis records written so far: the mapping must have finished (processed or discarded) all of them.
    // Counting matters: a GetRecords call may come back empty although the stream holds newer records.
    const expected = options.kinesisRecords ?? this.#putCounter.records;
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    for (;;) {
      await this.mapping.drain();
      // Settled: every record finished and nothing waits in a batching window. A read that failed or came
      // back empty too early leaves the count short, and the loop goes on.
      const caughtUp = this.mapping.snapshot().recordsCompleted >= expected;
      if (caughtUp && this.mapping.bufferedRecords() === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the event source mapping did not settle: ${this.mapping.snapshot().recordsCompleted} of ${expected} Kinesis records processed`,
        );
      }
      if (this.mapping.bufferedRecords() > 0) this.mappingClock.advance(this.#windowMs);
      else await new Promise((resolve) => setTimeout(resolve, 10)); // the stream has not shown them yet
    }
  }

  get #commitIntervalMs(): number {
    return (this.#tickers[0] as EventTimeTicker).commitIntervalMs;
  }

  /** One round of every ticker at event time `atMs`, run at once (each reports its own). */
  async round(atMs: number): Promise<TickReport[]> {
    this.#tickerTime.ms = atMs;
    const reports = await Promise.all(this.#tickers.map((ticker) => ticker.round()));
    this.rounds.push(...reports);
    return reports;
  }

  /**
   * One scheduled invocation of every ticker, starting at event time `atMs`, as on Lambda: rounds every
   * commit interval until RUN_FOR_SECONDS or an early end at rest. Its sleeps pass in event time without
   * input in between (for the quiet spells after a burst). `busyMs` is what Lambda would bill, summed over
   * the tickers: the event time each slept plus the real time its rounds took. The tickers run one after
   * the other, each from `atMs`.
   */
  async invokeTickers(atMs: number): Promise<{ reports: TickReport[]; busyMs: number; sleptMs: number }> {
    await this.settle();
    const start = Math.max(this.#tickerTime.ms, atMs);
    const result = { reports: [] as TickReport[], busyMs: 0, sleptMs: 0 };
    let end = start;
    // The tickers read this.#tickerTime (createEventTimeTicker's clock): each invocation rewinds it.
    const time = this.#tickerTime;
    for (const ticker of this.#tickers) {
      time.ms = start;
      const started = performance.now();
      const reports = await ticker.invoke({
        clock: () => time.ms,
        sleep: async (ms) => {
          result.sleptMs += ms;
          result.busyMs += ms;
          time.ms += ms;
        },
      });
      result.busyMs += performance.now() - started;
      result.reports.push(...reports);
      end = Math.max(end, time.ms);
    }
    this.#tickerTime.ms = end;
    this.rounds.push(...result.reports);
    this.eventClock.set(end);
    return result;
  }

  /**
   * Until the exporter has caught up with the flow table's stream: every write made before the call is
   * inserted (or, without closed rows, filtered out). The exporter retries a failing insert (ClickHouse
   * down) until it succeeds; this waits at most `timeoutMs` of real time for that, then throws.
   */
  async exported(timeoutMs = EXPORTED_TIMEOUT_MS): Promise<void> {
    const mark = this.exporterMapping.readMark();
    const deadline = Date.now() + timeoutMs;
    while (!this.exporterMapping.caughtUpSince(mark)) {
      if (Date.now() > deadline) {
        const esm = this.exporterMapping.snapshot();
        throw new Error(
          `the exporter did not catch up with the flow table's stream in ${timeoutMs} ms: ` +
            `${esm.functionErrors} failed invocations, ${esm.recordsCompleted} of ${esm.recordsRead} records done`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * End of input: every pending flow expires and is exported. Time moves past the longest wait of the
   * schedule (inactive timeout plus the lazy index slack, or a half's wait for its peer) after the last
   * input, round by round; then
   * the exporter catches up, so ClickHouse holds every row.
   */
  async finish(): Promise<void> {
    await this.settle();
    // The correlator's own settings (the lazy index slack is its variable), over the process's.
    const schedule = scheduleFromEnv({ ...process.env, ...this.#correlatorEnv });
    const horizon =
      this.#lastEventMs +
      Math.max(schedule.inactiveMs + schedule.indexSlackMs, schedule.incompleteAfterMs, schedule.activeMs) +
      2 * this.#commitIntervalMs;
    await this.advanceTo(horizon);
    // A round that failed (DynamoDB refused it) left flows due: keep going a little, as the live loop would.
    const lastRoundFailed = () => this.rounds.slice(-this.#tickers.length).some((report) => !report.ok);
    for (let extra = 0; extra < 8 && lastRoundFailed(); extra++) {
      await this.advanceTo(this.#nextRoundAt);
    }
    await this.exported();
  }

  get lastEventMs(): number {
    return this.#lastEventMs;
  }

  get tickerTimeMs(): number {
    return this.#tickerTime.ms;
  }

  async stop(): Promise<void> {
    await this.collector?.drain();
    await this.mapping.stop();
    await this.exporterMapping.stop();
    await this.#exporter.close();
    this.#streams.destroy();
  }
}
