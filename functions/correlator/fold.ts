// Folding a batch: group the records by flow key (arrival order kept), then apply the records of one key
// to its stored state in memory, so each key costs one conditional write per batch. Counters follow the
// agents' cumulative totals per Node (cumulative.ts), so order, replays and batch splits do not change the
// result (functions/flow-store/index.ts, IDEMPOTENCY; docs/exactly-once.md). Pure.
import { type AggregatedFlow, type Counters, zeroCounters } from '../../core/aggregated-flow.ts';
import { flowKeyOf } from '../../core/flow-key.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import { advanceSchedule } from '../../core/flow-state/advance.ts';
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import {
  type CounterQuad,
  cloneState,
  type FlowState,
  isExpired,
  type ScheduleConfig,
  type StoredFlow,
} from '../../core/flow-state/state.ts';
import {
  type AggregationTimeouts,
  createEntry,
  isCorrelationRequired,
  isRecordFromSource,
  updateEntry,
} from './aggregate.ts';
import { commonIncrease, judge } from './cumulative.ts';

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
  /** The state to write; undefined when nothing changed (no record added anything, nothing was due). */
  state: FlowState | undefined;
  /** Rows the export schedule closed before and after the records (they leave with the write). */
  rows: ExportedFlow[];
  /** Records that changed the state (new counts, or newer non-counter fields). */
  applied: number;
  /** Applied records that were older than the newest of their Node (late, with counts not yet counted). */
  lateApplied: number;
  /** The newest record of its Node again: a replay (Lambda retry, bisect, duplicate delivery). */
  duplicates: number;
  /** Older than the newest of their Node and already counted by its total: a late record or a replay. */
  covered: number;
  /** Records of an earlier connection on the same 5-tuple after a newer one started: dropped, counted. */
  stale: number;
  /** Applied records whose total also counted a missing predecessor's bytes (lost upstream, or late). */
  gapFilled: number;
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

/** The record with its deltas replaced by what it actually adds (cumulative.ts). */
function withContribution(record: FlowRecord, added: CounterQuad): FlowRecord {
  return {
    ...record,
    packetDeltaCount: added[0],
    octetDeltaCount: added[1],
    reversePacketDeltaCount: added[2],
    reverseOctetDeltaCount: added[3],
  };
}

/** The delta counters Flowline owns: per Node group and common, forward and reverse. */
interface DeltaSnapshot {
  groups: Array<[Counters, Counters]>;
  common: CounterQuad;
}

function groupsOf(flow: AggregatedFlow): Array<[Counters, Counters]> {
  return [
    [flow.statsFromSourceNode, flow.reverseStatsFromSourceNode],
    [flow.statsFromDestinationNode, flow.reverseStatsFromDestinationNode],
  ];
}

function snapshotDeltas(flow: AggregatedFlow): DeltaSnapshot {
  const r = flow.record;
  return {
    groups: groupsOf(flow).map(([f, b]) => [{ ...f }, { ...b }]),
    common: [r.packetDeltaCount, r.octetDeltaCount, r.reversePacketDeltaCount, r.reverseOctetDeltaCount],
  };
}

function addTo(counters: Counters, packets: number, octets: number, high: [number, number]): void {
  counters.packetDeltaCount += packets;
  counters.octetDeltaCount += octets;
  // The Node's highest total of its current connection (Antrea: the latest record's total overwrites).
  counters.packetTotalCount = high[0];
  counters.octetTotalCount = high[1];
}

/**
 * Sets the counters from Flowline's accounting, whatever Antrea's per-record algorithm did to them (it
 * drops the counts of a record not newer by end time, and takes common deltas from the latest Node): each
 * filled Node group gets the record's contribution on top of its deltas before, its totals the highest of
 * its current connection; the common deltas grow with max over Nodes, the common totals are the max.
 */
function settleCounters(
  flow: AggregatedFlow,
  before: DeltaSnapshot,
  filled: readonly number[],
  added: CounterQuad,
  high: CounterQuad,
  commonAdded: CounterQuad,
): void {
  const groups = groupsOf(flow);
  for (const [i, [forward, reverse]] of groups.entries()) {
    const [forwardBefore, reverseBefore] = before.groups[i]!;
    forward.packetDeltaCount = forwardBefore.packetDeltaCount;
    forward.octetDeltaCount = forwardBefore.octetDeltaCount;
    reverse.packetDeltaCount = reverseBefore.packetDeltaCount;
    reverse.octetDeltaCount = reverseBefore.octetDeltaCount;
    if (!filled.includes(i)) continue;
    addTo(forward, added[0], added[1], [high[0], high[1]]);
    addTo(reverse, added[2], added[3], [high[2], high[3]]);
  }
  const r = flow.record;
  r.packetDeltaCount = before.common[0] + commonAdded[0];
  r.octetDeltaCount = before.common[1] + commonAdded[1];
  r.reversePacketDeltaCount = before.common[2] + commonAdded[2];
  r.reverseOctetDeltaCount = before.common[3] + commonAdded[3];
  for (const [forward, reverse] of groups) {
    r.packetTotalCount = Math.max(r.packetTotalCount, forward.packetTotalCount);
    r.octetTotalCount = Math.max(r.octetTotalCount, forward.octetTotalCount);
    r.reversePacketTotalCount = Math.max(r.reversePacketTotalCount, reverse.packetTotalCount);
    r.reverseOctetTotalCount = Math.max(r.reverseOctetTotalCount, reverse.octetTotalCount);
  }
}

