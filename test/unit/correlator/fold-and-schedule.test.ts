// The stored-state layer: per-Node marks (replays), lifetimes, Antrea HEAD's export schedule per item (H-12, H-13),
// incomplete export of lonely halves, and the item encoding.
import { describe, expect, it } from 'vitest';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { foldRecords, groupByFlowKey } from '../../../functions/correlator/fold.ts';
import {
  conditionalStatementOf,
  conditionalWriteOf,
  defaultScheduleConfig,
  dueShardOf,
  expiresAtOf,
  FlowItemError,
  type FlowState,
  flowItemOf,
  itemSizeOf,
  nextExportAtOf,
  processDue,
  type StoredFlow,
  storedFlowOf,
} from '../../../functions/flow-store/index.ts';
import { generateRecords } from '../../../workloads/correlator-workload.ts';
import { DST, SRC, T0, TIMEOUTS } from './fixtures.ts';

const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, incompleteAfterMs: 300 });

function at(record: FlowRecord, ms: number): FlowRecord {
  return { ...record, receivedAtMs: ms };
}

/** Applies records like the correlator (fold + store as a new version); returns the stored view. */
function apply(stored: StoredFlow | undefined, records: FlowRecord[], nowMs = T0): StoredFlow | undefined {
  const key = flowKeyOf(records[0]!);
  const folded = foldRecords(key, stored, records, nowMs, TIMEOUTS);
  if (!folded.state) return stored;
  return {
    state: folded.state,
    version: (stored?.version ?? 0) + 1,
    expiresAt: expiresAtOf(folded.state, nowMs, CONFIG),
  };
}

const inter = (updated: boolean) => [
  SRC(false, FlowType.InterNode, updated),
  DST(false, FlowType.InterNode, updated),
];

describe('replays (Node marks)', () => {
  it('applying the same records 3 times gives the same state', () => {
    const records = [...inter(false), ...inter(true)].map((r, i) => at(r, T0 + i * 10));
    const once = apply(undefined, records)!;
    const key = flowKeyOf(records[0]!);
    for (let i = 0; i < 2; i++) {
      const again = foldRecords(key, once, records, T0 + 1000, TIMEOUTS);
      expect(again.state).toBeUndefined();
      // Each Node's newest record is a duplicate; its older one is covered by the newer total.
      expect([again.duplicates, again.covered]).toEqual([2, 2]);
    }
  });
  it('a batch overlapping what was applied applies only the new records', () => {
    const records = [...inter(false), ...inter(true)].map((r, i) => at(r, T0 + i * 10));
    const sequential = apply(undefined, records)!;
    const first = apply(undefined, records.slice(0, 3))!;
    const overlap = foldRecords(flowKeyOf(records[0]!), first, records.slice(1), T0, TIMEOUTS);
    expect([overlap.applied, overlap.duplicates, overlap.covered]).toEqual([1, 2, 0]);
    expect(overlap.state).toEqual(sequential.state);
  });
  it('a genuinely new record that carries no new counters is still applied (newer export position)', () => {
    const records = [...inter(false), ...inter(true)].map((r, i) => at(r, T0 + i * 10));
    const state = apply(undefined, records)!;
    const dying = {
      ...at(SRC(false, FlowType.InterNode, true), T0 + 50),
      flowEndSeconds: 8,
      sequenceNumber: 3,
    };
    const folded = foldRecords(flowKeyOf(dying), state, [dying], T0, TIMEOUTS);
    expect(folded.applied).toBe(1);
    expect(folded.state!.flow.flowEndSecondsFromSourceNode).toBe(8); // Antrea's backwards move (step 2)
  });
});

describe('lifetimes', () => {
  it('a closed item starts a new lifetime, keeping exportSeq and recognising old replays', () => {
    const first = at(SRC(false, FlowType.IntraNode, false), T0);
    let stored = apply(undefined, [first])!;
    let out = processDue(stored.state, T0, CONFIG);
    expect(out.exported?.exportSeq).toBe(1);
    out = processDue(out.state, T0 + 150, CONFIG); // inactive expiry
    expect(out.closed).toBe(true);
    expect(nextExportAtOf(out.state, CONFIG)).toBeUndefined();
    stored = { ...stored, state: out.state, version: stored.version + 1 };
    expect(foldRecords(stored.state.flow.flowKey, stored, [first], T0 + 200, TIMEOUTS).state).toBeUndefined();
    const reuse = {
      ...at(SRC(false, FlowType.IntraNode, false), T0 + 200),
      flowStartSeconds: 20,
      flowEndSeconds: 21,
      exportTime: 21,
    };
    const next = foldRecords(stored.state.flow.flowKey, stored, [reuse], T0 + 200, TIMEOUTS);
    expect(next.created).toBe(1);
    expect(next.state!.closed).toBe(false);
    expect(next.state!.createdAtMs).toBe(T0 + 200);
    expect(next.state!.exportSeq).toBe(1);
    expect(processDue(next.state!, T0 + 200, CONFIG).exported?.dedupToken).toBe(
      `${stored.state.flow.flowKey}#${T0 + 200}#2`,
    );
  });
  it('an item past its TTL is treated as absent', () => {
    const stored = apply(undefined, [at(SRC(false, FlowType.IntraNode, false), T0)])!;
    const later = stored.expiresAt * 1000 + 1;
    const record = { ...at(SRC(false, FlowType.IntraNode, true), later) };
    const folded = foldRecords(stored.state.flow.flowKey, stored, [record], later, TIMEOUTS);
    expect(folded.created).toBe(1);
    expect(folded.state!.flow.statsFromSourceNode.packetDeltaCount).toBe(500); // a fresh entry, not aggregated
  });
});

