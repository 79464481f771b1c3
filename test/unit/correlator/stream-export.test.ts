// The stream export model's pure parts: the correlator advancing the export schedule in its writes
// (core/flow-state/advance.ts, fold.ts), the lazy due-index key, the closed rows' encoding in the item
// (functions/flow-store/closed-rows.ts), and the ticker (functions/ticker/ticker.ts) on the in-memory table.
import { describe, expect, it } from 'vitest';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { FlowEndReason, type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { advanceSchedule, indexKeyOf } from '../../../core/flow-state/advance.ts';
import { foldRecords } from '../../../functions/correlator/fold.ts';
import { ClosedRowsError, decodeClosedRows } from '../../../functions/flow-store/closed-rows.ts';
import {
  closedRowsOf,
  defaultScheduleConfig,
  type FlowState,
  flowItemOf,
  itemSizeOf,
  nextExportAtOf,
  processDue,
} from '../../../functions/flow-store/index.ts';
import { ATTR } from '../../../functions/flow-store/schema.ts';
import { Ticker } from '../../../functions/ticker/ticker.ts';
import { generateRecords } from '../../../workloads/correlator-workload.ts';
import { MemoryFlowTable } from '../../support/memory-flow-table.ts';
import { DST, SRC, T0, TIMEOUTS } from './fixtures.ts';

const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, incompleteAfterMs: 300 });
const LAZY = { slackMs: 1000, marginMs: 200 };

function at(record: FlowRecord, ms: number, sequenceNumber: number): FlowRecord {
  return { ...record, receivedAtMs: ms, exportTime: ms / 1000, sequenceNumber };
}

/** An intra-Node flow's record with cumulative totals `total` (packets, octets x 10). */
function intra(total: number, ms: number, sequenceNumber: number): FlowRecord {
  const r = SRC(false, FlowType.IntraNode, true);
  r.packetTotalCount = total;
  r.packetDeltaCount = 1;
  r.octetTotalCount = total * 10;
  r.octetDeltaCount = 10;
  r.flowEndReason = FlowEndReason.ActiveTimeout;
  return at(r, ms, sequenceNumber);
}

function fold(state: FlowState | undefined, records: FlowRecord[], nowMs: number) {
  const key = flowKeyOf(records[0]!);
  const stored = state && { state, version: 1, expiresAt: Number.MAX_SAFE_INTEGER };
  return foldRecords(key, stored, records, nowMs, TIMEOUTS, CONFIG);
}

describe('the correlator advances the export schedule in its writes', () => {
  it('a new ready flow is exported by the write that creates it', () => {
    const folded = fold(undefined, [intra(1, T0, 1)], T0);
    expect(folded.rows.map((r) => [r.exportSeq, r.exportedAtMs, r.flow.record.packetDeltaCount])).toEqual([
      [1, T0, 1],
    ]);
    expect(folded.state!.exportSeq).toBe(1);
    expect(folded.state!.updatedSinceExport).toBe(false);
  });

  it('closes each period at its due time, on the grid, before folding a later record into the next one', () => {
    const first = fold(undefined, [intra(1, T0, 1)], T0).state!;
    // Records every 40 ms with activeTimeout 100: the periods end at T0 + 100, + 200, ...
    const later = fold(first, [intra(2, T0 + 40, 2), intra(3, T0 + 80, 3), intra(4, T0 + 120, 4)], T0 + 120);
    expect(later.rows.map((r) => [r.exportSeq, r.exportedAtMs, r.flow.record.packetDeltaCount])).toEqual([
      [2, T0 + 100, 2],
    ]);
    expect(later.state!.flow.record.packetDeltaCount).toBe(1);
    expect(later.state!.activeExpireAtMs).toBe(T0 + 200);
  });

  it('a record after the inactive expiry: the old lifetime is closed (its last row) and a new one starts', () => {
    const first = fold(undefined, [intra(1, T0, 1)], T0).state!;
    const next = fold(first, [intra(2, T0 + 40, 2)], T0 + 40).state!;
    const late = fold(next, [intra(3, T0 + 500, 3)], T0 + 500);
    // T0 + 100: the second record's delta; inactive expiry at T0 + 190 closes the lifetime; then a new one.
    expect(late.rows.map((r) => [r.exportSeq, r.exportedAtMs, r.createdAtMs])).toEqual([
      [2, T0 + 100, T0],
      [3, T0 + 500, T0 + 500],
    ]);
    expect(late.created).toBe(1);
  });

  it('a replayed batch writes nothing: the first write already closed what was due', () => {
    const records = [intra(1, T0, 1), intra(2, T0 + 40, 2), intra(3, T0 + 120, 3)];
    const once = fold(undefined, records, T0 + 120);
    const again = fold(once.state!, records, T0 + 5000);
    expect(again.state).toBeUndefined();
    expect(again.rows).toEqual([]);
  });

  it('advanceSchedule steps at each due time, never backwards, and stops at a close', () => {
    const state = fold(undefined, [intra(1, T0, 1)], T0).state!;
    state.updatedSinceExport = true;
    const advanced = advanceSchedule(state, T0 + 1000, CONFIG);
    expect(advanced.rows.map((r) => r.exportedAtMs)).toEqual([T0 + 100]);
    expect(advanced.closed).toBe(true);
    expect(advanced.state.closed).toBe(true);
    expect(advanceSchedule(state, T0 + 99, CONFIG).state).toBe(state); // nothing due: the same object
  });
});

