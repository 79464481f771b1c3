// One flusher: every commit interval a round that exports the due flows to ClickHouse exactly once.
//
// A round:
//   1. replay the open manifests of earlier rounds (crash or ClickHouse failure after the flows were
//      marked): the rows whose flows really were marked, same rows, same order, same token;
//   2. query the due flows, apply the export schedule (processDue), build rows;
//   3. write the rows to manifests (DynamoDB), THEN mark the flows exported (conditional on their version,
//      25 to a request: deltas and throughputs reset, exportSeq + 1, next due time, closed flows leave
//      the index);
//   4. insert each batch with the token of the rows whose marking succeeded, then delete the manifest;
//      with extra sinks, the batch is first appended to their durable outbox (functions/sinks/outbox.ts).
// A crash before 3 leaves the flows due; after 3, the manifest is replayed; a replayed insert is dropped
// by ClickHouse as a duplicate. A flow whose marking lost a race with the correlator stays due and is
// exported, with its newer data, next round; its row is not in the insert (it was never marked).
//
// ClickHouse is touched only by inserts (and their replays): no health ping, so a ClickHouse Cloud service
// with nothing to write reaches its idle timeout. When ClickHouse is down, the first round's batch waits
// in its manifest, and later rounds stop at its failing replay before claiming more flows; the
// InsertFailures metric (and its alarm) is the health signal.

import { chunksOf, forEachLimited } from '../../core/concurrency.ts';
import { type ExportQueue, MAX_WRITES_PER_BATCH } from '../../core/flow-state/ports.ts';
import { processDue } from '../../core/flow-state/schedule.ts';
import { isExpired, type ScheduleConfig, type StoredFlow } from '../../core/flow-state/state.ts';
import { MANIFEST_CHUNK_BYTES } from '../flow-store/export-queue.ts';
import { sinkOnlyColumnsOf } from '../sinks/exported-row.ts';
import { batchToken, decodeManifestRows, encodeManifestRows, type PendingRow, sortByToken } from './batch.ts';
import type { RejectedRow, RowSink } from './clickhouse-sink.ts';
import { buildFlowRow, type FlowRow } from './rows.ts';

export interface FlusherOptions {
  clusterUUID: string;
  schedule: ScheduleConfig;
  /** Rows per ClickHouse insert (one batch). */
  maxRowsPerInsert: number;
  /** Batches (inserts) per round; also the number of manifest slots. */
  maxInsertsPerRound: number;
  /** Inserts in flight at once: the next batch is encoded and sent while ClickHouse writes another. */
  insertConcurrency: number;
  /** Requests of conditional "mark exported" writes in flight at once (up to 25 writes each). */
  writeConcurrency: number;
  /** Epoch ms. */
  clock: () => number;
  /**
   * Extra sinks (functions/sinks): records a batch durably in their outbox, with the token its ClickHouse
   * insert carries. Awaited once the batch's flows are marked and before its insert (also for a batch
   * replayed from its manifest that this flusher has not handed over yet), so a batch ClickHouse may have
   * is always in the outbox. Throwing fails the batch like a failed insert: it stays in its manifest.
   * When set, the rows carry their sink columns (per-Node counters), in the manifest too.
   */
  onBatchExported?: (token: string, rows: readonly PendingRow[]) => Promise<void>;
}

export interface RoundReport {
  ok: boolean;
  /** Why the round stopped early (ClickHouse down, insert rejected, ...). */
  error?: string;
  dueFlows: number;
  rowsInserted: number;
  inserts: number;
  replayedBatches: number;
  replayedRows: number;
  /** Flows whose marking lost a race with the correlator (retried next round). */
  markConflicts: number;
  incompleteRows: number;
  closedFlows: number;
  insertFailures: number;
  /** Rows no insert can carry (a value that does not fit its column): left out, their flows stay marked. */
  rejectedRows: number;
  /** Those rows in full, with the reason naming the column, for the log: the only place they are kept. */
  rejected: Array<{ flowKey: string; exportSeq: number; reason: string; row: FlowRow }>;
  durationMs: number;
  /** Now minus the due time of the oldest flow still due after the round (0 when none); unset if unknown. */
  exportLagSeconds?: number;
  /**
   * True when no open flow is left in the due index after the round: nothing can fall due before a new
   * record arrives. Unset when unknown (the index could not be read).
   */
  atRest?: boolean;
}