describe('export schedule (Antrea HEAD ForAllExpiredFlowRecordsDo per item)', () => {
  it('H-13: no re-export without new records; deleted (closed) at inactive expiry', () => {
    let state = apply(undefined, [at(SRC(false, FlowType.IntraNode, false), T0)])!.state;
    let out = processDue(state, T0, CONFIG);
    expect(out.exported).toBeDefined(); // 1. ready: exported at the next tick
    out = processDue(out.state, T0 + 100, CONFIG);
    expect([out.due, out.exported, out.closed]).toEqual([true, undefined, false]); // 2. no new record
    state = apply({ state: out.state, version: 2, expiresAt: 2e9 }, [
      at(SRC(false, FlowType.IntraNode, true), T0 + 100),
    ])!.state;
    out = processDue(state, T0 + 200, CONFIG);
    expect(out.exported).toBeDefined(); // 3. new record -> export
    out = processDue(out.state, T0 + 250, CONFIG);
    expect([out.due, out.exported, out.closed]).toEqual([true, undefined, true]); // 4. inactive, nothing new
  });
  it('H-12: not due before the expiry; an export resets deltas and throughputs, keeps totals', () => {
    const state = apply(
      undefined,
      inter(false).map((r, i) => at(r, T0 + i * 10)),
    )!.state;
    expect(nextExportAtOf(state, CONFIG)).toBe(T0 + 10); // ready when the second half arrived
    expect(processDue(state, T0 + 9, CONFIG).due).toBe(false);
    const out = processDue(state, T0 + 100, CONFIG);
    expect(out.exported!.flow.throughput).toBe(8160);
    expect(out.exported!.flow.incomplete).toBe(false);
    expect(out.state.flow.throughput).toBe(0);
    expect(out.state.flow.record.packetTotalCount).toBe(502);
    expect(out.state.activeExpireAtMs).toBe(T0 + 200);
    expect(state.updatedSinceExport).toBe(true); // input untouched
    const both = processDue(
      apply(
        { state: out.state, version: 2, expiresAt: 2e9 },
        inter(true).map((r) => at(r, T0 + 120)),
      )!.state,
      T0 + 270,
      CONFIG,
    );
    expect(both.exported!.flow.statsFromDestinationNode.packetDeltaCount).toBe(503);
    expect(both.closed).toBe(true); // inactive expiry at T0+120+150: exported, then deleted
  });
  it('H-12.6 / Flowline: a half that never finds its peer is exported incomplete (Antrea deletes it silently)', () => {
    const state = apply(undefined, [at(SRC(false, FlowType.InterNode, false), T0)])!.state;
    expect(state.flow.readyToSend).toBe(false);
    expect(nextExportAtOf(state, CONFIG)).toBe(T0 + CONFIG.incompleteAfterMs);
    expect(processDue(state, T0 + 299, CONFIG).due).toBe(false);
    const out = processDue(state, T0 + 300, CONFIG);
    expect(out.exported!.flow.incomplete).toBe(true);
    expect(out.closed).toBe(true); // no record for longer than the inactive timeout
  });
  it('the default bound is 3 x activeFlowRecordTimeout', () => {
    const config = defaultScheduleConfig();
    expect(config.incompleteAfterMs).toBe(180_000);
    const state = apply(undefined, [at(SRC(false, FlowType.InterNode, false), T0)])!.state;
    expect(nextExportAtOf(state, config)).toBe(T0 + 180_000);
  });
});

