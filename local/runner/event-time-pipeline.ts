// The whole pipeline on event time: collector -> Kinesis -> event source mapping -> correlator -> DynamoDB ->
// flusher -> ClickHouse, where time is what the input says it is, not the wall clock. Used by
// `flowline local --replay` and the end-to-end suite, so a capture or a simulated hour runs in seconds.
//
// Clocks:
//   event time    RunningClock: set to each message's (or poll's) time, it runs on in real time in between,
//                 so the collector's retries and linger timers still make progress. The collector stamps
//                 records with it (FlowRecord.receivedAtMs: the correlator's "now" of a record), and it is
//                 the correlator's invocation clock.
//   mapping       ManualClock: batching windows and retry backoff pass instantly (settle() advances it).
//   flusher       one fixed time per round: rounds run at every commit interval of event time; with N
//                 flushers (the template's flusherCount) all N run each round, at once.
// Order is kept as a live run would see it: before time moves past a round, everything received earlier has
// gone through Kinesis and the correlator (settle), so a round at time T exports exactly the records that
// arrived before T.
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Collector } from '../../collector-edge/collector.ts';
import type { ListenSpec } from '../../collector-edge/config.ts';
import type { IngestPipeline, IngestSession } from '../../collector-edge/ingest.ts';
import type { KinesisSink } from '../../collector-edge/producer.ts';
import type { FlowStore } from '../../core/flow-state/ports.ts';
import type { RoundReport } from '../../functions/flusher/flusher.ts';
import { MemoryCheckpointStore } from '../esm/checkpoint-store.ts';
import { ManualClock } from '../esm/clock.ts';
import type { StreamEventSourceMapping } from '../esm/emulator.ts';
import { JsonLinesFailureDestination } from '../esm/failure-destination.ts';
import type { LambdaHandler } from '../esm/invoker.ts';
import type { StreamReader } from '../esm/stream-reader.ts';
import {
  CorrelatorCounters,
  correlatorMapping,
  countingCorrelator,
  type LocalKubernetesOptions,
  startLocalCollector,
} from './components.ts';
import type { EventTimeFlusher, MetricSink } from './event-time-functions.ts';
import { loadEventTimeFunctions } from './functions.ts';
import { flusherOwnEnvironment, type LocalTopology } from './template.ts';

/** Event time that holds the value it was last set to and runs on in real time from there. */
export class RunningClock {
  #base: number;
  #setAt = performance.now();

  constructor(startMs: number) {
    this.#base = startMs;
  }

  now(): number {
    return Math.floor(this.#base + (performance.now() - this.#setAt));
  }

  /** Moves time forward to `ms` (never backwards: records out of order keep time monotonic). */
  set(ms: number): void {
    if (ms <= this.now()) return;
    this.#base = ms;
    this.#setAt = performance.now();
  }
}

export interface EventTimePipelineOptions {
  topology: LocalTopology;
  streamArn: string;
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
  /** Variables over the functions' environment for the flushers only. */
  flusherEnv?: Record<string, string>;
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
  };
}

