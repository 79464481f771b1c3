// One shard of a mapping: reads ahead with GetRecords, drops the records its filters reject (finished at once,
// as Lambda's event filtering does), spreads the rest over ParallelizationFactor lanes by the hash of their
// ordering key (Kinesis partition key, DynamoDB item key: each key stays in order), forms batches by size,
// payload and batching window, runs them through the batch processor and advances the shard's checkpoint
// over the records that are finished.
import { createHash } from 'node:crypto';
import { type BatchProcessorDeps, processBatch } from './batch-processor.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { compileFilters, type RecordFilter } from './filter.ts';
import { describeError } from './invoker.ts';
import type { ShardRecord } from './shard-record.ts';
import { eventFormatOf, MAX_INVOKE_PAYLOAD_BYTES, type StreamEventFormat } from './stream-event.ts';
import type { IteratorPosition, StreamReader } from './stream-reader.ts';

/** Kinesis GetRecords returns at most 10,000 records per call (readers cap it lower where their API does). */
const GET_RECORDS_MAX = 10_000;

interface BufferedRecord {
  readonly record: ShardRecord;
  readonly bytes: number;
  readonly bufferedAtMs: number;
}

class Lane {
  readonly buffer: BufferedRecord[] = [];
  bytes = 0;
  /** The batch being processed; a lane runs one batch at a time, which keeps each partition key in order. */
  running: Promise<void> | undefined;
}

export interface ShardWorkerOptions {
  readonly shardId: string;
  readonly reader: StreamReader;
  readonly checkpoints: CheckpointStore;
  readonly processor: BatchProcessorDeps;
  /** Where to start when the shard has no checkpoint (child shards always start at TRIM_HORIZON). */
  readonly initialPosition: IteratorPosition;
}

export class ShardWorker {
  readonly shardId: string;
  readonly #options: ShardWorkerOptions;
  readonly #format: StreamEventFormat;
  readonly #lanes: Lane[];
  readonly #filter: RecordFilter | undefined;
  #iterator: string | undefined;
  #endOfShard = false;
  #lastReadSequenceNumber: string | undefined;
  /** Sequence numbers read and not yet covered by the checkpoint, ascending, with their finished flag. */
  #unfinished: { sequenceNumber: string; done: boolean }[] = [];
  #unfinishedHead = 0;
  #doneBySequence = new Map<string, { done: boolean }>();
  #checkpoint: string | undefined;
  /** GetRecords calls started, and the last of them that returned nothing (caughtUpSince). */
  #readsStarted = 0;
  #lastEmptyRead = 0;

  constructor(options: ShardWorkerOptions) {
    this.shardId = options.shardId;
    this.#options = options;
    this.#format = eventFormatOf(options.processor.source.streamArn);
    this.#lanes = Array.from({ length: options.processor.settings.parallelizationFactor }, () => new Lane());
    const patterns = options.processor.settings.filterPatterns;
    this.#filter = patterns ? compileFilters(patterns) : undefined;
  }

  /** The shard is closed, read to its end, and every record of it is finished. */
  get finished(): boolean {
    return this.#endOfShard && this.bufferedRecords === 0 && this.#unfinished.length === this.#unfinishedHead;
  }

  get bufferedRecords(): number {
    return this.#lanes.reduce((sum, lane) => sum + lane.buffer.length, 0);
  }

  get checkpoint(): string | undefined {
    return this.#checkpoint;
  }

  get readsStarted(): number {
    return this.#readsStarted;
  }

  /**
   * A read started after the `readsStarted` mark found nothing more, and every record read is finished:
   * whatever the shard held when the mark was taken has been processed, discarded or filtered out.
   */
  caughtUpSince(mark: number): boolean {
    if (this.finished) return true;
    return (
      this.#lastEmptyRead > mark &&
      this.bufferedRecords === 0 &&
      this.running.length === 0 &&
      this.#unfinished.length === this.#unfinishedHead
    );
  }

  /** Batches in flight across the lanes. */
  get running(): Promise<void>[] {
    return this.#lanes.flatMap((lane) => (lane.running ? [lane.running] : []));
  }

