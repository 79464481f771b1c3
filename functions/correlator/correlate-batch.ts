// One Kinesis batch through the correlator: decode, group by flow key, fold each key in memory, one
// conditional write per key in rounds (bounded concurrency, optimistic retry), and the partial batch response.
// Depends only on the FlowStore port; the handler wires the DynamoDB adapter, logging and metrics.
import type { KinesisStreamBatchItemFailure } from 'aws-lambda';
import type { FlowRecord } from '../../core/flow-record.ts';
import { indexKeyOf, type LazyIndexConfig } from '../../core/flow-state/advance.ts';
import type { FlowStore, FlowWrite, WriteResult } from '../../core/flow-state/ports.ts';
import type { ScheduleConfig, StoredFlow } from '../../core/flow-state/state.ts';
import { decodeWireBatch, WireFormatError } from '../../core/wire.ts';
import type { AggregationTimeouts } from './aggregate.ts';
import { type FoldResult, foldRecords, groupByFlowKey, type KeyGroup, type SourcedRecord } from './fold.ts';

/** The part of a Lambda Kinesis event record the correlator reads. */
export interface KinesisRecordLike {
  eventID?: string;
  kinesis: { data: string; sequenceNumber: string; partitionKey?: string };
}

export interface CorrelatorSettings {
  timeouts: AggregationTimeouts;
  /** The export schedule the correlator advances before each record (stream export model). */
  schedule: ScheduleConfig;
  /** How lazily a live flow's due-index key follows its schedule (advance.ts indexKeyOf). */
  lazyIndex: LazyIndexConfig;
  /** Conditional writes in flight at once. */
  writeConcurrency: number;
  /** Attempts per key when other writers keep moving the item (optimistic concurrency). */
  maxWriteAttempts: number;
}

export interface Poison {
  index: number;
  sequenceNumber: string;
  reason: string;
  message: string;
  /** Size of the undecodable payload; the bytes stay in the stream for replay by sequence number. */
  bytes: number;
}

export interface KeyFailure {
  flowKey: string;
  error: unknown;
}

export interface BatchStats {
  kinesisRecords: number;
  flowRecords: number;
  poisonRecords: number;
  flowKeys: number;
  appliedRecords: number;
  /** Applied records older than the newest of their Node that still added counts (late deliveries). */
  lateAppliedRecords: number;
  /** The newest record of its Node again (Lambda retry, bisect, duplicate delivery): adds nothing. */
  duplicateRecords: number;
  /** Older than the newest of their Node and already counted by its cumulative total: adds nothing. */
  coveredRecords: number;
  /** Records of an earlier connection on a reused 5-tuple after the newer one started: dropped. */
  staleConnectionRecords: number;
  /** Applied records whose total also counted a missing predecessor (lost upstream, or still on its way). */
  gapFilledRecords: number;
  flowsCreated: number;
  /** Rows the export schedule closed in this batch's writes (the stream takes them to the exporter). */
  rowsClosed: number;
  writes: number;
  /** Conditional writes that lost to another writer and were redone on the returned item. */
  writeConflicts: number;
  failedKeys: number;
  consumedWriteUnits: number;
  consumedReadUnits: number;
}

export interface BatchOutcome {
  batchItemFailures: KinesisStreamBatchItemFailure[];
  stats: BatchStats;
  poison: Poison[];
  keyFailures: KeyFailure[];
}

export interface CorrelatorDeps {
  store: FlowStore;
  now: () => number;
}

function decodeAll(records: readonly KinesisRecordLike[]): { decoded: SourcedRecord[]; poison: Poison[] } {
  const decoded: SourcedRecord[] = [];
  const poison: Poison[] = [];
  records.forEach((kinesisRecord, index) => {
    const payload = Buffer.from(kinesisRecord.kinesis.data, 'base64');
    let flowRecords: FlowRecord[];
    try {
      flowRecords = decodeWireBatch(payload);
    } catch (error) {
      poison.push({
        index,
        sequenceNumber: kinesisRecord.kinesis.sequenceNumber,
        reason: error instanceof WireFormatError ? error.reason : 'decode-error',
        message: error instanceof Error ? error.message : String(error),
        bytes: payload.length,
      });
      return;
    }
    for (const record of flowRecords) decoded.push({ record, origin: index });
  });
  return { decoded, poison };
}

/** A key still to be written, with the stored flow its next fold starts from. */
interface Pending {
  group: KeyGroup;
  records: FlowRecord[];
  stored: StoredFlow | undefined;
  /** Writes refused so far. */
  attempts: number;
}

interface RoundWrite {
  entry: Pending;
  folded: FoldResult;
  write: FlowWrite;
}

/**
 * Folds each pending key on its stored flow; keys with nothing to write are counted and left out, a key
 * whose fold throws is failed alone.
 */
