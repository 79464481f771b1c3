// The exporter: one batch of the flow table's stream (DynamoDB Streams, NEW_IMAGE, in order per item) -> the
// closed rows the batch's writes carry -> one ClickHouse insert, exactly once, with no read or write per row
// (docs/flow-state-and-scale-out.md, stream export model).
//
// Exactly once: before its insert, a range of records records its intent under the eventID of its first
// record (event IDs are unique in a stream; Lambda's DynamoDB events name no shard): how many records it
// covers, the last one's eventID and the insert's token. Ranges start at a record with rows: records
// without rows are skipped until one has rows, and a range then runs to the end of the batch. So wherever
// a delivery starts (a failed invocation is retried from the same record, without bisect; a rare duplicate
// delivery restarts at an earlier checkpoint), its first record with rows is the start of a recorded range
// if it was exported before: that range is inserted again, the same rows with the same token, which
// ClickHouse drops as a duplicate if the first insert landed; then the batch goes on after the range.
// Writes without rows (most, and the exporter's own intent and outbox items in the same table) cost no
// intent, so the exporter's writes never feed it work of their own. The stream delivers each write's image
// once, and each write's rows are the rows that write closed, so no row is in two records. One read and one
// write per range with rows, none per row.
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import { sinkOnlyColumnsOf } from '../sinks/exported-row.ts';
import { batchToken, type PendingRow, sortByToken } from './batch.ts';
import type { RejectedRow, RowSink } from './clickhouse-sink.ts';
import { buildFlowRow } from './rows.ts';

/** A stream record as the exporter reads it: its event ID and the closed rows of its new image. */
export interface ChangeRecord {
  /** Unique in the stream (DynamoDB Streams eventID). */
  eventId: string;
  /** The rows the write closed (none for most writes, and for items that are not flows). */
  rows: readonly ExportedFlow[];
}

/** What a batch records under its first record's event ID before it inserts. */
export interface ExportIntent {
  /** Records the batch covers from its first one on. */
  count: number;
  lastEventId: string;
  /** The insert's deduplication token (batchToken of its rows). */
  token: string;
}

/** The intents, by the event ID of their first record (kept for the stream's 24 hours and a margin). */
export interface IntentStore {
  get(firstEventId: string): Promise<ExportIntent | undefined>;
  put(firstEventId: string, intent: ExportIntent): Promise<void>;
}

export interface ExporterOptions {
  clusterUUID: string;
  /** The extra sinks' outbox (functions/sinks/outbox.ts): a batch is handed over before its insert. */
  onBatchExported?: (token: string, rows: readonly PendingRow[]) => Promise<void>;
}

export interface ExportReport {
  records: number;
  /** Inserts made (one per range of records with rows). */
  inserts: number;
  /** Records of ranges an earlier delivery recorded (a retried or duplicated batch). */
  replayedRecords: number;
  rowsInserted: number;
  replayedRows: number;
  incompleteRows: number;
  rejected: RejectedRow[];
}

/** The batch does not hold the range an intent recorded: retried until the mapping delivers it whole. */
export class IntentRangeError extends Error {
  override name = 'IntentRangeError';
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

export class StreamExporter {
  /**
   * Tokens this container handed to the sinks' outbox whose insert has not succeeded yet: a retry inserts
   * again without a second hand-over. A new container hands over again (at least once for the sinks).
   */
  private readonly handedOver = new Set<string>();

  constructor(
    private readonly intents: IntentStore,
    private readonly sink: RowSink,
    private readonly options: ExporterOptions,
  ) {}

  /** Exports one batch; throws when it must be delivered again (nothing is lost either way). */
  async exportBatch(records: readonly ChangeRecord[]): Promise<ExportReport> {
    const report: ExportReport = {
      records: records.length,
      inserts: 0,
      replayedRecords: 0,
      rowsInserted: 0,
      replayedRows: 0,
      incompleteRows: 0,
      rejected: [],
    };
    for (let start = 0; ; ) {
      while (start < records.length && records[start]!.rows.length === 0) start++;
      if (start === records.length) break;
      const first = records[start]!;
      const recorded = await this.intents.get(first.eventId);
      const range = records.slice(start, recorded ? start + recorded.count : records.length);
      const rows = pendingRowsOf(range, this.options);
      const token = batchToken(rows);
      if (recorded) {
        if (range.length !== recorded.count || range.at(-1)!.eventId !== recorded.lastEventId)
          throw new IntentRangeError(
            `batch holds ${range.length} of the ${recorded.count} records recorded from ${first.eventId}`,
          );
        if (token !== recorded.token)
          throw new IntentRangeError(`records from ${first.eventId} give other rows than their intent`);
        report.replayedRecords += range.length;
        report.replayedRows += rows.length;
      } else {
        await this.intents.put(first.eventId, {
          count: range.length,
          lastEventId: range.at(-1)!.eventId,
          token,
        });
      }
      await this.insert(rows, token, report);
      start += range.length;
    }
    return report;
  }

  private async insert(rows: PendingRow[], token: string, report: ExportReport): Promise<void> {
    if (this.options.onBatchExported && !this.handedOver.has(token)) {
      await this.options.onBatchExported(token, rows);
      this.handedOver.add(token);
    }
    const rejected = await this.sink.insert(
      rows.map((r) => r.row),
      token,
    );
    this.handedOver.delete(token);
    report.inserts += 1;
    report.rejected.push(...rejected);
    report.rowsInserted += rows.length - rejected.length;
    report.incompleteRows += rows.filter((r) => r.row.incomplete === 1).length;
  }
}
