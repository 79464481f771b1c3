// A stream event source mapping run locally, for a Kinesis stream or a DynamoDB stream (the reader's ARN says
// which, as the EventSourceArn tells Lambda): discovers shards (parents before children), runs one ShardWorker
// per shard, and either loops in the background like Lambda's poller or advances in explicit steps.
import { defaultRetryDelayMs, type EsmLogEvent } from './batch-processor.ts';
import { type CheckpointStore, MemoryCheckpointStore } from './checkpoint-store.ts';
import { type Clock, systemClock } from './clock.ts';
import type { FailureDestination } from './failure-destination.ts';
import type { FunctionInvoker } from './invoker.ts';
import { EsmMetrics, type EsmMetricsSnapshot } from './metrics.ts';
import type { StreamMappingSettings } from './settings.ts';
import { regionFromArn } from './shard-record.ts';
import { ShardWorker } from './shard-worker.ts';
import { eventFormatOf } from './stream-event.ts';
import type { IteratorPosition, StreamReader } from './stream-reader.ts';

export interface EventSourceMappingOptions {
  readonly reader: StreamReader;
  readonly invoker: FunctionInvoker;
  readonly settings: StreamMappingSettings;
  /** The function's execution role ARN (a Kinesis event's invokeIdentityArn). */
  readonly invokeIdentityArn: string;
  readonly destination?: FailureDestination;
  readonly checkpoints?: CheckpointStore;
  readonly clock?: Clock;
  /** Idle wait between polls of a shard that had nothing to do (Lambda polls each shard once a second). */
  readonly pollIntervalMs?: number;
  /** How often the shard list is re-read to pick up resharding. */
  readonly shardRefreshMs?: number;
  readonly retryDelayMs?: (retry: number) => number;
  readonly log?: (event: EsmLogEvent) => void;
}

export class StreamEventSourceMapping {
  readonly metrics = new EsmMetrics();
  readonly #options: EventSourceMappingOptions;
  readonly #clock: Clock;
  readonly #checkpoints: CheckpointStore;
  readonly #workers = new Map<string, ShardWorker>();
  readonly #finishedShards = new Set<string>();
  #lastRefreshMs = Number.NEGATIVE_INFINITY;
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #running = false;

