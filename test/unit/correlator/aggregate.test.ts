// Antrea's aggregation tests (H = Antrea HEAD pkg/flowaggregator/intermediate/aggregate_test.go, L = go-ipfix, D = derived quirks,
// V = byte-level vector) re-created against functions/correlator/aggregate.ts.
import { describe, expect, it } from 'vitest';
import { flowKeyOf, isSourceNodeFromExternalFlow } from '../../../core/flow-key.ts';
import { emptyFlowRecord, type FlowRecord, FlowType, RuleAction } from '../../../core/flow-record.ts';
import {
  type AggregationEntry,
  createEntry,
  isCorrelationRequired,
  throughputOf,
  updateEntry,
} from '../../../functions/correlator/aggregate.ts';
import { DN, DST, SN, SRC, T0, TIMEOUTS, vectorRecords } from './fixtures.ts';

/** Antrea's map for one test: records added in order, each at its own time. */
function run(records: Array<[FlowRecord, number]>): AggregationEntry {
  let entry: AggregationEntry | undefined;
  for (const [record, at] of records) {
    if (!entry) entry = createEntry(flowKeyOf(record), record, at, TIMEOUTS);
    else updateEntry(entry, record, at, TIMEOUTS);
  }
  return entry!;
}

const counters = (pt: number, pd: number, ot: number, od: number) => ({
  packetTotalCount: pt,
  packetDeltaCount: pd,
  octetTotalCount: ot,
  octetDeltaCount: od,
});

describe('A. keys (H-2, H-3, H-4)', () => {
  it('H-2: IPv4 and IPv6 keys of the SRC fixture', () => {
    expect(flowKeyOf(SRC(false, FlowType.InterNode, false))).toBe('10.0.0.1|10.0.0.2|6|1234|5678');
    expect(flowKeyOf(SRC(true, FlowType.InterNode, false))).toBe(
      '2001:0:3238:dfe1:63::fefb|2001:0:3238:dfe1:63::fefc|6|1234|5678',
    );
  });
  it('H-2 step 3: a record with end 0 is aggregated without error', () => {
    const record = SRC(true, FlowType.InterNode, false);
    const entry = run([[record, T0]]);
    const again = { ...record, flowEndSeconds: 0 };
    expect(() => updateEntry(entry, again, T0, TIMEOUTS)).not.toThrow();
  });
  it('H-3: both halves of a from-external flow share the SNAT key', () => {
    expect(flowKeyOf(SN())).toBe('10.244.2.1|10.244.1.3|6|52391|80');
    expect(flowKeyOf(DN())).toBe(flowKeyOf(SN()));
  });
  it('H-4: isSourceNodeFromExternalFlow', () => {
    expect(isSourceNodeFromExternalFlow(emptyFlowRecord())).toBe(false);
    expect(
      isSourceNodeFromExternalFlow({
        ...emptyFlowRecord(),
        flowType: 4,
        destinationPodName: 'pod',
        destinationPodNamespace: 'ns',
      }),
    ).toBe(false);
    expect(isSourceNodeFromExternalFlow({ ...emptyFlowRecord(), flowType: 3 })).toBe(false);
    expect(isSourceNodeFromExternalFlow(DN())).toBe(false);
    expect(isSourceNodeFromExternalFlow(SN())).toBe(true);
  });
});

