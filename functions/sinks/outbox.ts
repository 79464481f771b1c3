// The durable outbox between the exporter and its extra sinks (IPFIX/JSON export, S3 archive).
//
// The exporter appends each exported batch (its rows with their sink columns, gzip'd JSON lines,
// exporter/batch.ts) to a log in the flow table before the batch's ClickHouse insert (SinkOutboxStore; DynamoDB:
// functions/flow-store/sink-outbox.ts). Each sink has a durable cursor at the next entry it has to
// deliver. A worker per sink reads one entry at a time, delivers it, retrying the same batch (exponential
// backoff, full jitter) until it lands, and only then moves its cursor; an entry every sink has passed is
// deleted. A new exporter container starts from the cursors, so a batch handed over is delivered even if
// the container that appended it is recycled or crashes: at least once per sink (a delivery whose cursor
// move was lost is repeated); the archive stays exactly once because a batch always has the same object.
//
// One worker per sink at a time across containers: exporters of several stream shards share the log, and
// a worker delivers only while it holds its sink's lease in the store (DELIVERY_LEASE_MS, renewed as it
// goes, given up once the container has delivered everything), so two containers do not send the same
// batch at the same moment nor count the same drop. A container that finds the lease held leaves the sink
// to its holder until the lease runs out; a holder that vanished (a recycled container) holds it no longer.
//
// Bounded: memory holds one entry per sink, and append() never waits on a sink. A sink whose backlog
// exceeds maxQueuedRows skips its oldest entries (never the newest) before its next attempt: a
// deliberate drop, counted and logged (ClickHouse has the rows). Pure of AWS.
import { randomUUID } from 'node:crypto';
import type { OutboxPosition, SinkOutboxStore } from '../../core/flow-state/ports.ts';
import { decodeManifestRows, encodeManifestRows, type PendingRow } from '../exporter/batch.ts';
import { type ExportedBatch, NO_SINK_COLUMNS } from './exported-row.ts';

/**
 * Appends of one batch before it fails (and the stream delivers it again): each lost only to another
 * exporter's append landing first, so a few cover the stream shards appending at once.
 */
const APPEND_ATTEMPTS = 8;

/**
 * How long a sink's lease lasts without renewal: the longest another container waits for a holder that
 * vanished. A holder renews it when half has passed, before each entry.
 */
export const DELIVERY_LEASE_MS = 30_000;

/**
 * Moves a cursor remembers the mover of: a container whose answer to a move was lost can tell its own move
 * from others' while fewer than this many moves came after it.
 */
const MOVERS_KEPT = 16;

export interface BatchSink {
  /** For logs and metric dimensions, e.g. "IPFIX tcp://collector:4739" or "s3://bucket/prefix". */
  readonly name: string;
  /** Delivers the whole batch or throws; safe to call again with the same batch. */
  deliver(batch: ExportedBatch): Promise<void>;
}

export interface OutboxOptions {
  /** Most rows waiting for one sink; its oldest entries are dropped (counted) beyond it. */
  maxQueuedRows: number;
  /** Size of the stored row chunks (sink-outbox.ts OUTBOX_CHUNK_BYTES). */
  maxChunkBytes: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  onDeliveryError?: (sink: string, error: unknown, batch: ExportedBatch, attempt: number) => void;
  /** A dropped entry (undefined token: the entry was already gone, e.g. expired). */
  onDrop?: (sink: string, dropped: { seq: number; token: string | undefined; rows: number }) => void;
  /** The outbox's own table failed (retried with the same backoff; not a sink retry). */
  onStoreError?: (error: unknown, doing: string) => void;
  /** This container's name in the sinks' leases (default: a random UUID). */
  owner?: string;
  /** DELIVERY_LEASE_MS unless set. */
  leaseMs?: number;
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
  /** Age of the oldest batch this sink has not delivered yet (0 when none is being delivered). */
  backlogAgeSeconds: number;
}