  /**
   * One poll: read if there is room, then start every idle lane whose batch is ready, without waiting for them
   * (a lane stuck in retries must not hold the others). Returns whether anything was read or started.
   */
  async poll(): Promise<boolean> {
    const read = await this.#read();
    let started = false;
    for (const lane of this.#lanes) {
      if (lane.running) continue;
      const batch = this.#takeBatch(lane);
      if (batch.length === 0) continue;
      started = true;
      lane.running = this.#runBatch(lane, batch).finally(() => {
        lane.running = undefined;
      });
    }
    return read > 0 || started;
  }

  /** A poll that also waits for every batch in flight: deterministic steps for tests and replay. */
  async step(): Promise<boolean> {
    const progress = await this.poll();
    const running = this.running;
    await Promise.all(running);
    return progress || running.length > 0;
  }

  async #read(): Promise<number> {
    const { settings, metrics, clock } = this.#options.processor;
    const readAhead = settings.batchSize * settings.parallelizationFactor * 2;
    const room = readAhead - this.bufferedRecords;
    if (this.#endOfShard || room <= 0) return 0;
    try {
      this.#iterator ??= await this.#startIterator();
      const readId = ++this.#readsStarted;
      const result = await this.#options.reader.read(
        this.shardId,
        this.#iterator,
        Math.min(GET_RECORDS_MAX, room),
      );
      metrics.add('getRecordsCalls');
      if (result.nextIterator) this.#iterator = result.nextIterator;
      else this.#endOfShard = true;
      if (result.records.length === 0) this.#lastEmptyRead = readId;
      const now = clock.now();
      let filteredOut = 0;
      for (const record of result.records) {
        if (this.#passesFilter(record)) this.#buffer(record, now);
        else {
          this.#finishUnread(record);
          filteredOut += 1;
        }
      }
      metrics.add('recordsRead', result.records.length);
      if (filteredOut > 0) {
        metrics.add('recordsFilteredOut', filteredOut);
        metrics.add('recordsCompleted', filteredOut);
        // A stretch of filtered records moves the checkpoint even when no batch follows it.
        await this.#advanceCheckpoint();
      }
      const last = result.records[result.records.length - 1];
      if (last) metrics.observeIteratorAge(now - last.approximateArrivalMs);
      else if (result.millisBehindLatest === 0) metrics.observeIteratorAge(0);
      return result.records.length;
    } catch (error) {
      metrics.add('pollErrors');
      const { errorType, errorMessage } = describeError(error);
      this.#options.processor.log({ type: 'poll-error', shardId: this.shardId, errorType, errorMessage });
      // An expired or invalid iterator is re-created after the last record read; other errors retry the same one.
      if (errorType === 'ExpiredIteratorException' || errorType === 'InvalidArgumentException')
        this.#iterator = undefined;
      return 0;
    }
  }

  async #startIterator(): Promise<string> {
    const after = this.#lastReadSequenceNumber ?? (await this.#loadCheckpoint());
    const position: IteratorPosition = after
      ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: after }
      : this.#options.initialPosition;
    return this.#options.reader.iterator(this.shardId, position);
  }

  async #loadCheckpoint(): Promise<string | undefined> {
    this.#checkpoint = await this.#options.checkpoints.load(this.shardId);
    return this.#checkpoint;
  }

  #passesFilter(record: ShardRecord): boolean {
    return !this.#filter || this.#filter(this.#format.toEventRecord(record, this.#options.processor.source));
  }

  /** A record the filters rejected: finished as it is read, in its place in the checkpoint order. */
  #finishUnread(record: ShardRecord): void {
    this.#unfinished.push({ sequenceNumber: record.sequenceNumber, done: true });
    this.#lastReadSequenceNumber = record.sequenceNumber;
  }

  #buffer(record: ShardRecord, now: number): void {
    const factor = this.#lanes.length;
    const lane = this.#lanes[factor === 1 ? 0 : laneOf(this.#format.orderingKey(record), factor)] as Lane;
    const bytes = this.#format.recordBytes(record, this.#options.processor.source);
    lane.buffer.push({ record, bytes, bufferedAtMs: now });
    lane.bytes += bytes;
    const entry = { sequenceNumber: record.sequenceNumber, done: false };
    this.#unfinished.push(entry);
    this.#doneBySequence.set(record.sequenceNumber, entry);
    this.#lastReadSequenceNumber = record.sequenceNumber;
  }

  async #runBatch(lane: Lane, batch: ShardRecord[]): Promise<void> {
    const settled = new Set<string>();
    try {
      await processBatch(batch, this.#options.processor, (done) => {
        for (const record of done) {
          settled.add(record.sequenceNumber);
          const entry = this.#doneBySequence.get(record.sequenceNumber);
          if (entry) entry.done = true;
        }
      });
    } catch (error) {
      const { errorType, errorMessage } = describeError(error);
      this.#options.processor.metrics.add('processingErrors');
      this.#options.processor.log({
        type: 'processing-error',
        shardId: this.shardId,
        errorType,
        errorMessage,
      });
    } finally {
      // Whatever did not finish (stopped, or a destination write failed) goes back to the front of the lane.
      const unfinished = batch.filter((record) => !settled.has(record.sequenceNumber));
      if (unfinished.length > 0) {
        const now = this.#options.processor.clock.now();
        const back = unfinished.map((record) => {
          const bytes = this.#format.recordBytes(record, this.#options.processor.source);
          return {
            record,
            bytes,
            bufferedAtMs: now - this.#options.processor.settings.maximumBatchingWindowSeconds * 1000,
          };
        });
        lane.buffer.unshift(...back);
        lane.bytes += back.reduce((sum, entry) => sum + entry.bytes, 0);
      }
      await this.#advanceCheckpoint().catch((error: unknown) => {
        this.#options.processor.metrics.add('processingErrors');
        this.#options.processor.log({
          type: 'processing-error',
          shardId: this.shardId,
          ...describeError(error),
        });
      });
    }
  }

  #takeBatch(lane: Lane): ShardRecord[] {
    const first = lane.buffer[0];
    if (!first) return [];
    const { settings, clock } = this.#options.processor;
    const full = lane.buffer.length >= settings.batchSize || lane.bytes >= MAX_INVOKE_PAYLOAD_BYTES;
    const windowElapsed = clock.now() - first.bufferedAtMs >= settings.maximumBatchingWindowSeconds * 1000;
    if (!full && !windowElapsed && !this.#endOfShard) return [];
    const batch: ShardRecord[] = [];
    let bytes = 0;
    while (batch.length < settings.batchSize) {
      const next = lane.buffer[0];
      if (!next || (batch.length > 0 && bytes + next.bytes > MAX_INVOKE_PAYLOAD_BYTES)) break;
      lane.buffer.shift();
      lane.bytes -= next.bytes;
      bytes += next.bytes;
      batch.push(next.record);
    }
    return batch;
  }

  async #advanceCheckpoint(): Promise<void> {
    let advancedTo: string | undefined;
    while (this.#unfinishedHead < this.#unfinished.length) {
      const entry = this.#unfinished[this.#unfinishedHead] as { sequenceNumber: string; done: boolean };
      if (!entry.done) break;
      advancedTo = entry.sequenceNumber;
      this.#doneBySequence.delete(entry.sequenceNumber);
      this.#unfinishedHead += 1;
    }
    if (this.#unfinishedHead > 1024 && this.#unfinishedHead * 2 > this.#unfinished.length) {
      this.#unfinished = this.#unfinished.slice(this.#unfinishedHead);
      this.#unfinishedHead = 0;
    }
    if (advancedTo !== undefined) {
      this.#checkpoint = advancedTo;
      await this.#options.checkpoints.save(this.shardId, advancedTo);
    }
  }
}

/** Lane of an ordering key: the key's MD5 (as Kinesis hashes partition keys) modulo the factor. */
export function laneOf(orderingKey: string, lanes: number): number {
  const digest = createHash('md5').update(orderingKey).digest();
  return digest.readUInt32BE(12) % lanes;
}
