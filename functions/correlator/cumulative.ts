// Exactly-once counting from the agents' cumulative totals (docs/exactly-once.md). Pure.
//
// Every Antrea record carries, per connection and per reporting Node, cumulative totals (packetTotalCount,
// octetTotalCount and the reverse pair) next to the deltas since that Node's previous export. A record's
// delta covers the interval (total - delta, total] of its Node's counter. Per Node and connection the item
// keeps the interval already counted, [low, high] per counter (a NodeMark), and a record contributes only
// the part of its interval not counted yet, plus any gap between the two (bytes of records that were lost
// or are still on their way, which its total proves were sent):
//     contribution = max(0, total - high) + max(0, low - (total - delta))
// In order and complete, that is exactly each record's delta. Out of order, late, replayed or after a loss,
// the contributions still add up to the Node's final total minus what preceded its first counted record,
// whatever the order: a replay or a late record adds 0 (a newer total already covered it), a record whose
// predecessor was lost adds the predecessor's bytes too. The connection is named by its flowStartSeconds
// (conntrack's start time): a 5-tuple reused by a new connection restarts the totals, and a record of an
// older connection arriving after the newer one started cannot be placed any more (counted, see below).
// Counters are 64-bit in conntrack and never wrap in practice (2^64 bytes); a total lower than one already
// counted for the same connection can only come from an older record, and adds nothing.
import type { FlowRecord } from '../../core/flow-record.ts';
import type { CounterQuad, NodeMark } from '../../core/flow-state/state.ts';

/** What a record is, relative to what its Node already reported for the flow. */
export type Verdict =
  /** Newer than anything applied from its Node (or the first): applied with Antrea's semantics. */
  | 'newer'
  /** Older than the newest applied from its Node, but it carries counts not yet counted: counters only. */
  | 'late'
  /** The newest applied record of its Node again (same export position): a replay, adds nothing. */
  | 'duplicate'
  /** Older than the newest applied from its Node and fully covered by the newer totals: adds nothing. */
  | 'covered'
  /** A record of an earlier connection on this 5-tuple after the Node reported a newer one: dropped. */
  | 'stale';

export interface Judgement {
  verdict: Verdict;
  /** Counts not yet counted: [packets, octets, reversePackets, reverseOctets]. */
  contribution: CounterQuad;
  /** The Node's mark after the record (unchanged for duplicate, covered and stale). */
  mark: NodeMark | undefined;
  /**
   * Its delta starts above what was counted: a predecessor was lost upstream or is still on its way, and
   * this record's total counted its bytes (a late predecessor then adds nothing).
   */
  gap: boolean;
}

const TOTALS = [
  'packetTotalCount',
  'octetTotalCount',
  'reversePacketTotalCount',
  'reverseOctetTotalCount',
] as const;
const DELTAS = [
  'packetDeltaCount',
  'octetDeltaCount',
  'reversePacketDeltaCount',
  'reverseOctetDeltaCount',
] as const;

export function totalsOf(record: FlowRecord): CounterQuad {
  return TOTALS.map((field) => record[field]) as CounterQuad;
}

function deltasOf(record: FlowRecord): CounterQuad {
  return DELTAS.map((field) => record[field]) as CounterQuad;
}

/** The lower end of each counter's interval: total - delta, never below 0 (a delta above its total). */
function startsOf(record: FlowRecord): CounterQuad {
  const totals = totalsOf(record);
  const deltas = deltasOf(record);
  return totals.map((total, i) => Math.max(0, total - deltas[i]!)) as CounterQuad;
}

/** Compares export positions (exportTime, sequenceNumber) lexicographically. */
function comparePosition(record: FlowRecord, mark: NodeMark): number {
  if (record.exportTime !== mark.exportTime) return record.exportTime < mark.exportTime ? -1 : 1;
  if (record.sequenceNumber !== mark.sequenceNumber)
    return record.sequenceNumber < mark.sequenceNumber ? -1 : 1;
  return 0;
}

function freshMark(record: FlowRecord): NodeMark {
  return {
    connectionStart: record.flowStartSeconds,
    low: startsOf(record),
    high: totalsOf(record),
    exportTime: record.exportTime,
    sequenceNumber: record.sequenceNumber,
  };
}

/** Judges one record against its Node's mark: what it adds and what the mark becomes. */
export function judge(record: FlowRecord, mark: NodeMark | undefined): Judgement {
  if (!mark || record.flowStartSeconds > mark.connectionStart) {
    // The Node's first record of this connection: its delta is what the agent had not reported before.
    const fresh = freshMark(record);
    const contribution = fresh.high.map((high, i) => high - fresh.low[i]!) as CounterQuad;
    return { verdict: 'newer', contribution, mark: fresh, gap: false };
  }
  if (record.flowStartSeconds < mark.connectionStart) {
    return { verdict: 'stale', contribution: [0, 0, 0, 0], mark, gap: false };
  }
  const totals = totalsOf(record);
  const starts = startsOf(record);
  const high = mark.high.map((h, i) => Math.max(h, totals[i]!)) as CounterQuad;
  const low = mark.low.map((l, i) => Math.min(l, starts[i]!)) as CounterQuad;
  const contribution = high.map((h, i) => h - mark.high[i]! + (mark.low[i]! - low[i]!)) as CounterQuad;
  const position = comparePosition(record, mark);
  const adds = contribution.some((c) => c > 0);
  const gap = starts.some((start, i) => start > mark.high[i]!);
  if (position > 0) {
    return {
      verdict: 'newer',
      contribution,
      mark: { ...mark, low, high, exportTime: record.exportTime, sequenceNumber: record.sequenceNumber },
      gap,
    };
  }
  if (!adds) return { verdict: position === 0 ? 'duplicate' : 'covered', contribution, mark, gap: false };
  return { verdict: 'late', contribution, mark: { ...mark, low, high }, gap };
}

/**
 * The common counters' increase when a reporting Node's running sum grows by `added`. The common total is
 * the larger of the two Nodes' (Antrea: max over Nodes), so the common delta is the growth of
 * max(sumSource, sumDestination); `lead` = sumSource - sumDestination per counter is all it takes to know
 * it. Returns the increase and the new lead. A record that fills both Nodes' groups (no correlation)
 * grows both sums alike: the increase is what it added, the lead does not move.
 */
export function commonIncrease(
  lead: CounterQuad,
  side: 'source' | 'destination' | 'both',
  added: CounterQuad,
): { increase: CounterQuad; lead: CounterQuad } {
  if (side === 'both') return { increase: added, lead };
  const increase: number[] = [];
  const next: number[] = [];
  for (let i = 0; i < 4; i++) {
    const d = lead[i]!;
    const c = added[i]!;
    if (side === 'source') {
      increase.push(Math.max(d + c, 0) - Math.max(d, 0));
      next.push(d + c);
    } else {
      increase.push(c + Math.max(d - c, 0) - Math.max(d, 0));
      next.push(d - c);
    }
  }
  return { increase: increase as CounterQuad, lead: next as CounterQuad };
}