describe('B. correlation', () => {
  for (const ipv6 of [false, true]) {
    const service = ipv6 ? '2001:0:3238:bbbb:63::aaaa' : '192.168.0.1';
    for (const srcFirst of [true, false]) {
      it(`H-5 inter-Node ${ipv6 ? 'IPv6' : 'IPv4'} ${srcFirst ? 'SRC->DST' : 'DST->SRC'}`, () => {
        const src = SRC(ipv6, FlowType.InterNode, false);
        const dst = DST(ipv6, FlowType.InterNode, false);
        const [first, second] = srcFirst ? [src, dst] : [dst, src];
        const entry = run([[first, T0]]);
        expect(entry.flow.readyToSend).toBe(false);
        expect(entry.flow.correlationRequired).toBe(true);
        expect(entry.inactiveExpireAtMs).toBe(T0 + 150);
        expect(entry.activeExpireAtMs).toBe(T0 + 100);
        updateEntry(entry, second, T0 + 10, TIMEOUTS);
        const r = entry.flow.record;
        expect(entry.flow.readyToSend).toBe(true);
        expect([r.sourcePodName, r.destinationPodName]).toEqual(['pod1', 'pod2']);
        expect([r.destinationClusterIP, r.destinationServiceIP]).toEqual([service, service]);
        expect(r.destinationServicePort).toBe(4739);
        expect(entry.activeExpireAtMs).toBe(T0 + 10);
        expect(entry.inactiveExpireAtMs).toBe(T0 + 160);
      });
    }
  }

  it('H-6.1: SRC with egress Drop alone is ready, one Pod name empty, no correlation', () => {
    const entry = run([[SRC(false, FlowType.InterNode, false, RuleAction.Drop), T0]]);
    expect(entry.flow.correlationRequired).toBe(false);
    expect(entry.flow.readyToSend).toBe(true);
    expect(entry.activeExpireAtMs).toBe(T0);
    expect(entry.flow.record.destinationPodName).toBe('');
    expect(entry.flow.record.egressNetworkPolicyRuleAction).toBe(RuleAction.Drop);
    // Both per-Node groups are filled from the single record (section 1.9).
    expect(entry.flow.statsFromSourceNode).toEqual(entry.flow.statsFromDestinationNode);
    expect(entry.flow.flowEndSecondsFromDestinationNode).toBe(1);
  });
  it('H-6.2: DST with ingress Reject alone is ready', () => {
    const entry = run([[DST(false, FlowType.InterNode, false, RuleAction.Reject), T0]]);
    expect(entry.flow.readyToSend).toBe(true);
    expect(entry.flow.record.sourcePodName).toBe('');
    expect(entry.flow.record.ingressNetworkPolicyRuleAction).toBe(RuleAction.Reject);
  });
  it('H-6.3: ingress Drop does not prevent correlation', () => {
    const dst = DST(false, FlowType.InterNode, false, RuleAction.Drop);
    expect(isCorrelationRequired(dst)).toBe(true);
    const entry = run([
      [SRC(false, FlowType.InterNode, false), T0],
      [dst, T0 + 10],
    ]);
    expect(entry.flow.readyToSend).toBe(true);
    expect([entry.flow.record.sourcePodName, entry.flow.record.destinationPodName]).toEqual(['pod1', 'pod2']);
    expect(entry.flow.record.ingressNetworkPolicyRuleAction).toBe(RuleAction.Drop);
  });
  for (const ipv6 of [false, true]) {
    it(`H-7 intra-Node ${ipv6 ? 'IPv6' : 'IPv4'} is ready at once`, () => {
      const entry = run([[SRC(ipv6, FlowType.IntraNode, false), T0]]);
      expect(entry.flow.readyToSend).toBe(true);
      expect(entry.activeExpireAtMs).toBe(T0);
      expect([entry.flow.record.sourcePodName, entry.flow.record.destinationPodName]).toEqual([
        'pod1',
        'pod2',
      ]);
      expect(entry.flow.record.destinationServicePort).toBe(4739);
    });
    it(`H-8 to-external ${ipv6 ? 'IPv6' : 'IPv4'} is ready at once`, () => {
      const entry = run([[SRC(ipv6, FlowType.ToExternal, false), T0]]);
      expect(entry.flow.readyToSend).toBe(true);
      expect(entry.flow.record.destinationPodName).toBe('');
    });
  }
  for (const snFirst of [true, false]) {
    it(`H-9 from-external merge ${snFirst ? 'SN->DN' : 'DN->SN'}`, () => {
      const [first, second] = snFirst ? [SN(), DN()] : [DN(), SN()];
      expect(flowKeyOf(first)).toBe(flowKeyOf(second));
      const entry = run([
        [first, T0],
        [second, T0 + 10],
      ]);
      const r = entry.flow.record;
      expect(entry.flow.flowKey).toBe('10.244.2.1|10.244.1.3|6|52391|80');
      expect(entry.flow.readyToSend).toBe(true);
      expect(r.flowType).toBe(FlowType.FromExternal);
      expect(r.sourceIP).toBe('172.18.0.1');
      expect(r.sourceTransportPort).toBe(38746);
      expect(r.destinationPodName).toBe('nginx-deployment-HASH');
      expect([r.destinationServiceIP, r.destinationClusterIP]).toEqual(['172.18.0.2', '172.18.0.2']);
      expect(r.destinationServicePort).toBe(82);
      expect(r.destinationServicePortName).toBe('namespace/service-name:serviceportname');
    });
  }
  it('H-9: a single-Node from-external record is ready at once', () => {
    const record: FlowRecord = {
      ...emptyFlowRecord(),
      flowType: FlowType.FromExternal,
      destinationPodName: 'nginx',
      destinationPodNamespace: 'default',
      sourceIP: '172.18.0.1',
      destinationIP: '10.244.1.3',
      protocolIdentifier: 6,
      sourceTransportPort: 12345,
      destinationTransportPort: 80,
      flowStartSeconds: 100,
      flowEndSeconds: 160,
    };
    expect(isCorrelationRequired(record)).toBe(false);
    expect(run([[record, T0]]).flow.readyToSend).toBe(true);
  });
});