describe('lazy due-index key', () => {
  const live = () => fold(undefined, [intra(1, T0, 1)], T0).state!;
  it('a live flow keeps its key while it is ahead, then moves it to its due time plus the slack', () => {
    const state = live();
    const exact = nextExportAtOf(state, CONFIG)!;
    expect(indexKeyOf(state, undefined, T0, CONFIG, LAZY)).toBe(exact + LAZY.slackMs);
    expect(indexKeyOf(state, exact + 900, T0, CONFIG, LAZY)).toBe(exact + 900);
    // Within the margin of the write's time: moved.
    expect(indexKeyOf(state, T0 + 150, T0, CONFIG, LAZY)).toBe(exact + LAZY.slackMs);
    // Before the exact due time, or later than due + slack: moved.
    expect(indexKeyOf(state, exact - 1, T0 - 1000, CONFIG, LAZY)).toBe(exact + LAZY.slackMs);
    expect(indexKeyOf(state, exact + LAZY.slackMs + 1, T0, CONFIG, LAZY)).toBe(exact + LAZY.slackMs);
  });
  it('exact for a waiting half, an ended flow, a closed one (none) and without lazy settings', () => {
    const half = fold(undefined, [at(SRC(false, FlowType.InterNode, false), T0, 1)], T0).state!;
    expect(indexKeyOf(half, undefined, T0, CONFIG, LAZY)).toBe(T0 + CONFIG.incompleteAfterMs);
    const ended = live();
    ended.flow.record.flowEndReason = FlowEndReason.EndOfFlow;
    expect(indexKeyOf(ended, undefined, T0, CONFIG, LAZY)).toBe(nextExportAtOf(ended, CONFIG));
    expect(indexKeyOf({ ...live(), closed: true }, T0 + 5000, T0, CONFIG, LAZY)).toBeUndefined();
    expect(indexKeyOf(live(), T0 + 5000, T0, CONFIG, undefined)).toBe(nextExportAtOf(live(), CONFIG));
  });
});

describe('closed rows in the item', () => {
  it('round-trip through the item: the rows the stream carries are the rows the write closed', () => {
    const records = [intra(1, T0, 1), intra(2, T0 + 40, 2), intra(3, T0 + 120, 3)];
    const folded = fold(undefined, records, T0 + 120);
    expect(folded.rows).toHaveLength(2);
    const item = flowItemOf(folded.state!, 1, T0 + 120, CONFIG, { rows: folded.rows, indexKey: 5 });
    expect(item[ATTR.nextExportAt]).toEqual({ N: '5' });
    const decoded = closedRowsOf(structuredClone(item));
    expect(decoded).toEqual(folded.rows);
    expect(closedRowsOf(flowItemOf(folded.state!, 1, T0, CONFIG))).toEqual([]);
  });

  it('an item with long names, Pod labels and a closed row stays under 1 KB (one write unit)', () => {
    const [record] = generateRecords({
      flows: 1,
      rounds: 1,
      interNodeShare: 0,
      intervalSeconds: 5,
      startSeconds: T0 / 1000,
      seed: 3,
      names: 'long',
    });
    const first = fold(undefined, [{ ...record!, receivedAtMs: T0 }], T0).state!;
    const later = { ...record!, receivedAtMs: T0 + 150, exportTime: record!.exportTime + 1 };
    later.packetTotalCount += 1_000_000;
    later.octetTotalCount += 900_000_000;
    const folded = fold(first, [later], T0 + 150);
    expect(folded.rows).toHaveLength(1);
    const item = flowItemOf(folded.state!, 2, T0 + 150, CONFIG, { rows: folded.rows, indexKey: T0 });
    expect(itemSizeOf(item)).toBeLessThan(1024);
    expect(closedRowsOf(item)).toEqual(folded.rows);
  });

  it('corrupt rows or another dictionary give a ClosedRowsError, never wrong rows', () => {
    const folded = fold(undefined, [intra(1, T0, 1)], T0);
    const item = flowItemOf(folded.state!, 1, T0, CONFIG, { rows: folded.rows, indexKey: T0 });
    const bytes = item[ATTR.rows]!.B!;
    expect(() => decodeClosedRows(bytes, 'k', Buffer.from('another dictionary'))).toThrow(ClosedRowsError);
    expect(() => decodeClosedRows(bytes.subarray(0, bytes.length - 3), 'k', Buffer.alloc(0))).toThrow(
      ClosedRowsError,
    );
  });
});