/** An insert (or replay) that ClickHouse did not acknowledge: its rows stay in their manifest. */
export class ClickHouseInsertError extends Error {
  override name = 'ClickHouseInsertError';
}

/** A successful round that did nothing yet (each round starts from it). */
export function emptyReport(): RoundReport {
  return {
    ok: true,
    dueFlows: 0,
    rowsInserted: 0,
    inserts: 0,
    replayedBatches: 0,
    replayedRows: 0,
    markConflicts: 0,
    incompleteRows: 0,
    closedFlows: 0,
    insertFailures: 0,
    rejectedRows: 0,
    rejected: [],
    durationMs: 0,
  };
}

/** A due-index bound past every nextExportAt: the query then finds the earliest open flow. */
const OPEN_FLOWS = Number.MAX_SAFE_INTEGER;

/**
 * Export lag and rest state from one look at the due index: the earliest nextExportAt of any open flow
 * (undefined when the index holds none), seen at `nowMs`.
 */
export function dueIndexAfterRound(
  earliestDueAtMs: number | undefined,
  nowMs: number,
): Pick<RoundReport, 'exportLagSeconds' | 'atRest'> {
  if (earliestDueAtMs === undefined) return { exportLagSeconds: 0, atRest: true };
  return { exportLagSeconds: Math.max(0, (nowMs - earliestDueAtMs) / 1000), atRest: false };
}

export class Flusher {
  /**
   * Manifests (by batchId) whose marked rows this flusher gave to onBatchExported: their replay after a
   * failed insert does not hand them over again. A new flusher (container) hands over again what it
   * replays: the sinks' delivery is at least once, the archive overwrites the same object.
   */
  private readonly handedOver = new Set<string>();

  constructor(
    private readonly queue: ExportQueue,
    private readonly sink: RowSink,
    private readonly options: FlusherOptions,
  ) {}