  constructor(options: EventSourceMappingOptions) {
    const format = eventFormatOf(options.reader.streamArn);
    if (!format.startingPositions.includes(options.settings.startingPosition)) {
      throw new Error(
        `StartingPosition ${options.settings.startingPosition} is not supported for ${format.eventSource} ` +
          `(${format.startingPositions.join(', ')})`,
      );
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
  }

  get shardIds(): string[] {
    return [...this.#workers.keys()];
  }

  /** Sequence number up to which each shard is finished. */
  checkpoints(): Record<string, string | undefined> {
    return Object.fromEntries([...this.#workers].map(([id, worker]) => [id, worker.checkpoint]));
  }

  snapshot(): EsmMetricsSnapshot {
    return this.metrics.snapshot();
  }

  /**
   * One deterministic round: refresh shards if due, then for every shard read and run the ready batches to
   * completion. Returns whether anything was read or invoked.
   */
  async step(): Promise<boolean> {
    await this.#refreshShardsIfDue();
    const progress = await Promise.all([...this.#workers.values()].map((worker) => worker.step()));
    await this.#collectFinished();
    return progress.some(Boolean);
  }

  /**
   * Steps until a round neither reads nor invokes anything. Records still inside their batching window stay
   * buffered: advance the clock and drain again to release them.
   */
  async drain(maxRounds = 10_000): Promise<void> {
    for (let round = 0; round < maxRounds; round += 1) {
      if (!(await this.step())) return;
    }
    throw new Error(`event source mapping did not drain within ${maxRounds} rounds`);
  }

  /** Reads started so far, per shard: the mark caughtUpSince compares against. */
  readMark(): ReadonlyMap<string, number> {
    return new Map([...this.#workers].map(([id, worker]) => [id, worker.readsStarted]));
  }

  /**
   * Whether every shard has read past what it held at `mark` and finished all of it (processed, discarded
   * or filtered out): everything written to the source before the mark was taken is done. A mapping that
   * has not discovered its shards yet is not caught up.
   */
  caughtUpSince(mark: ReadonlyMap<string, number>): boolean {
    if (this.#workers.size === 0) return false;
    return [...this.#workers].every(([id, worker]) => worker.caughtUpSince(mark.get(id) ?? 0));
  }

  /** Records read and waiting for their batch (batching window, or a lane busy with a batch). */
  bufferedRecords(): number {
    return [...this.#workers.values()].reduce((sum, worker) => sum + worker.bufferedRecords, 0);
  }

  /** Polls in the background until stop(): one loop per shard plus shard discovery. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#loops = [this.#discoveryLoop()];
  }

  /** Stops polling, lets batches in flight finish their current invocation, and waits for every loop. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort();
    while (this.#loops.length > 0) {
      const loops = this.#loops;
      this.#loops = [];
      await Promise.all(loops);
    }
    await Promise.all([...this.#workers.values()].flatMap((worker) => worker.running));
  }

  async #discoveryLoop(): Promise<void> {
    const signal = this.#abort.signal;
    const refreshMs = this.#options.shardRefreshMs ?? 10_000;
    while (!signal.aborted) {
      const added = await this.#refreshShardsIfDue().catch((error: unknown) => {
        this.metrics.add('pollErrors');
        this.#options.log?.({
          type: 'poll-error',
          shardId: '*',
          errorType: 'DescribeStream',
          errorMessage: String(error),
        });
        return [];
      });
      for (const worker of added) this.#loops.push(this.#shardLoop(worker, signal));
      await this.#clock.sleep(Math.min(refreshMs, this.#options.pollIntervalMs ?? 1000), signal);
    }
  }

  async #shardLoop(worker: ShardWorker, signal: AbortSignal): Promise<void> {
    const idleMs = this.#options.pollIntervalMs ?? 1000;
    while (!signal.aborted && !worker.finished) {
      const progress = await worker.poll();
      if (!progress) await this.#clock.sleep(idleMs, signal);
    }
    await Promise.all(worker.running);
    if (worker.finished) {
      await this.#collectFinished();
      this.#lastRefreshMs = Number.NEGATIVE_INFINITY; // children of a closed shard may start now
    }
  }

  async #collectFinished(): Promise<void> {
    for (const [shardId, worker] of this.#workers) {
      if (worker.finished && !this.#finishedShards.has(shardId)) {
        this.#finishedShards.add(shardId);
        this.#lastRefreshMs = Number.NEGATIVE_INFINITY;
      }
    }
  }

  /** Adds workers for new shards whose parents are finished (or no longer listed). */
  async #refreshShardsIfDue(): Promise<ShardWorker[]> {
    const now = this.#clock.now();
    if (now - this.#lastRefreshMs < (this.#options.shardRefreshMs ?? 10_000)) return [];
    const { readable, shards } = await this.#options.reader.describe();
    if (!readable) return []; // not ready yet: retry at the next poll
    this.#lastRefreshMs = now;
    const listed = new Set(shards.map((shard) => shard.shardId));
    const added: ShardWorker[] = [];
    for (const shard of shards) {
      if (this.#workers.has(shard.shardId)) continue;
      const waiting = shard.parentShardIds.some(
        (parent) => listed.has(parent) && !this.#finishedShards.has(parent),
      );
      if (waiting) continue;
      const isChild = shard.parentShardIds.some((parent) => this.#workers.has(parent));
      const worker = this.#newWorker(
        shard.shardId,
        isChild ? { type: 'TRIM_HORIZON' } : this.#initialPosition(),
      );
      this.#workers.set(shard.shardId, worker);
      added.push(worker);
    }
    return added;
  }

  #initialPosition(): IteratorPosition {
    const { startingPosition, startingPositionTimestamp } = this.#options.settings;
    if (startingPosition === 'AT_TIMESTAMP') {
      return { type: 'AT_TIMESTAMP', timestampSeconds: startingPositionTimestamp ?? 0 };
    }
    return { type: startingPosition };
  }

  #newWorker(shardId: string, initialPosition: IteratorPosition): ShardWorker {
    const { reader, invoker, settings } = this.#options;
    return new ShardWorker({
      shardId,
      reader,
      checkpoints: this.#checkpoints,
      initialPosition,
      processor: {
        settings,
        invoker,
        source: {
          streamArn: reader.streamArn,
          awsRegion: regionFromArn(reader.streamArn),
          invokeIdentityArn: this.#options.invokeIdentityArn,
        },
        destination: this.#options.destination,
        clock: this.#clock,
        metrics: this.metrics,
        retryDelayMs: this.#options.retryDelayMs ?? defaultRetryDelayMs,
        log: this.#options.log ?? (() => {}),
        signal: this.#abort.signal,
      },
    });
  }
}