/** One sink's place in the log and the entry it is delivering. */
interface Lane {
  /** The sink's kind ("ipfix", "archive"): its cursor's name. */
  readonly name: string;
  readonly sink: BatchSink;
  cursor: OutboxPosition;
  current?: {
    seq: number;
    batch: ExportedBatch;
    createdAtMs: number;
    end: OutboxPosition;
    delivered: boolean;
  };
  /** The entry this lane is dropping, until its cursor write is answered. */
  dropping?: { seq: number; token: string; rows: number; startRow: number };
  working: boolean;
  worker?: Promise<void>;
  /** Until when this container holds the sink's lease (0: it does not). */
  leaseUntilMs: number;
  /** Until when another container holds it, as last seen (-Infinity: none seen). */
  elsewhereUntilMs: number;
  failures: number;
  counters: Pick<SinkCounters, 'batchesSent' | 'rowsSent' | 'retries' | 'batchesDropped' | 'rowsDropped'>;
}

/** A delivery that failed (the sink's fault), told apart from a failure of the outbox's table. */
class DeliveryError extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

/** The rows of a stored entry as the sinks take them. */
function batchOf(token: string, rows: PendingRow[]): ExportedBatch {
  // A manifest written before the sinks were enabled has no sink columns: its rows go out with zeros.
  return { token, rows: rows.map((r) => ({ ...r.row, ...(r.sinkColumns ?? NO_SINK_COLUMNS) })) };
}

export class SinkOutbox {
  private head: OutboxPosition = { seq: 0, row: 0 };
  private loading: Promise<void> | undefined;
  /** A resume() that has not read the positions yet. */
  private resuming: Promise<void> | undefined;
  private appending: Promise<unknown> = Promise.resolve();
  /** Entries below this seq are deleted (or being deleted). */
  private collectedBelow = 0;
  private stopped = false;
  private readonly lanes: Map<string, Lane>;
  private readonly owner: string;
  private readonly leaseMs: number;

  constructor(
    private readonly store: SinkOutboxStore,
    sinks: ReadonlyMap<string, BatchSink>,
    private readonly options: OutboxOptions,
  ) {
    this.owner = options.owner ?? randomUUID();
    this.leaseMs = options.leaseMs ?? DELIVERY_LEASE_MS;
    this.lanes = new Map(
      [...sinks].map(([name, sink]) => [
        name,
        {
          name,
          sink,
          cursor: { seq: 0, row: 0 },
          working: false,
          leaseUntilMs: 0,
          elsewhereUntilMs: Number.NEGATIVE_INFINITY,
          failures: 0,
          counters: { batchesSent: 0, rowsSent: 0, retries: 0, batchesDropped: 0, rowsDropped: 0 },
        },
      ]),
    );
  }

  /**
   * Reads the log's end and the cursors (once; retried with backoff until it succeeds or the outbox
   * stops), then delivers any backlog. Never throws. Until it has read them, drain() waits for it and
   * does not report the outbox delivered.
   */
  resume(): void {
    this.resuming ??= this.resumeNow().finally(() => {
      this.resuming = undefined;
    });
  }

  private async resumeNow(): Promise<void> {
    for (let failures = 1; !this.stopped; failures++) {
      try {
        await this.load();
        this.kick();
        return;
      } catch (error) {
        this.options.onStoreError?.(error, 'reading the outbox positions');
        await this.options.sleep(this.backoffMs(failures));
      }
    }
  }

  /** Records the batch durably for every sink; resolves once it is stored. Appends run one at a time. */
  append(token: string, rows: readonly PendingRow[]): Promise<void> {
    const appended = this.appending.then(() => this.appendNow(token, rows));
    this.appending = appended.catch(() => undefined);
    return appended;
  }

  /**
   * Waits until every sink has delivered the whole log, or is another container's to deliver (it holds the
   * lease), or until `deadline` (epoch ms by `now`). True when every sink is delivered or held elsewhere;
   * then this container gives up the leases it holds, so the next batch's container delivers at once.
   */
  async drain(deadlineMs: number, now: () => number): Promise<boolean> {
    for (;;) {
      await this.workersDone(deadlineMs, now);
      const done =
        !this.resuming &&
        [...this.lanes.values()].every(
          (lane) => lane.cursor.seq >= this.head.seq || this.heldElsewhere(lane),
        );
      if (!done) return false;
      // Entries other containers appended while this one held a lease are this one's to deliver too.
      if (now() < deadlineMs && (await this.appendedElsewhere())) continue;
      await this.releaseLeases();
      return true;
    }
  }