export class EventTimePipeline {
  readonly eventClock: RunningClock;
  readonly mappingClock: ManualClock;
  readonly correlatorCounters: CorrelatorCounters;
  readonly rounds: RoundReport[] = [];
  readonly failures: JsonLinesFailureDestination;
  readonly collector: Collector | undefined;
  readonly mapping: StreamEventSourceMapping;
  /** One per flusher function of the template, in FLUSHER_INDEX order. */
  readonly #flushers: EventTimeFlusher[];
  /** The flushers' clock reads this: one fixed time per round. */
  readonly #flusherTime: { ms: number };
  readonly #windowMs: number;
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
      flushers: EventTimeFlusher[];
      flusherTime: { ms: number };
      failures: JsonLinesFailureDestination;
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
    this.#flushers = parts.flushers;
    this.#flusherTime = parts.flusherTime;
    this.failures = parts.failures;
    this.#windowMs = Math.max(1000, options.topology.mapping.settings.maximumBatchingWindowSeconds * 1000);
    const interval = this.#commitIntervalMs;
    this.#nextRoundAt = Math.ceil(options.startMs / interval) * interval;
    this.#lastEventMs = options.startMs;
  }

  /** Loads the bundled functions (environment from prepareLocalStack) and starts collector and mapping. */
  static async start(options: EventTimePipelineOptions): Promise<EventTimePipeline> {
    const functions = await loadEventTimeFunctions();
    const eventClock = new RunningClock(options.startMs);
    const flusherTime = { ms: options.startMs };
    const flushers = await Promise.all(
      options.topology.flushers.map((_, index) =>
        functions.createEventTimeFlusher({
          clock: () => flusherTime.ms,
          env: { ...options.flusherEnv, ...flusherOwnEnvironment(options.topology, index) },
        }),
      ),
    );
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
        flushers,
        flusherTime,
        failures,
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
    ingest.handleMessage(bytes, session);
  }

  /** Runs the flusher rounds due up to `eventMs` (after settling what came before), then sets time to it. */
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
    return (this.#flushers[0] as EventTimeFlusher).commitIntervalMs;
  }

  /** One round of every flusher at event time `atMs`, run at once (each reports its own). */
  async round(atMs: number): Promise<RoundReport[]> {
    this.#flusherTime.ms = atMs;
    const reports = await Promise.all(this.#flushers.map((flusher) => flusher.round()));
    this.rounds.push(...reports);
    return reports;
  }

  /**
   * One scheduled invocation of every flusher, starting at event time `atMs`, as on Lambda: rounds every
   * commit interval until RUN_FOR_SECONDS or an early end at rest. Its sleeps pass in event time without
   * input in between (for the quiet spells after a burst). `busyMs` is what Lambda would bill, summed over
   * the flushers: the event time each slept plus the real time its rounds took. The flushers run one after
   * the other, each from `atMs`.
   */
  async invokeFlusher(atMs: number): Promise<{ reports: RoundReport[]; busyMs: number; sleptMs: number }> {
    await this.settle();
    const start = Math.max(this.#flusherTime.ms, atMs);
    const result = { reports: [] as RoundReport[], busyMs: 0, sleptMs: 0 };
    let end = start;
    // The flushers read this.#flusherTime (createEventTimeFlusher's clock): each invocation rewinds it.
    const time = this.#flusherTime;
    for (const flusher of this.#flushers) {
      time.ms = start;
      const started = performance.now();
      const reports = await flusher.invoke({
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
    this.#flusherTime.ms = end;
    this.rounds.push(...result.reports);
    this.eventClock.set(end);
    return result;
  }

  /**
   * End of input: every pending flow expires and is exported. Time moves past the longest wait of the
   * schedule (inactive timeout, or a half's wait for its peer) after the last input, round by round.
   */
  async finish(): Promise<void> {
    await this.settle();
    const schedule = scheduleFromEnv(process.env);
    const horizon =
      this.#lastEventMs +
      Math.max(schedule.inactiveMs, schedule.incompleteAfterMs, schedule.activeMs) +
      2 * this.#commitIntervalMs;
    await this.advanceTo(horizon);
    // A round that failed (ClickHouse unreachable) left flows due: keep going a little, as the live loop would.
    const lastRoundFailed = () => this.rounds.slice(-this.#flushers.length).some((report) => !report.ok);
    for (let extra = 0; extra < 8 && lastRoundFailed(); extra++) {
      await this.advanceTo(this.#nextRoundAt);
    }
  }

  get lastEventMs(): number {
    return this.#lastEventMs;
  }

  get flusherTimeMs(): number {
    return this.#flusherTime.ms;
  }

  async stop(): Promise<void> {
    await this.collector?.drain();
    await this.mapping.stop();
    for (const flusher of this.#flushers) await flusher.close();
  }
}