describe('item encoding', () => {
  const state = (): FlowState =>
    apply(
      undefined,
      [...inter(false), ...inter(true)].map((r, i) => at(r, T0 + i)),
    )!.state;
  it('round-trips through the DynamoDB item', () => {
    const s = state();
    const item = flowItemOf(s, 7, T0, CONFIG);
    const back = storedFlowOf(item);
    expect(back.state).toEqual(s);
    expect(back.version).toBe(7);
    expect(item.dueShard?.S).toBe(dueShardOf(s.flow.flowKey, CONFIG.dueShardCount));
    expect(Number(item.nextExportAt?.N)).toBe(nextExportAtOf(s, CONFIG));
  });
  it('round-trips a wrapped uint64 throughput above 2^53', () => {
    const s = state();
    s.flow.throughput = 18446744073709550000;
    expect(storedFlowOf(flowItemOf(s, 1, T0, CONFIG)).state.flow.throughput).toBe(s.flow.throughput);
  });
  describe('the record attribute', () => {
    /** Both Nodes' records of one inter-Node flow with long names and Pod labels, folded. */
    const longNamed = (): FlowState => {
      const records = generateRecords({
        flows: 1,
        rounds: 1,
        interNodeShare: 1,
        intervalSeconds: 5,
        startSeconds: T0 / 1000,
        seed: 3,
        names: 'long',
      });
      return apply(
        undefined,
        records.map((r, i) => at(r, T0 + i)),
      )!.state;
    };

    it('long names and Pod labels: deflated, the item stays under 1 KB (one write unit), and round-trips', () => {
      const s = longNamed();
      expect(s.flow.record.sourcePodLabels).not.toBe('');
      expect(s.flow.record.destinationPodLabels).not.toBe('');
      const item = flowItemOf(s, 2, T0, CONFIG);
      const raw = encodeWireBatch([s.flow.record]);
      expect(item.rec?.B?.[0]).toBe(0x5a);
      expect(itemSizeOf({ ...item, rec: { B: raw } })).toBeGreaterThan(1024);
      expect(itemSizeOf(item)).toBeLessThanOrEqual(1024);
      expect(storedFlowOf(item).state).toEqual(s);
    });

    it('short records are stored as wire records; items written before records were deflated still read', () => {
      const short = state();
      expect(flowItemOf(short, 1, T0, CONFIG).rec?.B?.[0]).toBe(0x46); // the wire magic 'F'
      const s = longNamed();
      const older = { ...flowItemOf(s, 2, T0, CONFIG), rec: { B: encodeWireBatch([s.flow.record]) } };
      expect(storedFlowOf(older).state).toEqual(s);
    });

    it('a deflated record that does not inflate is a FlowItemError naming the item', () => {
      const item = flowItemOf(longNamed(), 2, T0, CONFIG);
      const broken = { ...item, rec: { B: Uint8Array.from([0x5a, 0xff, 0xff, 0xff, 0xff]) } };
      expect(() => storedFlowOf(broken)).toThrow(FlowItemError);
      expect(() => storedFlowOf(broken)).toThrow(/does not inflate/);
    });
  });

  it('a closed flow leaves the index: the write removes its keys', () => {
    const s = { ...state(), closed: true };
    const write = conditionalWriteOf(s, 3, T0, CONFIG);
    expect(write.UpdateExpression).toMatch(/REMOVE #dueShard, #nextExportAt, #rows$/);
    expect(write.ConditionExpression).toBe('#v = :expectedVersion');
    expect(conditionalWriteOf(s, undefined, T0, CONFIG).ConditionExpression).toBe(
      'attribute_not_exists(#pk)',
    );
  });
  it('the same write as a PartiQL UPDATE: every attribute set or removed, conditional on the version', () => {
    const open = state();
    const statement = conditionalStatementOf('flows "x"', open, 3, T0, CONFIG);
    expect(statement.Statement).toBe(
      'UPDATE "flows ""x""" SET "v" = ? SET "rec" = ? SET "agg" = ? SET "updated" = ? SET "exportSeq" = ? ' +
        'SET "expiresAt" = ? SET "dueShard" = ? SET "nextExportAt" = ? REMOVE "rows" WHERE "pk" = ? AND "v" = ?',
    );
    const item = flowItemOf(open, 4, T0, CONFIG);
    const write = conditionalWriteOf(open, 3, T0, CONFIG);
    expect(statement.Parameters).toEqual([
      ...Object.keys(write.ExpressionAttributeValues)
        .filter((name) => name !== ':expectedVersion')
        .map((name) => item[name.slice(1)]),
      { S: open.flow.flowKey },
      { N: '3' },
    ]);
    const closed = conditionalStatementOf('flows', { ...open, closed: true }, 3, T0, CONFIG).Statement;
    expect(closed).toMatch(
      / REMOVE "dueShard" REMOVE "nextExportAt" REMOVE "rows" WHERE "pk" = \? AND "v" = \?$/,
    );
  });
  it('due shards spread keys', () => {
    const keys = groupByFlowKey(
      Array.from({ length: 2000 }, (_, i) => ({
        record: { ...SRC(false, FlowType.IntraNode, false), sourceTransportPort: 1000 + i },
        origin: 0,
      })),
    ).map((g) => dueShardOf(g.flowKey, 16));
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    expect(counts.size).toBe(16);
    expect(Math.min(...counts.values())).toBeGreaterThan(2000 / 16 / 2);
  });
});
