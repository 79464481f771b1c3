// Counting from cumulative totals (functions/correlator/cumulative.ts) and its use by the fold: order,
// replays, late records, losses upstream, connection reuse, and the two Nodes of a correlated flow.
import { describe, expect, it } from 'vitest';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { commonIncrease, judge } from '../../../functions/correlator/cumulative.ts';
import { foldRecords } from '../../../functions/correlator/fold.ts';
import {
  defaultScheduleConfig,
  flowItemOf,
  type NodeMark,
  type StoredFlow,
  storedFlowOf,
} from '../../../functions/flow-store/index.ts';
import { DST, SRC, T0, TIMEOUTS } from './fixtures.ts';

/** Poll n (1-based) of an intra-Node flow whose Node counts `perPoll` octets per poll. */
function poll(n: number, perPoll: number[], start = 0): FlowRecord {
  const total = perPoll.slice(0, n).reduce((a, b) => a + b, 0);
  return {
    ...SRC(false, FlowType.IntraNode, false),
    flowStartSeconds: start,
    flowEndSeconds: start + 5 * n,
    exportTime: start + 5 * n,
    sequenceNumber: n,
    octetTotalCount: total,
    octetDeltaCount: perPoll[n - 1]!,
    packetTotalCount: n,
    packetDeltaCount: 1,
    reverseOctetTotalCount: 0,
    reverseOctetDeltaCount: 0,
    reversePacketTotalCount: 0,
    reversePacketDeltaCount: 0,
    receivedAtMs: T0 + n,
  };
}

function fold(records: FlowRecord[], stored?: StoredFlow) {
  return foldRecords(flowKeyOf(records[0]!), stored, records, T0, TIMEOUTS);
}

function stored(records: FlowRecord[]): StoredFlow {
  return { state: fold(records).state!, version: 1, expiresAt: 2e9 };
}

describe('judge: what a record adds to its Node', () => {
  const perPoll = [1000, 2000, 4000];
  const fresh = judge(poll(1, perPoll), undefined);
  it("a Node's first record adds its delta", () => {
    expect(fresh).toMatchObject({ verdict: 'newer', contribution: [1, 1000, 0, 0] });
  });
  it('the next record adds total minus the highest counted: its delta', () => {
    const next = judge(poll(2, perPoll), fresh.mark);
    expect(next).toMatchObject({ verdict: 'newer', contribution: [1, 2000, 0, 0] });
  });
  it('the same record again is a duplicate; an older one is covered', () => {
    const second = judge(poll(2, perPoll), fresh.mark).mark;
    expect(judge(poll(2, perPoll), second)).toMatchObject({
      verdict: 'duplicate',
      contribution: [0, 0, 0, 0],
    });
    expect(judge(poll(1, perPoll), second)).toMatchObject({ verdict: 'covered', contribution: [0, 0, 0, 0] });
  });
  it('a record whose predecessor was lost adds the lost bytes too (its total proves them)', () => {
    const third = judge(poll(3, perPoll), fresh.mark);
    expect(third).toMatchObject({ contribution: [2, 6000, 0, 0], gap: true });
    expect(judge(poll(2, perPoll), fresh.mark).gap).toBe(false);
  });
  it('a late record below the first counted one adds what lies below', () => {
    const first = judge(poll(2, perPoll), undefined);
    expect(first.contribution).toEqual([1, 2000, 0, 0]);
    const late = judge(poll(1, perPoll), first.mark);
    expect(late).toMatchObject({ verdict: 'late', contribution: [1, 1000, 0, 0] });
    expect(judge(poll(1, perPoll), late.mark).verdict).toBe('covered');
  });
  it('a new connection on the 5-tuple restarts the totals; a record of the old one after that is stale', () => {
    const old = judge(poll(2, perPoll), fresh.mark).mark as NodeMark;
    const reuse = judge(poll(1, [700], 100), old);
    expect(reuse).toMatchObject({ verdict: 'newer', contribution: [1, 700, 0, 0] });
    expect(judge(poll(3, perPoll), reuse.mark)).toMatchObject({
      verdict: 'stale',
      contribution: [0, 0, 0, 0],
    });
  });
});

describe('commonIncrease: the common deltas grow with the larger Node', () => {
  it('source ahead, then the destination catches up and overtakes', () => {
    let lead: [number, number, number, number] = [0, 0, 0, 0];
    const step = (side: 'source' | 'destination', c: number) => {
      const out = commonIncrease(lead, side, [c, 0, 0, 0]);
      lead = out.lead;
      return out.increase[0];
    };
    expect(step('source', 100)).toBe(100);
    expect(step('destination', 60)).toBe(0);
    expect(step('destination', 50)).toBe(10);
    expect(step('source', 5)).toBe(0);
    expect(lead[0]).toBe(-5);
  });
  it('a record filling both Nodes adds what it added', () => {
    expect(commonIncrease([3, 0, 0, 0], 'both', [7, 1, 2, 3])).toEqual({
      increase: [7, 1, 2, 3],
      lead: [3, 0, 0, 0],
    });
  });
});

