// Sends queued Kinesis records with PutRecords, within the service limits (500 records and 5 MiB of data +
// partition keys per request; the packer keeps each record far below 1 MiB), at most `concurrency` requests
// at a time. Failed entries of a partial failure and every entry of a failed request go back to the queue
// (ahead of newer records) and are retried after an exponential backoff with full jitter
// (delay = random(0, min(cap, base * 2^attempt)), AWS Architecture Blog "Exponential Backoff and Jitter"),
// so a throttled or unreachable stream slows the producer down instead of hammering it. Nothing is dropped:
// records stay in the spool until Kinesis acknowledged them. Order: at most one request in flight per lane
// (partition key / explicit hash key, i.e. per flow's lane of a shard) and retries before newer records,
// so a flow's records reach its shard in order unless a request partly fails. The correlator does not
// depend on it (docs/exactly-once.md); it keeps late records rare and rows prompt.
import type { DeliveryQueue, QueuedRecord } from './delivery-queue.ts';
import type { Logger, LogThrottle } from './log.ts';
import type { CollectorMetrics } from './metrics.ts';
import { putPayloadUnits, type ShardRange } from './shard-map.ts';
import type { SpoolEntry } from './spool.ts';

export interface PutEntry {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey?: string;
}

export type PutResult =
  | { ok: true; shardId?: string }
  | { ok: false; errorCode: string; errorMessage?: string };

/** Where the producer sends: Kinesis (kinesis-sink.ts) or, in the benchmark, an in-process sink. */
export interface KinesisSink {
  /** One result per entry, in order. Throws when the whole request failed. */
  putRecords(entries: PutEntry[]): Promise<PutResult[]>;
  /** The stream's open shards. */
  listShards(): Promise<ShardRange[]>;
}

export const PUT_RECORDS_MAX_RECORDS = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

const THROTTLING_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'LimitExceededException',
  'KMSThrottlingException',
]);

export interface ProducerOptions {
  concurrency: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  maxRecordsPerRequest?: number;
  maxRequestBytes?: number;
  random?: () => number;
  now?: () => number;
  /** The shard an explicit hash key maps to in the current shard map (to notice resharding). */
  expectedShardId?: (explicitHashKey: string) => string | undefined;
  /** Kinesis put a record into another shard than expected: the shard map is stale. */
  onShardMapStale?: () => void;
}

export class KinesisProducer {
  private inFlight = 0;
  /** Lanes with a request in flight, with the number of their records in it. */
  private readonly busyLanes = new Map<string, number>();
  private attempt = 0;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly sink: KinesisSink,
    private readonly metrics: CollectorMetrics,
    private readonly logger: Logger,
    private readonly logThrottle: LogThrottle,
    private readonly options: ProducerOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Starts requests while there is work, capacity and no backoff pause. */
  kick(): void {
    if (this.stopped) return;
    const now = this.now();
    if (now < this.pausedUntil) {
      this.scheduleResume(this.pausedUntil - now);
      return;
    }
    while (this.inFlight < this.options.concurrency && this.queue.sendable > 0) {
      const records = this.queue.take(
        this.options.maxRecordsPerRequest ?? PUT_RECORDS_MAX_RECORDS,
        this.options.maxRequestBytes ?? PUT_RECORDS_MAX_BYTES,
        (entry) => this.busyLanes.has(laneOf(entry)),
      );
      if (records.length === 0) break;
      for (const record of records) {
        const lane = laneOf(record.entry);
        this.busyLanes.set(lane, (this.busyLanes.get(lane) ?? 0) + 1);
      }
      this.inFlight++;
      void this.send(records);
    }
  }

  /** Resolves when every queued record has been acknowledged. */
  whenIdle(): Promise<void> {
    if (this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops starting requests and waits for the ones in flight (their failures stay in the spool). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleResume(delayMs: number): void {
    if (this.resumeTimer) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.kick();
    }, delayMs);
  }

  private backOff(): void {
    const ceiling = Math.min(this.options.backoffCapMs, this.options.backoffBaseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + this.random() * ceiling);
  }

  private async send(records: QueuedRecord[]): Promise<void> {
    const started = performance.now();
    const entries: PutEntry[] = records.map((r) => ({
      data: r.data!,
      partitionKey: r.entry.partitionKey,
      ...(r.entry.explicitHashKey ? { explicitHashKey: r.entry.explicitHashKey } : {}),
    }));
    let results: PutResult[] | undefined;
    let requestError: unknown;
    try {
      results = await this.sink.putRecords(entries);
      if (results.length !== records.length)
        throw new Error(`PutRecords returned ${results.length} results for ${records.length} records`);
    } catch (error) {
      results = undefined;
      requestError = error;
    }
    const seconds = (performance.now() - started) / 1000;
    this.inFlight--;
    for (const record of records) {
      const lane = laneOf(record.entry);
      const left = (this.busyLanes.get(lane) ?? 1) - 1;
      if (left > 0) this.busyLanes.set(lane, left);
      else this.busyLanes.delete(lane);
    }
    if (!results) {
      const name = errorName(requestError);
      this.metrics.putLatency.labels('error').observe(seconds);
      this.metrics.putRequests.labels('error').inc();
      if (THROTTLING_CODES.has(name)) this.metrics.throttles.inc();
      this.metrics.retries.labels(name).inc(records.length);
      if (this.logThrottle.allow(`put:${name}`))
        this.logger.warn('PutRecords failed; records stay in the spool and are retried', {
          error: name,
          detail: (requestError as Error)?.message,
          records: records.length,
        });
      this.queue.release(records);
      this.backOff();
    } else {
      const failed: QueuedRecord[] = [];
      let throttled = 0;
      let stale = false;
      for (let i = 0; i < records.length; i++) {
        const result = results[i]!;
        const record = records[i]!;
        if (result.ok) {
          const bytes = record.entry.dataLength + Buffer.byteLength(record.entry.partitionKey);
          this.metrics.delivered.inc();
          this.metrics.deliveredFlowRecords.inc(record.entry.recordCount);
          this.metrics.deliveredBytes.inc(bytes);
          this.metrics.putPayloadUnits.inc(putPayloadUnits(bytes));
          if (record.entry.explicitHashKey && result.shardId && this.options.expectedShardId) {
            const expected = this.options.expectedShardId(record.entry.explicitHashKey);
            if (expected !== undefined && expected !== result.shardId) stale = true;
          }
          this.queue.ack(record);
        } else {
          failed.push(record);
          if (THROTTLING_CODES.has(result.errorCode)) throttled++;
          this.metrics.retries.labels(result.errorCode).inc();
        }
      }
      const outcome = failed.length === 0 ? 'ok' : 'partial';
      this.metrics.putLatency.labels(outcome).observe(seconds);
      this.metrics.putRequests.labels(outcome).inc();
      if (throttled > 0) this.metrics.throttles.inc(throttled);
      if (stale) this.options.onShardMapStale?.();
      if (failed.length > 0) {
        this.queue.release(failed);
        this.backOff();
      } else {
        this.attempt = 0;
      }
    }
    if (this.queue.size === 0 || (this.stopped && this.inFlight === 0)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    this.kick();
  }
}

/** A record's lane: its explicit hash key (a point inside one shard), else its partition key. */
function laneOf(entry: SpoolEntry): string {
  return entry.explicitHashKey ?? entry.partitionKey;
}

function errorName(error: unknown): string {
  if (error && typeof error === 'object') {
    const named = error as { name?: string; code?: string };
    if (named.name && named.name !== 'Error') return named.name;
    if (named.code) return named.code;
  }
  return 'Error';
}