  async round(): Promise<RoundReport> {
    const report = emptyReport();
    const started = this.options.clock();
    try {
      await this.replayOpenBatches(report);
      await this.exportDue(report);
    } catch (error) {
      report.ok = false;
      report.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const finished = this.options.clock();
    report.durationMs = finished - started;
    try {
      Object.assign(report, dueIndexAfterRound(await this.queue.oldestDueAt(OPEN_FLOWS), finished));
    } catch {
      // DynamoDB unreachable: the round's own error (if any) already says so; lag stays unknown.
    }
    return report;
  }

  private async replayOpenBatches(report: RoundReport): Promise<void> {
    for (const manifest of await this.queue.openManifests(this.options.maxInsertsPerRound)) {
      const recorded = decodeManifestRows(manifest.chunks);
      const { flows } = await this.queue.read(recorded.map((r) => r.row.flowKey as string));
      // Only rows whose flow was marked belong to the batch (the marking may have failed or never run).
      // An item gone from the table was marked (only its TTL, long after, removes it).
      const marked = recorded.filter((r) => {
        const stored = flows.get(r.row.flowKey as string);
        return stored === undefined || stored.state.exportSeq >= (r.row.exportSeq as number);
      });
      await this.handOver(manifest.batchId, marked);
      await this.insertBatch(marked, report);
      await this.queue.deleteManifest(manifest);
      this.handedOver.delete(manifest.batchId);
      report.replayedBatches += 1;
      report.replayedRows += marked.length;
    }
  }

  private async exportDue(report: RoundReport): Promise<void> {
    const { clock, schedule, maxRowsPerInsert, maxInsertsPerRound } = this.options;
    const now = clock();
    const keys = await this.queue.dueKeys(now, maxRowsPerInsert * maxInsertsPerRound);
    if (keys.length === 0) return;
    const { flows } = await this.queue.read(keys);

    const marks: Array<{ stored: StoredFlow; outcome: ReturnType<typeof processDue> }> = [];
    const pending: PendingRow[] = [];
    for (const stored of flows.values()) {
      if (isExpired(stored, now)) continue; // logically absent: TTL deletion is lazy
      const outcome = processDue(stored.state, now, schedule);
      if (!outcome.due) continue; // the index read was stale
      marks.push({ stored, outcome });
      if (outcome.exported) {
        const { flow, exportSeq, dedupToken } = outcome.exported;
        const row = buildFlowRow(flow, {
          clusterUUID: this.options.clusterUUID,
          exportSeq,
          exportedAtMs: now,
        });
        const sinkColumns = this.options.onBatchExported ? sinkOnlyColumnsOf(flow) : undefined;
        pending.push(sinkColumns ? { token: dedupToken, row, sinkColumns } : { token: dedupToken, row });
        if (flow.incomplete) report.incompleteRows += 1;
      }
    }
    report.dueFlows = marks.length;

    // Manifests first: from here on a crash is recovered by replaying them.
    const batches = chunksOf(sortByToken(pending), maxRowsPerInsert);
    const manifests = batches.map((rows, slot) => ({
      slot,
      batchId: batchToken(rows),
      rows: rows.length,
      chunks: encodeManifestRows(rows, MANIFEST_CHUNK_BYTES),
      createdAtMs: now,
    }));
    for (const manifest of manifests) await this.queue.putManifest(manifest);

    const markedKeys = new Set<string>();
    const markBatches = chunksOf(marks, MAX_WRITES_PER_BATCH);
    await forEachLimited(markBatches, this.options.writeConcurrency, async (batch) => {
      const results = await this.queue.writeBatch(
        batch.map(({ stored, outcome }) => ({ state: outcome.state, expectedVersion: stored.version })),
        now,
      );
      for (const [i, result] of results.entries()) {
        const { stored, outcome } = batch[i]!;
        if (result.ok) {
          markedKeys.add(stored.state.flow.flowKey);
          if (outcome.closed) report.closedFlows += 1;
        } else report.markConflicts += 1;
      }
    });

    // Each batch is its own block with its own token and manifest: they may land in any order, and a
    // failed one stays in its manifest for the next round while the others are done.
    await forEachLimited([...batches.keys()], this.options.insertConcurrency, async (i) => {
      const marked = batches[i]!.filter((r) => markedKeys.has(r.row.flowKey as string));
      await this.handOver(manifests[i]!.batchId, marked);
      await this.insertBatch(marked, report);
      await this.queue.deleteManifest(manifests[i]!);
      this.handedOver.delete(manifests[i]!.batchId);
    });
  }

  /** The marked rows of a manifest's batch to the sinks' outbox, once per manifest in this flusher. */
  private async handOver(batchId: string, marked: PendingRow[]): Promise<void> {
    const { onBatchExported } = this.options;
    if (!onBatchExported || marked.length === 0 || this.handedOver.has(batchId)) return;
    await onBatchExported(batchToken(marked), sortByToken(marked));
    this.handedOver.add(batchId);
  }

  private async insertBatch(rows: PendingRow[], report: RoundReport): Promise<void> {
    if (rows.length === 0) return;
    const ordered = sortByToken(rows);
    let rejected: RejectedRow[];
    try {
      rejected = await this.sink.insert(
        ordered.map((r) => r.row),
        batchToken(ordered),
      );
    } catch (error) {
      report.insertFailures += 1;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ClickHouseInsertError(
        `insert of ${ordered.length} rows failed (${reason}): they stay in their manifest, replayed next round`,
        { cause: error },
      );
    }
    for (const { row, reason } of rejected) {
      report.rejected.push({
        flowKey: row.flowKey as string,
        exportSeq: row.exportSeq as number,
        reason,
        row,
      });
    }
    report.rejectedRows += rejected.length;
    report.rowsInserted += rows.length - rejected.length;
    if (rejected.length < rows.length) report.inserts += 1;
  }
}