  /** Runs the workers until none is busy or the deadline passes. */
  private async workersDone(deadlineMs: number, now: () => number): Promise<void> {
    for (;;) {
      this.kick(); // a lease held elsewhere may have run out meanwhile
      const busy = [...this.lanes.values()].filter((lane) => lane.working).map((lane) => lane.worker);
      if (this.resuming) busy.push(this.resuming);
      if (busy.length === 0 || now() >= deadlineMs) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(busy),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(deadlineMs - now(), 1000));
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /** With a lease held: whether the stored head is past this container's (then its workers are kicked). */
  private async appendedElsewhere(): Promise<boolean> {
    if (![...this.lanes.values()].some((lane) => lane.leaseUntilMs > 0)) return false;
    try {
      const { head } = await this.store.positions([]);
      if (head.seq <= this.head.seq) return false;
      this.raiseHead(head);
      return true;
    } catch (error) {
      this.options.onStoreError?.(error, 'reading the outbox head before giving up the leases');
      return false;
    }
  }

  /** Stops the workers after their current step (a container going away); the log keeps the rest. */
  stop(): void {
    this.stopped = true;
  }

  stats(name: string): SinkCounters {
    const lane = this.lanes.get(name)!;
    const waiting = lane.current && !lane.current.delivered ? lane.current : undefined;
    return {
      ...lane.counters,
      queuedBatches: this.head.seq - lane.cursor.seq,
      queuedRows: this.head.row - lane.cursor.row,
      backlogAgeSeconds: waiting ? Math.max(0, (this.options.clock() - waiting.createdAtMs) / 1000) : 0,
    };
  }

  private load(): Promise<void> {
    this.loading ??= this.readPositions().catch((error: unknown) => {
      this.loading = undefined; // tried again by the next append or resume
      throw error;
    });
    return this.loading;
  }

  private async readPositions(): Promise<void> {
    const { head, cursors } = await this.store.positions([...this.lanes.keys()]);
    for (const [name, lane] of this.lanes) {
      lane.cursor = cursors.get(name) ?? (await this.createCursor(name, head));
    }
    this.head = head;
    this.collectedBelow = Math.min(...[...this.lanes.values()].map((lane) => lane.cursor.seq));
  }

  /**
   * A sink enabled now starts at the end of the log; its cursor is stored before any batch for it is.
   * Another container starting at the same moment may store it first: then its cursor is the one.
   */
  private async createCursor(name: string, head: OutboxPosition): Promise<OutboxPosition> {
    const created = { seq: head.seq, row: head.row, movers: this.withMove(undefined, head.seq) };
    if (await this.store.moveCursor(name, undefined, created)) return created;
    const stored = (await this.store.positions([name])).cursors.get(name);
    if (!stored) throw new Error(`the ${name} cursor of the sink outbox could be neither created nor read`);
    return stored;
  }

  private async appendNow(token: string, rows: readonly PendingRow[]): Promise<void> {
    await this.load();
    // The head as stored (one read per batch): exporters of other stream shards append to the same log.
    this.raiseHead((await this.store.positions([])).head);
    const entry = {
      token,
      rows: rows.length,
      createdAtMs: this.options.clock(),
      chunks: encodeManifestRows(rows, this.options.maxChunkBytes),
    };
    try {
      // An append lands whole at the head or not at all; when the head moved (another exporter appended,
      // or our own write whose answer was lost), append after it.
      let at = this.head;
      for (let attempt = 1; !(await this.store.append(at, entry)); attempt++) {
        if (attempt >= APPEND_ATTEMPTS) throw new Error('the sink outbox head keeps moving');
        at = (await this.store.positions([])).head;
      }
      // From where it landed, not from this.head: a worker may have raised that meanwhile.
      this.raiseHead({ seq: at.seq + 1, row: at.row + rows.length });
    } finally {
      // Also when the append failed: the head read may have found entries other containers appended. A
      // lease seen held elsewhere is asked again (its holder may have drained and given it up since).
      for (const lane of this.lanes.values()) lane.elsewhereUntilMs = Number.NEGATIVE_INFINITY;
      this.kick();
    }
  }

  /**
   * The head only moves forward: appends and workers' reads both learn of it, in any order. Every sink's
   * worker is kicked when it moves: one that stopped at the old head has entries again.
   */
  private raiseHead(head: OutboxPosition): void {
    if (head.seq <= this.head.seq) return;
    this.head = head;
    this.kick();
  }

  private kick(): void {
    for (const lane of this.lanes.values()) {
      if (lane.working || this.stopped || lane.cursor.seq >= this.head.seq || this.heldElsewhere(lane))
        continue;
      lane.working = true;
      lane.worker = this.work(lane);
    }
  }

  private async work(lane: Lane): Promise<void> {
    while (!this.stopped && lane.cursor.seq < this.head.seq) {
      try {
        if (!(await this.holdLease(lane))) break;
        await this.step(lane);
        lane.failures = 0;
      } catch (error) {
        lane.failures += 1;
        if (error instanceof DeliveryError) {
          lane.counters.retries += 1;
          this.options.onDeliveryError?.(lane.name, error.original, lane.current!.batch, lane.failures);
        } else this.options.onStoreError?.(error, `delivering to ${lane.name}`);
        await this.options.sleep(this.backoffMs(lane.failures));
      }
    }
    lane.working = false; // in the same turn as the loop's check: an append after it kicks a new worker
  }

  private heldElsewhere(lane: Lane): boolean {
    return this.options.clock() <= lane.elsewhereUntilMs;
  }

  /**
   * Takes or renews the sink's lease (renewed once half of it has passed). When another container holds
   * it, reads the sink's stored cursor, so this container's backlog figures follow the holder's progress.
   */
  private async holdLease(lane: Lane): Promise<boolean> {
    const now = this.options.clock();
    if (lane.leaseUntilMs - now > this.leaseMs / 2) return true;
    const answer = await this.store.lease(lane.name, this.owner, now, now + this.leaseMs);
    if (answer.held) {
      lane.leaseUntilMs = now + this.leaseMs;
      lane.elsewhereUntilMs = Number.NEGATIVE_INFINITY;
      return true;
    }
    lane.leaseUntilMs = 0;
    lane.elsewhereUntilMs = answer.untilMs;
    await this.catchUp(lane);
    return false;
  }

  /**
   * The sink's stored cursor and the log's head, read together: the head is raised, and the lane jumps to
   * the stored cursor where another container (or a write of this one whose answer was lost) moved it
   * further. Returns the stored head and whether the lane jumped.
   */
  private async catchUp(lane: Lane): Promise<{ head: OutboxPosition; jumped: boolean }> {
    const { head, cursors } = await this.store.positions([lane.name]);
    this.raiseHead(head);
    const stored = cursors.get(lane.name);
    const jumped = stored !== undefined && stored.seq > lane.cursor.seq;
    if (jumped) lane.cursor = stored;
    return { head, jumped };
  }

  /** Gives up the leases this container holds (their time set to now); a failure leaves them to run out. */
  private async releaseLeases(): Promise<void> {
    const now = this.options.clock();
    for (const lane of this.lanes.values()) {
      if (lane.leaseUntilMs === 0 || lane.working) continue;
      lane.leaseUntilMs = 0;
      try {
        await this.store.lease(lane.name, this.owner, now, now - 1);
      } catch (error) {
        this.options.onStoreError?.(error, `giving up the ${lane.name} lease (it runs out by itself)`);
      }
    }
  }

  /** The movers of a cursor moved to `seq` by this container: the last MOVERS_KEPT moves. */
  private withMove(movers: Readonly<Record<string, string>> | undefined, seq: number) {
    const kept = Object.entries(movers ?? {}).filter(([at]) => Number(at) > seq - MOVERS_KEPT);
    return Object.fromEntries([...kept, [String(seq), this.owner]]);
  }

  /** Exponential backoff with full jitter after `failures` failures in a row. */
  private backoffMs(failures: number): number {
    const { backoffBaseMs, backoffCapMs } = this.options;
    const cap = Math.min(backoffCapMs, backoffBaseMs * 2 ** (failures - 1));
    return Math.floor((this.options.random ?? Math.random)() * cap) + 1;
  }

  /** Drops what is over the bound, then delivers the entry at the cursor once and moves past it. */
  private async step(lane: Lane): Promise<void> {
    await this.dropOverflow(lane);
    // A cursor move another container made (learnt by a refused drop) may have reached the head.
    if (lane.cursor.seq >= this.head.seq) return;
    const seq = lane.cursor.seq;
    if (lane.current?.seq !== seq) {
      lane.current = undefined;
      // The exporters of other stream shards run this sink's worker on the same log: the stored cursor
      // first (one read per entry), so one that delivered past it is not repeated from a stale cursor.
      const { head, jumped } = await this.catchUp(lane);
      if (jumped) return;
      // Nothing is missing at or past the stored head: an entry there is not appended yet, and skipping
      // it would make this sink miss the batch appended there next.
      if (seq >= head.seq) return;
      const entry = await this.store.entry(seq, true);
      if (!entry) {
        if (await this.advance(lane, { seq: seq + 1, row: lane.cursor.row }))
          this.countDrop(lane, seq, undefined);
        return;
      }
      const batch = batchOf(entry.token, decodeManifestRows(entry.chunks));
      const end = { seq: seq + 1, row: entry.startRow + entry.rows };
      lane.current = { seq, batch, createdAtMs: entry.createdAtMs, end, delivered: false };
    }
    const current = lane.current;
    if (!current.delivered) {
      try {
        await lane.sink.deliver(current.batch);
      } catch (error) {
        throw new DeliveryError(error);
      }
      current.delivered = true;
      lane.counters.batchesSent += 1;
      lane.counters.rowsSent += current.batch.rows.length;
    }
    await this.advance(lane, current.end);
  }

  /** Skips the oldest entries while the sink's backlog is over the bound; the newest always stays. */
  private async dropOverflow(lane: Lane): Promise<void> {
    while (
      lane.cursor.seq < this.head.seq - 1 &&
      this.head.row - lane.cursor.row > this.options.maxQueuedRows
    ) {
      const seq = lane.cursor.seq;
      if (lane.current?.seq === seq && lane.current.delivered) return; // delivered: only its move is left
      // A drop tried before whose cursor write failed may have landed, and the entry been deleted since
      // by a container that passed it: the entry as read then.
      const entry = lane.dropping?.seq === seq ? lane.dropping : await this.store.entry(seq, false);
      lane.dropping = entry && { seq, token: entry.token, rows: entry.rows, startRow: entry.startRow };
      // Counted once the cursor is past it: a failed cursor write repeats the drop, not its count.
      const moved = await this.advance(
        lane,
        entry ? { seq: seq + 1, row: entry.startRow + entry.rows } : { seq: seq + 1, row: lane.cursor.row },
      );
      lane.dropping = undefined;
      if (moved) this.countDrop(lane, seq, entry);
    }
  }

  private countDrop(lane: Lane, seq: number, entry: { token: string; rows: number } | undefined): void {
    lane.counters.batchesDropped += 1;
    lane.counters.rowsDropped += entry?.rows ?? 0;
    this.options.onDrop?.(lane.name, { seq, token: entry?.token, rows: entry?.rows ?? 0 });
  }

  /**
   * Moves the sink's cursor, then deletes the entries every sink has passed. True when this container
   * moved it to `to`: by this write, or by an earlier one whose answer was lost (the stored cursor's movers
   * name this container for `to`, also when others moved it further since); false when another container
   * did, even to the same place (that container counts what its move dropped).
   */
  private async advance(lane: Lane, to: OutboxPosition): Promise<boolean> {
    const { name } = lane;
    const move = { seq: to.seq, row: to.row, movers: this.withMove(lane.cursor.movers, to.seq) };
    if (!(await this.store.moveCursor(name, lane.cursor, move))) {
      // Another container moved it (or our write whose answer was lost did): continue from where it is.
      await this.catchUp(lane);
      return lane.cursor.seq >= to.seq && lane.cursor.movers?.[String(to.seq)] === this.owner;
    }
    lane.cursor = move;
    if (lane.current && lane.current.seq < to.seq) lane.current = undefined;
    const below = Math.min(...[...this.lanes.values()].map((l) => l.cursor.seq));
    if (below <= this.collectedBelow) return true;
    const from = this.collectedBelow;
    this.collectedBelow = below;
    try {
      await this.store.removeEntries(from, below);
    } catch (error) {
      this.options.onStoreError?.(error, 'deleting delivered outbox entries (their TTL removes them)');
    }
    return true;
  }
}
