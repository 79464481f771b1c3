// The bucketed layout's pure parts (functions/flow-store/buckets.ts): the entries' encoding (names apart,
// columns of deltas), the bucket's due key, the rows of several flows in one attribute, and the routing hash
// that puts a bucket's flows on one collector lane (core/flow-routing.ts).
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowRoutingHash } from '../../../collector-edge/shard-map.ts';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { bucketRoutingHash, flowBucketOf } from '../../../core/flow-routing.ts';
import { foldRecords } from '../../../functions/correlator/fold.ts';
import {
  type BucketEntry,
  bucketKeyOf,
  decodeEntries,
  encodeEntries,
  namesChanged,
} from '../../../functions/flow-store/bucket-entries.ts';
import { bucketPkOf } from '../../../functions/flow-store/buckets.ts';
import { decodeRowGroups, encodeRowGroups } from '../../../functions/flow-store/closed-rows.ts';
import { defaultScheduleConfig, type FlowState } from '../../../functions/flow-store/index.ts';
import { flowLayoutFromEnv } from '../../../functions/flow-store/layout.ts';
import { DEFAULT_FLOW_BUCKETS } from '../../../functions/flow-store/schema.ts';
import { generateRecords } from '../../../workloads/correlator-workload.ts';

const CONFIG = defaultScheduleConfig();
const TIMEOUTS = { activeTimeoutMs: CONFIG.activeTimeoutMs, inactiveTimeoutMs: CONFIG.inactiveTimeoutMs };
const T0 = 1_800_000_000_000;

/** Live flows' states after a minute of records, with the rows their folds closed. */
function liveStates(flows: number, names: 'short' | 'long' = 'long') {
  const records = generateRecords({
    ...{ flows, rounds: 12, interNodeShare: 0.8, intervalSeconds: 5, startSeconds: T0 / 1000 },
    ...{ seed: 3, names, phases: 'spread' },
  });
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) byKey.set(flowKeyOf(r), [...(byKey.get(flowKeyOf(r)) ?? []), r]);
  return [...byKey].map(([key, list]) => foldRecords(key, undefined, list, T0 + 60_000, TIMEOUTS, CONFIG));
}

function entryOf(state: FlowState, dueBy: number | undefined): BucketEntry {
  return { state, changedAt: 7, dueBy, expiresAt: 1_800_086_400, namesExpireAt: 1_800_172_800 };
}