describe('C. aggregation arithmetic', () => {
  it('H-10 / L-10: inter-Node SRC1, DST1, SRC2, DST2, state after every step', () => {
    const steps: Array<[FlowRecord, number]> = [
      [SRC(false, FlowType.InterNode, false), T0],
      [DST(false, FlowType.InterNode, false), T0 + 10],
      [SRC(false, FlowType.InterNode, true), T0 + 20],
      [DST(false, FlowType.InterNode, true), T0 + 30],
    ];
    // | common s | sSrc | sDst | end | endSrc | endDst | tp | tpSrc | tpDst | reason | tcp | ready |
    const table = [
      [
        counters(500, 0, 1000, 0),
        counters(500, 0, 1000, 0),
        counters(0, 0, 0, 0),
        1,
        1,
        0,
        8000,
        8000,
        0,
        2,
        'ESTABLISHED',
        false,
      ],
      [
        counters(502, 0, 1020, 0),
        counters(500, 0, 1000, 0),
        counters(502, 0, 1020, 0),
        1,
        1,
        1,
        8160,
        8000,
        8160,
        2,
        'ESTABLISHED',
        true,
      ],
      [
        counters(1000, 500, 2000, 1000),
        counters(1000, 500, 2000, 1000),
        counters(502, 0, 1020, 0),
        10,
        10,
        1,
        888,
        888,
        8160,
        3,
        'TIME_WAIT',
        true,
      ],
      [
        counters(1005, 503, 2050, 1030),
        counters(1000, 500, 2000, 1000),
        counters(1005, 503, 2050, 1030),
        10,
        10,
        10,
        915,
        888,
        915,
        3,
        'TIME_WAIT',
        true,
      ],
    ] as const;
    let entry: AggregationEntry | undefined;
    steps.forEach(([record, at], i) => {
      if (!entry) entry = createEntry(flowKeyOf(record), record, at, TIMEOUTS);
      else updateEntry(entry, record, at, TIMEOUTS);
      const f = entry.flow;
      const r = f.record;
      const [common, sSrc, sDst, end, endSrc, endDst, tp, tpSrc, tpDst, reason, tcp, ready] = table[i]!;
      expect(counters(r.packetTotalCount, r.packetDeltaCount, r.octetTotalCount, r.octetDeltaCount)).toEqual(
        common,
      );
      expect(
        counters(
          r.reversePacketTotalCount,
          r.reversePacketDeltaCount,
          r.reverseOctetTotalCount,
          r.reverseOctetDeltaCount,
        ),
      ).toEqual(common);
      expect(f.statsFromSourceNode).toEqual(sSrc);
      expect(f.reverseStatsFromSourceNode).toEqual(sSrc);
      expect(f.statsFromDestinationNode).toEqual(sDst);
      expect(f.reverseStatsFromDestinationNode).toEqual(sDst);
      expect([r.flowEndSeconds, f.flowEndSecondsFromSourceNode, f.flowEndSecondsFromDestinationNode]).toEqual(
        [end, endSrc, endDst],
      );
      expect([f.throughput, f.throughputFromSourceNode, f.throughputFromDestinationNode]).toEqual([
        tp,
        tpSrc,
        tpDst,
      ]);
      expect([
        f.reverseThroughput,
        f.reverseThroughputFromSourceNode,
        f.reverseThroughputFromDestinationNode,
      ]).toEqual([tp, tpSrc, tpDst]);
      expect([r.flowEndReason, r.tcpState, f.readyToSend]).toEqual([reason, tcp, ready]);
    });
    // H: active expiry = time the flow became ready (DST1), inactive = last add + 150 ms.
    expect(entry!.activeExpireAtMs).toBe(T0 + 10);
    expect(entry!.inactiveExpireAtMs).toBe(T0 + 180);
    expect(entry!.flow.record.destinationServicePort).toBe(4739);
    expect(entry!.flow.record.ingressNetworkPolicyRuleAction).toBe(0);
  });

  for (const ipv6 of [false, true]) {
    it(`H-11 / L-11: values after SRC1 + DST1 (${ipv6 ? 'IPv6' : 'IPv4'})`, () => {
      const entry = run([
        [SRC(ipv6, FlowType.InterNode, false), T0],
        [DST(ipv6, FlowType.InterNode, false), T0 + 10],
      ]);
      const f = entry.flow;
      const r = f.record;
      expect([r.sourceTransportPort, r.destinationTransportPort, r.protocolIdentifier]).toEqual([
        1234, 5678, 6,
      ]);
      expect([r.flowStartSeconds, r.flowEndSeconds]).toEqual([0, 1]);
      expect([f.flowEndSecondsFromSourceNode, f.flowEndSecondsFromDestinationNode]).toEqual([1, 1]);
      expect([r.flowType, r.flowEndReason, r.tcpState]).toEqual([2, 2, 'ESTABLISHED']);
      expect([
        r.packetTotalCount,
        r.reversePacketTotalCount,
        r.octetTotalCount,
        r.reverseOctetTotalCount,
      ]).toEqual([502, 502, 1020, 1020]);
      expect([r.packetDeltaCount, r.reversePacketDeltaCount]).toEqual([0, 0]);
      expect([f.throughput, f.reverseThroughput]).toEqual([8160, 8160]);
      // L asserts the per-Node throughputs too.
      expect([f.throughputFromSourceNode, f.reverseThroughputFromSourceNode]).toEqual([8000, 8000]);
      expect([f.throughputFromDestinationNode, f.reverseThroughputFromDestinationNode]).toEqual([8160, 8160]);
    });
  }

  it('D: a record not newer than the previous one from its Node only moves that Node end time (step 3)', () => {
    const entry = run([
      [SRC(false, FlowType.InterNode, false), T0],
      [DST(false, FlowType.InterNode, false), T0 + 10],
      [SRC(false, FlowType.InterNode, true), T0 + 20],
    ]);
    // A dying record whose conntrack stop time (8) predates the last poll (10): deltas are lost.
    const dying = {
      ...SRC(false, FlowType.InterNode, true),
      flowEndSeconds: 8,
      flowEndReason: 1,
      tcpState: 'CLOSE',
    };
    dying.packetTotalCount = 1200;
    dying.packetDeltaCount = 200;
    const before = structuredClone(entry.flow);
    updateEntry(entry, dying, T0 + 30, TIMEOUTS);
    expect(entry.flow.flowEndSecondsFromSourceNode).toBe(8); // backwards
    expect(entry.flow.record.flowEndSeconds).toBe(10);
    expect(entry.flow.statsFromSourceNode).toEqual(before.statsFromSourceNode);
    expect(entry.flow.record.flowEndReason).toBe(before.record.flowEndReason);
    expect(entry.flow.record.tcpState).toBe(before.record.tcpState);
    expect(entry.inactiveExpireAtMs).toBe(T0 + 30 + 150);
  });
  it('D: the first record of the second Node with end == start leaves its per-Node stats at 0', () => {
    const dst = { ...DST(false, FlowType.InterNode, false), flowEndSeconds: 0 };
    const entry = run([
      [SRC(false, FlowType.InterNode, false), T0],
      [dst, T0 + 10],
    ]);
    expect(entry.flow.readyToSend).toBe(true);
    expect(entry.flow.statsFromDestinationNode).toEqual(counters(0, 0, 0, 0));
    expect(entry.flow.flowEndSecondsFromDestinationNode).toBe(0);
  });
  it('D: END_OF_FLOW is sticky; other reasons follow the latest accepted record', () => {
    const a = { ...SRC(false, FlowType.IntraNode, false), flowEndReason: 3 };
    const b = { ...SRC(false, FlowType.IntraNode, true), flowEndReason: 2, flowEndSeconds: 20 };
    expect(
      run([
        [a, T0],
        [b, T0 + 1],
      ]).flow.record.flowEndReason,
    ).toBe(3);
    const c = { ...SRC(false, FlowType.IntraNode, false), flowEndReason: 1 };
    expect(
      run([
        [c, T0],
        [b, T0 + 1],
      ]).flow.record.flowEndReason,
    ).toBe(2);
  });
  it('D: a Node total going down wraps modulo 2^64 as Go uint64 (BigInt)', () => {
    expect(throughputOf(1000, 2000, 10)).toBe(Number((((2n ** 64n - 1000n) * 8n) % 2n ** 64n) / 10n));
    expect(throughputOf(2050, 1020, 9)).toBe(915);
    expect(throughputOf(5, 0, 0)).toBe(0);
    const first = { ...SRC(false, FlowType.IntraNode, true) };
    const reused = { ...SRC(false, FlowType.IntraNode, false), flowEndSeconds: 20, octetTotalCount: 100 };
    const entry = run([
      [first, T0],
      [reused, T0 + 1],
    ]);
    expect(entry.flow.throughput).toBe(throughputOf(100, 2000, 10));
    expect(entry.flow.throughput).toBeGreaterThan(2 ** 60);
    // Totals overwrite, deltas accumulate (uint64 semantics, not a sum of totals).
    expect(entry.flow.statsFromSourceNode.octetTotalCount).toBe(100);
    expect(entry.flow.statsFromSourceNode.octetDeltaCount).toBe(1000);
  });
  it('D: throughput is bits/s with truncating integer division', () => {
    expect(throughputOf(1_000_000, 0, 3000)).toBe(2666);
    expect(throughputOf(2 ** 52, 0, 3)).toBe(Number((2n ** 52n * 8n) / 3n));
  });
});

