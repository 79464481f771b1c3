// The exporter: one batch of the flow table's stream (DynamoDB Streams, NEW_IMAGE; one stream shard per
// batch, in order) -> the closed rows the batch's writes carry -> one ClickHouse insert, exactly once,
// with no read or write per row (docs/flow-state-and-scale-out.md, stream export model).
//
// Exactly once: per stream shard a cursor item holds the last sequence number whose rows are in
// ClickHouse, and, while an insert is under way, its intent: the range [from, to] of stream records and the
// insert's token. The intent is written before the insert and the cursor moved past `to` after it. A
// retried batch (the event source mapping retries from the same record: no bisect) skips what the cursor
// covers, inserts the intent's range again with the same rows and token (ClickHouse drops the block as a
// duplicate if the first insert landed) and goes on. The stream delivers each write's image once, and each
// write's rows are the rows that write closed, so no row is in two records. Two small writes per batch
// with rows, none per row; a batch without rows writes nothing.
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import { batchToken, type PendingRow, sortByToken } from '../flusher/batch.ts';
import type { RejectedRow, RowSink } from '../flusher/clickhouse-sink.ts';
import { buildFlowRow } from '../flusher/rows.ts';
import { sinkOnlyColumnsOf } from '../sinks/exported-row.ts';

/** A stream record as the exporter reads it: its sequence number and the closed rows of its new image. */
export interface ChangeRecord {
  /** Decimal, up to 40 digits: compared as BigInt. */
  sequenceNumber: string;
  /** The rows the write closed (none for most writes, and for items that are not flows). */
  rows: readonly ExportedFlow[];
}

export interface ExportIntent {
  from: string;
  to: string;
  token: string;
}

export interface ShardCursor {
  /** Every record up to and including this sequence number has its rows in ClickHouse. */
  doneThrough?: string;
  /** An insert that may or may not have landed: replayed first. */
  intent?: ExportIntent;
}

/** The cursors, one per stream shard, with optimistic versions (one exporter per shard at a time). */
export interface CursorStore {
  get(shardId: string): Promise<{ cursor: ShardCursor; version: number | undefined }>;
  /** Writes `cursor` as version expectedVersion + 1 if still at expectedVersion; false if it moved. */
  put(shardId: string, cursor: ShardCursor, expectedVersion: number | undefined): Promise<boolean>;
}

export interface ExporterOptions {
  clusterUUID: string;
  /** The extra sinks' outbox (functions/sinks/outbox.ts): a batch is handed over before its insert. */
  onBatchExported?: (token: string, rows: readonly PendingRow[]) => Promise<void>;
}

export interface ExportReport {
  records: number;
  /** Records the cursor already covered (a retried batch). */
  skippedRecords: number;
  rowsInserted: number;
  replayedRows: number;
  incompleteRows: number;
  rejected: RejectedRow[];
}

/** The batch is not the one the intent was written for: retry until the mapping delivers it whole. */
export class IntentRangeError extends Error {
  override name = 'IntentRangeError';
}

/** A cursor moved under this exporter: another invocation works on the same shard. */
export class CursorConflictError extends Error {
  override name = 'CursorConflictError';
}

function pendingRowsOf(records: readonly ChangeRecord[], options: ExporterOptions): PendingRow[] {
  const pending: PendingRow[] = [];
  for (const record of records) {
    for (const { flow, exportSeq, exportedAtMs, dedupToken } of record.rows) {
      const row = buildFlowRow(flow, { clusterUUID: options.clusterUUID, exportSeq, exportedAtMs });
      pending.push(
        options.onBatchExported
          ? { token: dedupToken, row, sinkColumns: sinkOnlyColumnsOf(flow) }
          : { token: dedupToken, row },
      );
    }
  }
  return sortByToken(pending);
}

const seq = (record: ChangeRecord): bigint => BigInt(record.sequenceNumber);

export class StreamExporter {
  constructor(
    private readonly cursors: CursorStore,
    private readonly sink: RowSink,
    private readonly options: ExporterOptions,
  ) {}

  /** Exports one batch of shard `shardId`; throws when it must be retried (nothing is lost either way). */
  async exportBatch(shardId: string, records: readonly ChangeRecord[]): Promise<ExportReport> {
    const report: ExportReport = {
      records: records.length,
      skippedRecords: 0,
      rowsInserted: 0,
      replayedRows: 0,
      incompleteRows: 0,
      rejected: [],
    };
    let { cursor, version } = await this.cursors.get(shardId);
    const covered = cursor.doneThrough === undefined ? -1n : BigInt(cursor.doneThrough);
    let pending = records.filter((record) => seq(record) > covered);
    report.skippedRecords = records.length - pending.length;

    if (cursor.intent) {
      const { from, to, token } = cursor.intent;
      const replay = pending.filter((record) => seq(record) <= BigInt(to));
      if (replay.length === 0 || seq(replay[0]!) !== BigInt(from) || seq(pending.at(-1)!) < BigInt(to))
        throw new IntentRangeError(
          `shard ${shardId}: batch does not hold the intent's records ${from}..${to}`,
        );
      const rows = pendingRowsOf(replay, this.options);
      if (batchToken(rows) !== token)
        throw new IntentRangeError(
          `shard ${shardId}: records ${from}..${to} give other rows than their intent`,
        );
      await this.insert(rows, token, report);
      report.replayedRows += rows.length;
      cursor = { doneThrough: to };
      version = await this.put(shardId, cursor, version);
      pending = pending.filter((record) => seq(record) > BigInt(to));
    }

    const rows = pendingRowsOf(pending, this.options);
    if (rows.length === 0) return report;
    const intent: ExportIntent = {
      from: pending[0]!.sequenceNumber,
      to: pending.at(-1)!.sequenceNumber,
      token: batchToken(rows),
    };
    version = await this.put(shardId, { ...cursor, intent }, version);
    await this.insert(rows, intent.token, report);
    await this.put(shardId, { doneThrough: intent.to }, version);
    return report;
  }

  private async put(shardId: string, cursor: ShardCursor, version: number | undefined): Promise<number> {
    if (!(await this.cursors.put(shardId, cursor, version)))
      throw new CursorConflictError(`shard ${shardId}: cursor moved under this exporter`);
    return (version ?? 0) + 1;
  }

  private async insert(rows: PendingRow[], token: string, report: ExportReport): Promise<void> {
    await this.options.onBatchExported?.(token, rows);
    const rejected = await this.sink.insert(
      rows.map((r) => r.row),
      token,
    );
    report.rejected.push(...rejected);
    report.rowsInserted += rows.length - rejected.length;
    report.incompleteRows += rows.filter((r) => r.row.incomplete === 1).length;
  }
}