function foldRound(
  pending: readonly Pending[],
  nowMs: number,
  settings: CorrelatorSettings,
  stats: BatchStats,
  fail: (entry: Pending, error: unknown) => void,
): RoundWrite[] {
  const round: RoundWrite[] = [];
  for (const entry of pending) {
    try {
      const write = foldEntry(entry, nowMs, settings, stats);
      if (write) round.push(write);
    } catch (error) {
      fail(entry, error);
    }
  }
  return round;
}

function foldEntry(
  entry: Pending,
  nowMs: number,
  settings: CorrelatorSettings,
  stats: BatchStats,
): RoundWrite | undefined {
  const { stored } = entry;
  const folded = foldRecords(
    entry.group.flowKey,
    stored,
    entry.records,
    nowMs,
    settings.timeouts,
    settings.schedule,
  );
  if (!folded.state) {
    countSkipped(stats, folded);
    return undefined;
  }
  const indexKey = indexKeyOf(folded.state, stored?.indexKey, nowMs, settings.schedule, settings.lazyIndex);
  return {
    entry,
    folded,
    write: { state: folded.state, expectedVersion: stored?.version, extras: { rows: folded.rows, indexKey } },
  };
}

function countWritten(stats: BatchStats, folded: FoldResult, consumedWriteUnits: number): void {
  stats.writes++;
  stats.consumedWriteUnits += consumedWriteUnits;
  stats.appliedRecords += folded.applied;
  stats.lateAppliedRecords += folded.lateApplied;
  stats.gapFilledRecords += folded.gapFilled;
  countSkipped(stats, folded);
  stats.flowsCreated += folded.created;
  stats.rowsClosed += folded.rows.length;
}

function countSkipped(stats: BatchStats, folded: FoldResult): void {
  stats.duplicateRecords += folded.duplicates;
  stats.coveredRecords += folded.covered;
  stats.staleConnectionRecords += folded.stale;
}

/**
 * Processes one batch. Never throws for a bad record or a failed key: they become batchItemFailures (the
 * event source mapping resumes at the lowest one; everything after it is replayed and adds nothing, by the
 * Node marks). Throws only when the batch read fails, which retries the whole batch.
 */
export async function correlateBatch(
  records: readonly KinesisRecordLike[],
  deps: CorrelatorDeps,
  settings: CorrelatorSettings,
): Promise<BatchOutcome> {
  const { decoded, poison } = decodeAll(records);
  const groups = groupByFlowKey(decoded);
  const stats: BatchStats = {
    kinesisRecords: records.length,
    flowRecords: decoded.length,
    poisonRecords: poison.length,
    flowKeys: groups.length,
    appliedRecords: 0,
    lateAppliedRecords: 0,
    duplicateRecords: 0,
    coveredRecords: 0,
    staleConnectionRecords: 0,
    gapFilledRecords: 0,
    flowsCreated: 0,
    rowsClosed: 0,
    writes: 0,
    writeConflicts: 0,
    failedKeys: 0,
    consumedWriteUnits: 0,
    consumedReadUnits: 0,
  };
  const keyFailures: KeyFailure[] = [];
  const failed = new Set<number>(poison.map((p) => p.index));

  const read = await deps.store.read(groups.map((g) => g.flowKey));
  stats.consumedReadUnits += read.consumedReadUnits;

  // Rounds: fold every key, write them all at once (the store may put several flows in one item), then
  // fold the refused ones again on what the refusal handed back, until written or out of attempts.
  let pending: Pending[] = groups.map((group) => ({
    group,
    records: group.records.map((s) => s.record),
    stored: read.flows.get(group.flowKey),
    attempts: 0,
  }));
  const fail = (entry: Pending, error: unknown): void => {
    stats.failedKeys++;
    keyFailures.push({ flowKey: entry.group.flowKey, error });
    for (const sourced of entry.group.records) failed.add(sourced.origin);
  };
  while (pending.length > 0) {
    const nowMs = deps.now();
    const round = foldRound(pending, nowMs, settings, stats, fail);
    let results: WriteResult[];
    try {
      results = await deps.store.writeMany(
        round.map((r) => r.write),
        nowMs,
        settings.writeConcurrency,
      );
    } catch (error) {
      for (const r of round) fail(r.entry, error);
      break;
    }
    const next: Pending[] = [];
    for (const [i, result] of results.entries()) {
      const { entry, folded } = round[i]!;
      if (result.ok) {
        countWritten(stats, folded, result.consumedWriteUnits);
        continue;
      }
      if (result.error !== undefined) {
        fail(entry, result.error);
        continue;
      }
      stats.writeConflicts++;
      entry.attempts++;
      if (entry.attempts >= settings.maxWriteAttempts) {
        fail(
          entry,
          new Error(`gave up after ${entry.attempts} conflicting writes on ${entry.group.flowKey}`),
        );
        continue;
      }
      next.push({ ...entry, stored: result.current });
    }
    pending = next;
  }

  const batchItemFailures = [...failed]
    .sort((a, b) => a - b)
    .map((index) => ({ itemIdentifier: records[index]!.kinesis.sequenceNumber }));
  return { batchItemFailures, stats, poison, keyFailures };
}