describe('E. V-1 vector (go-ipfix f5c5793 data records from DECODED.txt)', () => {
  for (const family of ['IPv4', 'IPv6'] as const) {
    for (const order of ['data1->data2', 'data2->data1'] as const) {
      it(`${family} ${order}`, () => {
        const [data1] = vectorRecords(`goipfix_f5c5793_dataPacket1${family}.hex`);
        const [data2] = vectorRecords(`goipfix_f5c5793_dataPacket2${family}.hex`);
        const records = order === 'data1->data2' ? [data1!, data2!] : [data2!, data1!];
        const entry = run(records.map((r, i) => [r, T0 + i * 10] as [FlowRecord, number]));
        const f = entry.flow;
        const r = f.record;
        expect(f.flowKey).toBe(
          family === 'IPv4'
            ? '10.0.0.1|10.0.0.2|6|1234|5678'
            : '2001:0:3238:dfe1:63::fefb|2001:0:3238:dfe1:63::fefc|6|1234|5678',
        );
        expect([r.sourcePodName, r.destinationPodName]).toEqual(['pod1', 'pod2']);
        expect(r.flowStartSeconds).toBe(1257893000);
        expect([r.flowEndSeconds, f.flowEndSecondsFromDestinationNode]).toEqual([1257896000, 1257896000]);
        expect(f.flowEndSecondsFromSourceNode).toBe(1257894000);
        expect([r.flowEndReason, r.tcpState]).toEqual([2, 'ESTABLISHED']);
        expect([r.packetTotalCount, r.packetDeltaCount]).toEqual([1000, 500]);
        expect([r.reversePacketTotalCount, r.reversePacketDeltaCount]).toEqual([400, 200]);
        expect([r.octetTotalCount, r.reverseOctetTotalCount]).toEqual([1_000_000, 1_000_000]);
        expect(r.destinationClusterIP).toBe(family === 'IPv4' ? '10.0.0.3' : '2001:0:3238:bbbb:63::aaaa');
        expect(r.destinationServicePort).toBe(4739);
        expect([f.statsFromSourceNode.packetTotalCount, f.statsFromSourceNode.packetDeltaCount]).toEqual([
          800, 500,
        ]);
        expect([
          f.statsFromDestinationNode.packetTotalCount,
          f.statsFromDestinationNode.packetDeltaCount,
        ]).toEqual([1000, 500]);
        expect([
          f.reverseStatsFromSourceNode.packetTotalCount,
          f.reverseStatsFromSourceNode.packetDeltaCount,
        ]).toEqual([300, 150]);
        expect([
          f.reverseStatsFromDestinationNode.packetTotalCount,
          f.reverseStatsFromDestinationNode.packetDeltaCount,
        ]).toEqual([400, 200]);
        expect([f.throughput, f.reverseThroughput]).toEqual([2666, 2666]);
        expect([f.throughputFromSourceNode, f.reverseThroughputFromSourceNode]).toEqual([6400, 6400]);
        expect([f.throughputFromDestinationNode, f.reverseThroughputFromDestinationNode]).toEqual([
          2666, 2666,
        ]);
      });
    }
  }
});
