// The queue between the packer and the Kinesis producer. Every sealed Kinesis record is first appended to
// the disk spool (write-ahead, see spool.ts), then queued here in id order. The payloads of the newest
// records are kept in memory up to `memoryBytes`; beyond that the queue "spills": an entry keeps only its
// spool location and its payload is read back from disk when its turn comes. Entries leave the queue (and
// the spool) only when Kinesis acknowledged them; failed entries go back in front of newer ones, so the
// order of first attempts is the order of arrival. The producer holds back entries of a lane that has a
// request in flight (take's `busy`), so a lane's records reach Kinesis in order except after a partial
// failure (Kinesis accepts the later entries of a request whose earlier ones it refused).
import type { SealedBatch } from './packer.ts';
import type { Spool, SpoolEntry } from './spool.ts';

export interface QueuedRecord {
  readonly entry: SpoolEntry;
  /** Payload held in memory; undefined when spilled (read from the spool on demand). */
  data: Buffer | undefined;
  /** The payload counts against the memory bound (false for payloads read back from the spool). */
  heldInMemory: boolean;
  attempts: number;
}

export class DeliveryQueue {
  /** Not yet taken, oldest first; `head` avoids O(n) shifts. */
  private waiting: QueuedRecord[] = [];
  private head = 0;
  /** Released after a failure, sorted by id; sent before `waiting`. */
  private retry: QueuedRecord[] = [];
  private inFlight = 0;
  private memory = 0;
  private pendingFlowRecords = 0;

  constructor(
    private readonly spool: Spool,
    private readonly memoryBytes: number,
  ) {}

  /** Queues entries recovered from the spool at startup (before anything new). */
  restore(entries: SpoolEntry[]): void {
    for (const entry of entries) {
      this.waiting.push({ entry, data: undefined, heldInMemory: false, attempts: 0 });
      this.pendingFlowRecords += entry.recordCount;
    }
  }

  /** Write-ahead, then queue. Throws if the spool cannot be written (disk full): the caller counts it. */
  push(batch: SealedBatch): void {
    const entry = this.spool.append(batch);
    let data: Buffer | undefined;
    if (this.memory + batch.data.length <= this.memoryBytes) {
      data = batch.data;
      this.memory += data.length;
    }
    this.waiting.push({ entry, data, heldInMemory: data !== undefined, attempts: 0 });
    this.pendingFlowRecords += batch.recordCount;
  }

  /** Kinesis records waiting or in flight. */
  get size(): number {
    return this.waiting.length - this.head + this.retry.length + this.inFlight;
  }

  get flowRecords(): number {
    return this.pendingFlowRecords;
  }

  get sendable(): number {
    return this.waiting.length - this.head + this.retry.length;
  }

  get memoryInUse(): number {
    return this.memory;
  }

  get spoolBytes(): number {
    return this.spool.bytes;
  }

  get spoolSegments(): number {
    return this.spool.segmentCount;
  }

  /**
   * Takes the oldest sendable records for one PutRecords request: at most `maxRecords`, and at most
   * `maxBytes` of data + partition keys (always at least one record). Retried records for which `busy`
   * is true are skipped; the first busy one among the others ends the request (head of line), so no record
   * ever overtakes an older one of a busy lane.
   */
  take(
    maxRecords: number,
    maxBytes: number,
    busy: (entry: SpoolEntry) => boolean = () => false,
  ): QueuedRecord[] {
    const taken: QueuedRecord[] = [];
    let bytes = 0;
    const fits = (record: QueuedRecord) => {
      const size = record.entry.dataLength + Buffer.byteLength(record.entry.partitionKey);
      if (taken.length > 0 && bytes + size > maxBytes) return false;
      bytes += size;
      return true;
    };
    let full = false;
    for (let i = 0; i < this.retry.length && taken.length < maxRecords; ) {
      const next = this.retry[i]!;
      if (busy(next.entry)) {
        i++;
        continue;
      }
      if (!fits(next)) {
        full = true;
        break;
      }
      this.retry.splice(i, 1);
      taken.push(next);
    }
    while (!full && taken.length < maxRecords) {
      const next = this.waiting[this.head];
      // A busy lane stops the request here: nothing newer may overtake its oldest waiting record.
      if (!next || busy(next.entry) || !fits(next)) break;
      this.waiting[this.head++] = undefined as unknown as QueuedRecord;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      taken.push(next);
    }
    for (const record of taken) record.data ??= this.spool.readData(record.entry);
    this.inFlight += taken.length;
    return taken;
  }

  /** Kinesis acknowledged a taken record: it leaves the queue and the spool. */
  ack(record: QueuedRecord): void {
    this.inFlight--;
    this.pendingFlowRecords -= record.entry.recordCount;
    if (record.heldInMemory) this.memory -= record.entry.dataLength;
    record.data = undefined;
    this.spool.ack(record.entry);
  }

  /** Puts failed records back, in id order, ahead of everything newer. */
  release(records: QueuedRecord[]): void {
    this.inFlight -= records.length;
    for (const record of records) {
      record.attempts++;
      if (!record.heldInMemory) record.data = undefined; // keep memory bounded while Kinesis is down
      let i = this.retry.length;
      while (i > 0 && this.retry[i - 1]!.entry.id > record.entry.id) i--;
      this.retry.splice(i, 0, record);
    }
  }
}
