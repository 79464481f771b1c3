// Folding a batch: group the records by flow key (arrival order kept), then apply the records of one key
// to its stored state in memory, so each key costs one conditional write per batch. Replays are skipped by
// the per-Node watermarks (functions/flow-store/index.ts, IDEMPOTENCY). Pure.
import { flowKeyOf } from '../../core/flow-key.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import {
  cloneState,
  type FlowState,
  isCoveredBy,
  isExpired,
  raiseWatermark,
  type StoredFlow,
} from '../flow-store/state.ts';
import { type AggregationTimeouts, createEntry, isRecordFromSource, updateEntry } from './aggregate.ts';

/** A decoded record and the Kinesis record it came in (its index in the event). */
export interface SourcedRecord {
  record: FlowRecord;
  origin: number;
}

export interface KeyGroup {
  flowKey: string;
  records: SourcedRecord[];
}

/** Groups by flow key, in order of first appearance, each group in arrival order. */
export function groupByFlowKey(records: Iterable<SourcedRecord>): KeyGroup[] {
  const groups = new Map<string, KeyGroup>();
  for (const sourced of records) {
    const flowKey = flowKeyOf(sourced.record);
    let group = groups.get(flowKey);
    if (!group) {
      group = { flowKey, records: [] };
      groups.set(flowKey, group);
    }
    group.records.push(sourced);
  }
  return [...groups.values()];
}

export interface FoldResult {
  /** The state to write; undefined when nothing changed (every record was a replay). */
  state: FlowState | undefined;
  applied: number;
  skipped: number;
  /** New lifetimes started (a new Antrea aggregation record). */
  created: number;
}

/**
 * "now" of a record: its collector receive time (Antrea's arrival time at the aggregator), so replays and
 * pipeline delays leave expiry times unchanged; the invocation clock only when the collector gave none.
 */
export function arrivalTimeOf(record: FlowRecord, fallbackNowMs: number): number {
  return record.receivedAtMs > 0 ? record.receivedAtMs : fallbackNowMs;
}

/**
 * Applies `records` (one key, arrival order) to `stored` with Antrea's semantics. An item past its TTL
 * or closed by the flusher starts a new lifetime (Antrea: a new map entry); its export sequence and
 * watermarks carry over so numbering continues and old replays stay recognisable.
 */
export function foldRecords(
  flowKey: string,
  stored: StoredFlow | undefined,
  records: readonly FlowRecord[],
  nowMs: number,
  timeouts: AggregationTimeouts,
): FoldResult {
  let state: FlowState | undefined = stored ? cloneState(stored.state) : undefined;
  let open = state !== undefined && !state.closed && !(stored && isExpired(stored, nowMs));
  let applied = 0;
  let skipped = 0;
  let created = 0;
  for (const record of records) {
    const fromSource = isRecordFromSource(record);
    const mark = fromSource ? state?.sourceWatermark : state?.destinationWatermark;
    if (isCoveredBy(record, mark)) {
      skipped++;
      continue;
    }
    const at = arrivalTimeOf(record, nowMs);
    if (!state || !open) {
      const entry = createEntry(flowKey, record, at, timeouts);
      state = {
        flow: entry.flow,
        activeExpireAtMs: entry.activeExpireAtMs,
        inactiveExpireAtMs: entry.inactiveExpireAtMs,
        updatedSinceExport: true,
        createdAtMs: at,
        exportSeq: state?.exportSeq ?? 0,
        lastExportAtMs: 0,
        closed: false,
        sourceWatermark: state?.sourceWatermark,
        destinationWatermark: state?.destinationWatermark,
      };
      open = true;
      created++;
    } else {
      const entry = {
        flow: state.flow,
        activeExpireAtMs: state.activeExpireAtMs,
        inactiveExpireAtMs: state.inactiveExpireAtMs,
      };
      updateEntry(entry, record, at, timeouts);
      state.activeExpireAtMs = entry.activeExpireAtMs;
      state.inactiveExpireAtMs = entry.inactiveExpireAtMs;
      state.updatedSinceExport = true;
    }
    if (fromSource) state.sourceWatermark = raiseWatermark(state.sourceWatermark, record);
    else state.destinationWatermark = raiseWatermark(state.destinationWatermark, record);
    applied++;
  }
  return { state: applied > 0 ? state : undefined, applied, skipped, created };
}