const ZERO: CounterQuad = [0, 0, 0, 0];

/** Antrea's new aggregation record for `effective`, carrying over what outlives an item's lifetime. */
function newLifetime(
  flowKey: string,
  effective: FlowRecord,
  at: number,
  timeouts: AggregationTimeouts,
  previous: FlowState | undefined,
): FlowState {
  const entry = createEntry(flowKey, effective, at, timeouts);
  return {
    flow: entry.flow,
    activeExpireAtMs: entry.activeExpireAtMs,
    inactiveExpireAtMs: entry.inactiveExpireAtMs,
    updatedSinceExport: true,
    createdAtMs: at,
    exportSeq: previous?.exportSeq ?? 0,
    lastExportAtMs: 0,
    closed: false,
    sourceMark: previous?.sourceMark,
    destinationMark: previous?.destinationMark,
    lead: previous?.lead ?? ZERO,
  };
}

/** Antrea's update of an existing aggregation record (aggregate.ts), on the state's entry. */
function updateAntreaEntry(
  state: FlowState,
  effective: FlowRecord,
  at: number,
  timeouts: AggregationTimeouts,
) {
  const entry = {
    flow: state.flow,
    activeExpireAtMs: state.activeExpireAtMs,
    inactiveExpireAtMs: state.inactiveExpireAtMs,
  };
  updateEntry(entry, effective, at, timeouts);
  state.activeExpireAtMs = entry.activeExpireAtMs;
  state.inactiveExpireAtMs = entry.inactiveExpireAtMs;
}

function emptyResult(): FoldResult {
  return {
    state: undefined,
    rows: [],
    applied: 0,
    lateApplied: 0,
    duplicates: 0,
    covered: 0,
    stale: 0,
    gapFilled: 0,
    created: 0,
  };
}

/**
 * Applies `records` (one key, any order) to `stored`. Counters follow the agents' cumulative totals
 * (cumulative.ts), so the result does not depend on the order, on replays or on how the records were
 * split into batches; everything else follows Antrea's semantics for records newer than the newest of
 * their Node, and is left alone by late ones. An item past its TTL or closed by its inactive expiry starts
 * a new lifetime (Antrea: a new map entry); its export sequence, Node marks and lead carry over, so
 * numbering continues and a late record of the previous lifetime adds only what was not counted.
 *
 * With `schedule`, the export schedule runs as Antrea's expiry loop would have run it while the records
 * arrived: before each record, every step due by its arrival (core/flow-state/advance.ts), and after the
 * last, every step due by the latest arrival (a new ready flow is due at once). The rows those steps
 * export are returned to be written with the state.
 */
export function foldRecords(
  flowKey: string,
  stored: StoredFlow | undefined,
  records: readonly FlowRecord[],
  nowMs: number,
  timeouts: AggregationTimeouts,
  schedule?: ScheduleConfig,
): FoldResult {
  let state: FlowState | undefined = stored ? cloneState(stored.state) : undefined;
  let open = state !== undefined && !state.closed && !(stored && isExpired(stored, nowMs));
  const result = emptyResult();
  let latestArrival = Number.NEGATIVE_INFINITY;
  const advanceTo = (untilMs: number): void => {
    if (!schedule || !state || !open) return;
    const advanced = advanceSchedule(state, untilMs, schedule);
    state = advanced.state;
    result.rows.push(...advanced.rows);
    if (advanced.closed) open = false;
  };
  for (const record of records) {
    const fromSource = isRecordFromSource(record);
    const judged = judge(record, fromSource ? state?.sourceMark : state?.destinationMark);
    if (judged.verdict === 'duplicate' || judged.verdict === 'covered' || judged.verdict === 'stale') {
      result[judged.verdict === 'duplicate' ? 'duplicates' : judged.verdict]++;
      continue;
    }
    const at = arrivalTimeOf(record, nowMs);
    latestArrival = Math.max(latestArrival, at);
    advanceTo(at);
    const effective = withContribution(record, judged.contribution);
    let before: DeltaSnapshot;
    if (!state || !open) {
      state = newLifetime(flowKey, effective, at, timeouts, state);
      before = { groups: groupsOf(state.flow).map(() => [zeroCounters(), zeroCounters()]), common: ZERO };
      open = true;
      result.created++;
    } else {
      before = snapshotDeltas(state.flow);
      const inactiveBefore = state.inactiveExpireAtMs;
      // Antrea's semantics for everything but the counters; a late record changes none of those fields.
      if (judged.verdict === 'newer') updateAntreaEntry(state, effective, at, timeouts);
      state.inactiveExpireAtMs = Math.max(inactiveBefore, at + timeouts.inactiveTimeoutMs);
    }
    const correlated = isCorrelationRequired(record);
    const reporter = correlated ? (fromSource ? 'source' : 'destination') : 'both';
    const common = commonIncrease(state.lead, reporter, judged.contribution);
    state.lead = common.lead;
    const filled = reporter === 'both' ? [0, 1] : [reporter === 'source' ? 0 : 1];
    settleCounters(state.flow, before, filled, judged.contribution, judged.mark!.high, common.increase);
    if (fromSource) state.sourceMark = judged.mark;
    else state.destinationMark = judged.mark;
    state.updatedSinceExport = true;
    result.applied++;
    if (judged.verdict === 'late') result.lateApplied++;
    if (judged.gap) result.gapFilled++;
  }
  advanceTo(latestArrival);
  const changed = result.applied > 0 || result.rows.length > 0;
  return { ...result, state: changed ? state : undefined };
}
