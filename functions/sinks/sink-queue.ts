// The out-of-band queue between the flusher and one extra sink (IPFIX/JSON export, S3 archive).
//
// offer() never waits and never throws: the flusher hands over each exported batch and goes on with
// ClickHouse. A worker delivers batches in order, one at a time; a failed delivery is retried (the same
// batch, exponential backoff with full jitter) until it succeeds, so a sink that is down holds its queue
// and catches up when it is back. The queue is bounded in rows: when a batch would exceed the bound, the
// oldest queued batches are dropped, counted and logged (dropped rows have an alarm). Pure of AWS.

import type { ExportedBatch } from './exported-row.ts';

export interface BatchSink {
  /** For logs and metric dimensions, e.g. "IPFIX tcp://collector:4739" or "s3://bucket/prefix". */
  readonly name: string;
  /** Delivers the whole batch or throws; safe to call again with the same batch. */
  deliver(batch: ExportedBatch): Promise<void>;
}

export interface SinkQueueOptions {
  /** Most rows held for this sink; older batches are dropped (counted) beyond it. */
  maxQueuedRows: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  onDeliveryError?: (error: unknown, batch: ExportedBatch, attempt: number) => void;
  onDrop?: (batch: ExportedBatch) => void;
}

export interface SinkCounters {
  batchesSent: number;
  rowsSent: number;
  /** Failed delivery attempts that were (or will be) retried. */
  retries: number;
  batchesDropped: number;
  rowsDropped: number;
  queuedBatches: number;
  queuedRows: number;
}

export class SinkQueue {
  private readonly queue: ExportedBatch[] = [];
  private queuedRows = 0;
  private worker: Promise<void> | undefined;
  /** Set and cleared synchronously with the queue check, so an offer never finds a finishing worker. */
  private working = false;
  private readonly counters = {
    batchesSent: 0,
    rowsSent: 0,
    retries: 0,
    batchesDropped: 0,
    rowsDropped: 0,
  };

  constructor(
    readonly sink: BatchSink,
    private readonly options: SinkQueueOptions,
  ) {}

  offer(batch: ExportedBatch): void {
    if (batch.rows.length === 0) return;
    this.queue.push(batch);
    this.queuedRows += batch.rows.length;
    // Drop the oldest waiting batches (never the one being delivered, at index 0 while a worker runs).
    const firstDroppable = this.working ? 1 : 0;
    while (this.queuedRows > this.options.maxQueuedRows && this.queue.length > firstDroppable + 1) {
      const [dropped] = this.queue.splice(firstDroppable, 1);
      this.queuedRows -= dropped!.rows.length;
      this.counters.batchesDropped += 1;
      this.counters.rowsDropped += dropped!.rows.length;
      this.options.onDrop?.(dropped!);
    }
    if (!this.working) {
      this.working = true;
      this.worker = this.work();
    }
  }

  /** Waits until every queued batch is delivered, or until `deadline` (epoch ms by `now`) passes. */
  async drain(deadlineMs: number, now: () => number): Promise<boolean> {
    while (this.working && now() < deadlineMs) {
      const left = deadlineMs - now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.worker,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(left, 1000));
        }),
      ]);
      clearTimeout(timer);
    }
    return this.queue.length === 0;
  }

  stats(): SinkCounters {
    return { ...this.counters, queuedBatches: this.queue.length, queuedRows: this.queuedRows };
  }

  private async work(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue[0]!;
      try {
        await this.sink.deliver(batch);
      } catch (error) {
        failures += 1;
        this.counters.retries += 1;
        this.options.onDeliveryError?.(error, batch, failures);
        const cap = Math.min(this.options.backoffCapMs, this.options.backoffBaseMs * 2 ** (failures - 1));
        await this.options.sleep(Math.floor((this.options.random ?? Math.random)() * cap) + 1);
        continue;
      }
      failures = 0;
      this.queue.shift();
      this.queuedRows -= batch.rows.length;
      this.counters.batchesSent += 1;
      this.counters.rowsSent += batch.rows.length;
    }
    this.working = false;
  }
}