describe('the ticker closes flows no record reaches', () => {
  it('applies the due steps at their due times and writes the rows with the exact next due time', async () => {
    const table = new MemoryFlowTable(CONFIG);
    let now = T0;
    const write = async (records: FlowRecord[]) => {
      const key = flowKeyOf(records[0]!);
      const stored = (await table.read([key])).flows.get(key);
      const folded = foldRecords(key, stored, records, now, TIMEOUTS, CONFIG);
      const indexKey = indexKeyOf(folded.state!, stored?.indexKey, now, CONFIG, LAZY);
      await table.write(folded.state!, stored?.version, now, { rows: folded.rows, indexKey });
    };
    await write([intra(1, T0, 1)]);
    now = T0 + 40;
    await write([intra(2, T0 + 40, 2)]);
    const ticker = new Ticker(table, {
      schedule: CONFIG,
      maxFlowsPerRound: 10,
      writeConcurrency: 1,
      clock: () => now,
    });
    // The lazy key (due + slack) is not reached: the ticker leaves the live flow to the correlator.
    now = T0 + 500;
    expect(await ticker.round()).toMatchObject({ ok: true, dueFlows: 0, atRest: false });
    now = T0 + 1200;
    const report = await ticker.round();
    expect(report).toMatchObject({ ok: true, advancedFlows: 1, rowsClosed: 1, closedFlows: 1, atRest: true });
    const last = table.changes.at(-1)!;
    expect(closedRowsOf(last).map((r) => [r.exportSeq, r.exportedAtMs])).toEqual([[2, T0 + 100]]);
    expect(last[ATTR.nextExportAt]).toBeUndefined();
  });

  it('a stale read costs a refused write, not a round: the ticker writes again from the item returned', async () => {
    const table = new MemoryFlowTable(CONFIG);
    const first = fold(undefined, [intra(1, T0, 1)], T0);
    await table.write(first.state!, undefined, T0, { rows: first.rows, indexKey: T0 });
    const key = first.state!.flow.flowKey;
    const stored = (await table.read([key])).flows.get(key)!;
    const second = fold(stored.state, [intra(2, T0 + 40, 2)], T0 + 40);
    await table.write(second.state!, stored.version, T0 + 40, { rows: second.rows, indexKey: T0 });
    table.staleRead = () => true; // every read returns the item as it was before its latest write
    const now = T0 + 1200;
    const ticker = new Ticker(table, {
      schedule: CONFIG,
      maxFlowsPerRound: 10,
      writeConcurrency: 1,
      clock: () => now,
    });
    const report = await ticker.round();
    expect(report).toMatchObject({ ok: true, conflicts: 1, advancedFlows: 1, closedFlows: 1 });
    // Closed from the current item: its second record's counts are in the last row.
    const last = table.changes.at(-1)!;
    const total = second.state!.flow.record.octetTotalCount;
    expect(total).toBeGreaterThan(first.state!.flow.record.octetTotalCount);
    expect(closedRowsOf(last).map((r) => [r.exportSeq, r.flow.record.octetTotalCount])).toEqual([[2, total]]);
  });

  it('processDue at a due time is what the ticker and the correlator both apply', () => {
    const state = fold(undefined, [intra(1, T0, 1)], T0).state!;
    state.updatedSinceExport = true;
    expect(advanceSchedule(state, T0 + 100, CONFIG).state).toEqual(processDue(state, T0 + 100, CONFIG).state);
  });
});

describe('inter-Node halves', () => {
  it('the write that brings the peer closes the first row of the correlated flow', () => {
    const half = fold(undefined, [at(SRC(false, FlowType.InterNode, false), T0, 1)], T0);
    expect(half.rows).toEqual([]);
    const both = fold(half.state!, [at(DST(false, FlowType.InterNode, false), T0 + 20, 1)], T0 + 20);
    expect(both.rows.map((r) => [r.exportSeq, r.flow.readyToSend, r.flow.incomplete])).toEqual([
      [1, true, false],
    ]);
  });
});