describe('fold: the order does not matter (issue 14 unit reproduction)', () => {
  const perPoll = [1000, 2000];
  it('poll 1 then poll 2, or poll 2 then poll 1: 3,000 octets either way', () => {
    const inOrder = fold([poll(1, perPoll), poll(2, perPoll)]).state!;
    const reversed = fold([poll(2, perPoll), poll(1, perPoll)]);
    expect(inOrder.flow.record.octetDeltaCount).toBe(3000);
    expect(reversed.state!.flow.record.octetDeltaCount).toBe(3000);
    expect([reversed.applied, reversed.lateApplied]).toEqual([2, 1]);
  });
  it('across batches: the late record reaches the next export', () => {
    const first = stored([poll(2, perPoll)]);
    expect(first.state.flow.record.octetDeltaCount).toBe(2000);
    const late = fold([poll(1, perPoll)], first);
    expect(late.state!.flow.record.octetDeltaCount).toBe(3000);
    expect(late.state!.flow.record.octetTotalCount).toBe(3000);
  });
  it("a late record does not overwrite the newer record's end time, end reason or TCP state", () => {
    const newer = { ...poll(2, perPoll), flowEndReason: 3, tcpState: 'TIME_WAIT' };
    const first = stored([newer]);
    const state = fold([poll(1, perPoll)], first).state!;
    expect(state.flow.record).toMatchObject({ flowEndSeconds: 10, flowEndReason: 3, tcpState: 'TIME_WAIT' });
    expect(state.flow.flowEndSecondsFromDestinationNode).toBe(10);
  });
  it('a record Antrea ignores for its end time (not newer than the previous) still adds its counts', () => {
    const first = stored([poll(1, perPoll)]);
    const dying = { ...poll(2, perPoll), flowEndSeconds: 5 }; // conntrack stop time before the last poll
    expect(fold([dying], first).state!.flow.record.octetDeltaCount).toBe(3000);
  });
});

describe('fold: the two Nodes of a correlated flow', () => {
  it('peer case V-1 shape: the common deltas are the larger Node’s, each Node group its own', () => {
    const src = { ...SRC(false, FlowType.InterNode, true), receivedAtMs: T0 };
    const dst = { ...DST(false, FlowType.InterNode, true), receivedAtMs: T0 + 1 };
    for (const order of [
      [src, dst],
      [dst, src],
    ]) {
      const flow = fold(order).state!.flow;
      expect(flow.statsFromSourceNode.packetDeltaCount).toBe(500);
      expect(flow.statsFromDestinationNode.packetDeltaCount).toBe(503);
      expect(flow.record.packetDeltaCount).toBe(503);
      expect(flow.record.octetDeltaCount).toBe(1030);
      expect(flow.record.packetTotalCount).toBe(1005);
    }
  });
});

describe('item layout', () => {
  const config = defaultScheduleConfig(TIMEOUTS);
  it('round-trips the Node marks and the lead', () => {
    const state = fold([
      { ...SRC(false, FlowType.InterNode, true), receivedAtMs: T0 },
      { ...DST(false, FlowType.InterNode, true), receivedAtMs: T0 },
    ]).state!;
    expect(state.lead).toEqual([-3, -30, -3, -30]);
    expect(storedFlowOf(flowItemOf(state, 1, T0, config)).state).toEqual(state);
  });
  it('reads a layout-1 item (per-Node watermarks): its totals count as counted', () => {
    const state = fold([{ ...SRC(false, FlowType.InterNode, true), receivedAtMs: T0 }]).state!;
    const item = flowItemOf(state, 1, T0, config);
    const v2 = item.agg!.L!.map((v) => Number(v.N));
    // Layout 1: the same head, then {flowEnd, 4 totals, exportTime, seq} per Node, no lead.
    const head = v2.slice(0, 30);
    const v1 = [1, ...head.slice(1), 10, 1000, 2000, 1000, 2000, 10, 2, ...new Array(7).fill(0)];
    const back = storedFlowOf({ ...item, agg: { L: v1.map((n) => ({ N: String(n) })) } }).state;
    expect(back.sourceMark).toEqual({
      connectionStart: 0,
      low: [0, 0, 0, 0],
      high: [1000, 2000, 1000, 2000],
      exportTime: 10,
      sequenceNumber: 2,
    });
    const replay = foldRecords(
      state.flow.flowKey,
      { state: back, version: 1, expiresAt: 2e9 },
      [{ ...SRC(false, FlowType.InterNode, true), receivedAtMs: T0 }],
      T0,
      TIMEOUTS,
    );
    expect(replay.state).toBeUndefined();
    expect(replay.duplicates).toBe(1);
  });
});
