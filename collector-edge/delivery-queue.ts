// The queue between the packer and the Kinesis producer. Every sealed Kinesis record is first appended to
// the disk spool (write-ahead, see spool.ts) and becomes sendable, in id order, once the spool's writer
// reports it committed (written; and fdatasync'ed when the spool syncs every append). The payloads of the newest
// records are kept in memory up to `memoryBytes`; beyond that the queue "spills": an entry keeps only its
// spool location and its payload is read back from disk when its turn comes. Entries leave the queue (and
// the spool) only when Kinesis acknowledged them; failed entries go back in front of newer ones, so the
// order of first attempts is the order of arrival. The producer holds back entries of a lane that has a
// request in flight (take's `busy`), so a lane's records reach Kinesis in order except after a partial
// failure (Kinesis accepts the later entries of a request whose earlier ones it refused).
import type { SealedBatch } from './packer.ts';
import type { Spool, SpoolEntry } from './spool.ts';

export interface DeliveryQueueEvents {
  /** Entries became sendable (the producer should look). */
  onCommitted?: () => void;
  /** The spool could not write entries (disk full, I/O error): their records are lost; or, with none, an error that lost nothing. */
  onWriteFailed?: (lostFlowRecords: number, error: unknown) => void;
}

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
  /** Appended to the spool, not yet committed by its writer, by id. */
  private readonly uncommitted = new Map<number, QueuedRecord>();

  constructor(
    private readonly spool: Spool,
    private readonly memoryBytes: number,
    private readonly events: DeliveryQueueEvents = {},
  ) {
    spool.setListener({
      committed: (entries) => {
        for (const entry of entries) {
          const record = this.uncommitted.get(entry.id);
          if (!record) continue;
          this.uncommitted.delete(entry.id);
          this.waiting.push(record);
        }
        this.events.onCommitted?.();
      },
      failed: (entries, error) => {
        let lost = 0;
        for (const entry of entries) {
          const record = this.uncommitted.get(entry.id);
          if (!record) continue;
          this.uncommitted.delete(entry.id);
          this.forget(record);
          lost += entry.recordCount;
        }
        this.events.onWriteFailed?.(lost, error);
      },
    });
  }

  /** Queues entries recovered from the spool at startup (before anything new). */
  restore(entries: SpoolEntry[]): void {
    for (const entry of entries) {
      this.waiting.push({ entry, data: undefined, heldInMemory: false, attempts: 0 });
      this.pendingFlowRecords += entry.recordCount;
    }
  }

  /** Write-ahead: appended to the spool now, sendable once the spool's writer has committed it. */
  push(batch: SealedBatch): void {
    const entry = this.spool.append(batch);
    let data: Buffer | undefined;
    if (this.memory + batch.data.length <= this.memoryBytes) {
      data = batch.data;
      this.memory += data.length;
    }
    this.uncommitted.set(entry.id, { entry, data, heldInMemory: data !== undefined, attempts: 0 });
    this.pendingFlowRecords += batch.recordCount;
  }

  private forget(record: QueuedRecord): void {
    this.pendingFlowRecords -= record.entry.recordCount;
    if (record.heldInMemory) this.memory -= record.entry.dataLength;
    record.data = undefined;
  }

  /** Kinesis records not yet committed to the spool, waiting or in flight. */
  get size(): number {
    return this.uncommitted.size + this.waiting.length - this.head + this.retry.length + this.inFlight;
  }

  /** Kinesis records appended to the spool and not yet committed by its writer. */
  get uncommittedCount(): number {
    return this.uncommitted.size;
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

  /** Spool bytes appended and not yet written (held in memory meanwhile). */
  get unwrittenBytes(): number {
    return this.spool.unwrittenBytes;
  }

  /** Flow records appended to the spool and not yet written: with open batches, what a crash would lose. */
  get unwrittenFlowRecords(): number {
    return this.spool.unwrittenRecords;
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
    this.forget(record);
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