describe('bucket entries', () => {
  it('round-trip every flow state, names from their names items', () => {
    const states = liveStates(40).map((f) => f.state!);
    const entries = states.map((state, i) => entryOf(state, i % 3 === 0 ? undefined : T0 + i));
    const names = new Map(states.map((s) => [s.flow.flowKey, s.flow.record]));
    const decoded = decodeEntries(deflate(encodeEntries(entries)), 'bucket#1', (key) => names.get(key));
    expect([...decoded.values()]).toEqual(entries);
  });

  it('keep fractional numbers (throughputs) and negative differences between flows exactly', () => {
    const [a, b] = liveStates(2).map((f) => f.state!) as [FlowState, FlowState];
    a.flow.throughput = 1234.5678;
    b.flow.throughput = 3;
    b.createdAtMs = a.createdAtMs - 1_000_000; // a column going down
    const entries = [entryOf(a, T0), entryOf(b, T0 - 5)];
    const names = new Map([a, b].map((s) => [s.flow.flowKey, s.flow.record]));
    const decoded = decodeEntries(deflate(encodeEntries(entries)), 'bucket#2', (key) => names.get(key));
    expect([...decoded.values()]).toEqual(entries);
  });

  it('leave the names out: without their names items the records have none', () => {
    const [state] = liveStates(1).map((f) => f.state!) as [FlowState];
    const [decoded] = decodeEntries(
      deflate(encodeEntries([entryOf(state, T0)])),
      'bucket#3',
      () => undefined,
    ).values();
    expect(decoded!.state.flow.record.sourcePodName).toBe('');
    expect(decoded!.state.flow.record.tcpState).toBe(state.flow.record.tcpState); // changes with records: kept
    expect(decoded!.state.flow.record.octetTotalCount).toBe(state.flow.record.octetTotalCount);
  });

  it('cost about a fifth of one item per flow for 32 flows with long names', () => {
    const states = liveStates(32).map((f) => f.state!);
    const bytes = deflate(encodeEntries(states.map((s) => entryOf(s, T0)))).length;
    expect(bytes / 32).toBeLessThan(200); // one item per flow: ~870 bytes with long names
  });

  it('refuse a bucket that does not decode, in one clear error', () => {
    expect(() => decodeEntries(Buffer.from('not deflate'), 'bucket#9', () => undefined)).toThrow(/bucket#9/);
  });
});

describe('names', () => {
  it('change when any name field differs, not when counters or the TCP state do', () => {
    const [state] = liveStates(1).map((f) => f.state!) as [FlowState];
    const record = state.flow.record;
    expect(namesChanged(record, undefined)).toBe(true);
    expect(namesChanged({ ...record, octetTotalCount: 1, tcpState: 'FIN_WAIT' }, record)).toBe(false);
    expect(namesChanged({ ...record, destinationPodLabels: '{"app":"x"}' }, record)).toBe(true);
    expect(namesChanged({ ...record, egressName: 'e' }, record)).toBe(true);
  });
});

describe("a bucket's due key", () => {
  const entries = (...dues: Array<number | undefined>) =>
    dues.map((d) => entryOf(liveStates(1)[0]!.state!, d));
  const MARGIN = 120_000;

  it('stays while it is far enough ahead and no flow needs an earlier look', () => {
    expect(bucketKeyOf(T0 + 600_000, entries(T0 + 900_000, T0 + 600_000), T0, MARGIN)).toBe(T0 + 600_000);
  });

  it('moves to the earliest flow when it comes within the margin', () => {
    expect(bucketKeyOf(T0 + 60_000, entries(T0 + 900_000, T0 + 1_200_000), T0, MARGIN)).toBe(T0 + 900_000);
  });

  it('moves earlier for a flow that needs it (a waiting half, an ended flow)', () => {
    expect(bucketKeyOf(T0 + 900_000, entries(T0 + 1_200_000, T0 + 180_000), T0, MARGIN)).toBe(T0 + 180_000);
  });

  it('leaves the index when no flow is open', () => {
    expect(bucketKeyOf(T0 + 900_000, entries(undefined, undefined), T0, MARGIN)).toBeUndefined();
  });
});

describe('rows of several flows in one attribute', () => {
  it('decode to the same rows in order, given the same dictionary', () => {
    const folded = liveStates(12);
    const groups = new Map(folded.map((f) => [f.state!.flow.flowKey, f.rows]));
    const dictionary = encodeEntries(folded.map((f) => entryOf(f.state!, T0)));
    const bytes = encodeRowGroups(groups, dictionary)!;
    expect(decodeRowGroups(bytes, 'bucket#4', dictionary)).toEqual(folded.flatMap((f) => f.rows));
    expect(encodeRowGroups(new Map([['a|b|6|1|2', []]]), dictionary)).toBeUndefined();
  });
});

describe('the layout from the environment', () => {
  it('is one item per flow unless told, buckets with their count and margin, anything else refused in one line', () => {
    expect(flowLayoutFromEnv({})).toEqual({ kind: 'per-flow' });
    expect(flowLayoutFromEnv({ FLOW_LAYOUT: 'buckets' })).toEqual({
      kind: 'buckets',
      buckets: DEFAULT_FLOW_BUCKETS,
      marginMs: 120_000,
    });
    expect(
      flowLayoutFromEnv({ FLOW_LAYOUT: 'buckets', FLOW_BUCKETS: '64', INDEX_MARGIN_SECONDS: '30' }),
    ).toEqual({
      kind: 'buckets',
      buckets: 64,
      marginMs: 30_000,
    });
    expect(() => flowLayoutFromEnv({ FLOW_LAYOUT: 'rows' })).toThrow(
      /FLOW_LAYOUT=rows: expected per-flow or buckets/,
    );
    expect(() => flowLayoutFromEnv({ FLOW_LAYOUT: 'buckets', FLOW_BUCKETS: '0' })).toThrow(
      /FLOW_BUCKETS=0: expected a positive integer/,
    );
  });
});

describe('routing by bucket', () => {
  const address = fc.oneof(fc.ipV4(), fc.ipV6());
  const record = fc.record({
    sourceIP: address,
    destinationIP: address,
    protocolIdentifier: fc.integer({ min: 1, max: 255 }),
    sourceTransportPort: fc.integer({ min: 0, max: 65535 }),
    destinationTransportPort: fc.integer({ min: 0, max: 65535 }),
    fromExternal: fc.boolean(),
    proxySnatIP: fc.ipV4(),
    proxySnatPort: fc.integer({ min: 1, max: 65535 }),
  });

  it("the store's bucket of a flow key is the collector's bucket of the record (SNAT rule included)", () => {
    fc.assert(
      fc.property(record, fc.integer({ min: 1, max: 100_000 }), (r, buckets) => {
        const flowRecord = {
          ...liveStates(1)[0]!.state!.flow.record,
          ...r,
          flowType: r.fromExternal ? FlowType.FromExternal : FlowType.InterNode,
          destinationPodName: r.fromExternal ? '' : 'pod',
        };
        const key = flowKeyOf(flowRecord);
        expect(flowBucketOf(key, buckets)).toBe(flowRoutingHash(flowRecord) % buckets);
        expect(bucketPkOf(key, buckets)).toBe(`bucket#${flowRoutingHash(flowRecord) % buckets}`);
      }),
      { numRuns: 300 },
    );
  });

  it("spreads buckets' routing hashes over the hash space", () => {
    const high = new Set(Array.from({ length: 4096 }, (_, b) => bucketRoutingHash(b) >>> 28));
    expect(high.size).toBe(16);
  });
});

/** The item stores the entries raw-deflated (buckets.ts bucketItem). */
function deflate(plain: Buffer): Buffer {
  return deflateRawSync(plain);
}
