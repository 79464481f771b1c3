import { describe, expect, test } from 'vitest';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { FlowType, RuleAction } from '../../../core/flow-record.ts';
import { agentTemplateFields, agentTemplateNames } from '../../../simulator/agent-template.ts';
import { parseCollectorAddress } from '../../../simulator/exporter.ts';
import { ClusterSimulation, type SimulatedRecord } from '../../../simulator/model.ts';

function allRecords(sim: ClusterSimulation): SimulatedRecord[] {
  const out: SimulatedRecord[] = [];
  for (let poll = sim.nextExport(); poll; poll = sim.nextExport()) out.push(...poll.byNode.flat());
  return out;
}

describe('Antrea agent simulator', () => {
  test('the agent template: 43 IEs, Antrea ones under 56506, IPv4 and IPv6 variants', () => {
    for (const ipv6 of [false, true]) {
      const names = agentTemplateNames(ipv6);
      expect(names).toHaveLength(43);
      expect(new Set(names).size).toBe(43);
      const fields = agentTemplateFields(ipv6);
      const tcpState = fields[names.indexOf('tcpState')]!;
      expect(tcpState).toEqual({ enterprise: 56506, id: 136, length: 65535 });
      expect(fields[names.indexOf('flowEndReason')]).toEqual({ enterprise: 0, id: 136, length: 1 });
      expect(fields[names.indexOf('reverseOctetDeltaCount')]).toEqual({
        enterprise: 29305,
        id: 1,
        length: 8,
      });
    }
    expect(agentTemplateNames(true)).toContain('destinationServiceIPv6');
  });

  test('same seed, same traffic; another seed, other traffic', () => {
    const a = new ClusterSimulation({ seed: 5, connections: 50 });
    const b = new ClusterSimulation({ seed: 5, connections: 50 });
    const c = new ClusterSimulation({ seed: 6, connections: 50 });
    const ra = allRecords(a);
    expect(allRecords(b)).toEqual(ra);
    expect(allRecords(c)).not.toEqual(ra);
    expect(a.groundTruth()).toEqual(b.groundTruth());
  });

  test('counters: totals grow monotonically per Node, deltas sum to the final totals', () => {
    const sim = new ClusterSimulation({ seed: 9, connections: 300, polls: 8 });
    const records = allRecords(sim);
    const truth = sim.groundTruth();
    expect(truth.records).toBe(records.length);
    const last = new Map<string, number>();
    for (const { node, record } of records) {
      const key = `${flowKeyOf(record)}@${node}`;
      expect(record.packetTotalCount).toBeGreaterThanOrEqual(last.get(key) ?? 0);
      last.set(key, record.packetTotalCount);
    }
    for (const flow of Object.values(truth.flows)) {
      expect(flow.sumOfDeltas).toEqual(flow.finalTotals);
      expect(flow.records).toBeGreaterThan(0);
    }
    expect(Object.values(truth.perNode).reduce((n, v) => n + v.records, 0)).toBe(records.length);
  });

  test('covers every Antrea case: intra, inter from both Nodes, external both ways, SNAT, Services, policies, deny', () => {
    const sim = new ClusterSimulation({ seed: 11, nodes: 4, connections: 400, polls: 3 });
    const records = allRecords(sim).map((r) => r.record);
    const types = new Set(records.map((r) => r.flowType));
    expect([...types].sort()).toEqual([1, 2, 3, 4]);
    // Inter-Node flows are reported by both Nodes under the same flow key.
    const inter = records.filter((r) => r.flowType === FlowType.InterNode && r.sourcePodName !== '');
    const dstHalves = new Set(
      records.filter((r) => r.flowType === FlowType.InterNode && r.sourcePodName === '').map(flowKeyOf),
    );
    expect(inter.some((r) => dstHalves.has(flowKeyOf(r)))).toBe(true);
    // From-external through another Node: the ingress half keys on its SNAT address.
    const snat = records.filter((r) => r.proxySnatIP !== '');
    expect(snat.length).toBeGreaterThan(0);
    expect(snat.every((r) => dstHalves.has(flowKeyOf(r)))).toBe(true);
    expect(records.some((r) => r.destinationServicePortName !== '' && r.destinationClusterIP !== '')).toBe(
      true,
    );
    expect(records.some((r) => r.egressNetworkPolicyRuleAction === RuleAction.Drop)).toBe(true);
    expect(records.some((r) => r.egressNetworkPolicyRuleAction === RuleAction.Reject)).toBe(true);
    expect(records.some((r) => r.ingressNetworkPolicyRuleAction === RuleAction.Drop)).toBe(true);
    expect(records.some((r) => r.ingressNetworkPolicyRuleAction === RuleAction.Allow)).toBe(true);
    expect(records.some((r) => r.egressName !== '' && r.egressIP !== '')).toBe(true);
    expect(records.some((r) => r.sourceIP.includes(':'))).toBe(true);
    const denied = records.filter((r) => r.egressNetworkPolicyRuleAction >= RuleAction.Drop);
    expect(denied.every((r) => r.reversePacketTotalCount === 0)).toBe(true);
  });

  test("collector address in Antrea's flowCollectorAddr syntax", () => {
    expect(parseCollectorAddress('flowline.flowline.svc:4739:udp')).toEqual({
      host: 'flowline.flowline.svc',
      port: 4739,
      protocol: 'udp',
    });
    expect(parseCollectorAddress('10.0.0.1')).toEqual({ host: '10.0.0.1', port: 4739, protocol: 'tls' });
    expect(parseCollectorAddress('[::1]:4740:tcp')).toEqual({ host: '::1', port: 4740, protocol: 'tcp' });
    expect(() => parseCollectorAddress('host:1:sctp')).toThrow(/proto udp, tcp or tls/);
  });
});
