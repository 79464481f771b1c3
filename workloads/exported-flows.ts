// A deterministic workload of exported flows (several namespaces, Pods, Nodes, Services, policies and
// flow types) for the schema, view and dashboard tests and the exporter and sink benchmarks.
import { type AggregatedFlow, zeroCounters } from '../core/aggregated-flow.ts';
import { emptyFlowRecord, FlowType } from '../core/flow-record.ts';
import { seededRandom } from '../core/random.ts';

export const CLUSTER_UUID = '4f2c1b0e-8a4d-4d8e-9f6a-2b1c3d4e5f60';

/** `count` ready flows ending in [endFrom, endFrom + spreadSeconds). */
export function workloadFlows(
  count: number,
  seed: number,
  endFrom: number,
  spreadSeconds = 600,
): AggregatedFlow[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const namespaces = ['shop', 'payments', 'kube-system', 'search'];
  const nodes = ['node-a', 'node-b', 'node-c'];
  const types = [FlowType.IntraNode, FlowType.InterNode, FlowType.ToExternal];
  const flows: AggregatedFlow[] = [];
  for (let i = 0; i < count; i++) {
    const flowType = pick(types);
    const end = endFrom + Math.floor(random() * spreadSeconds);
    const sourceNode = pick(nodes);
    const destinationNode = flowType === FlowType.IntraNode ? sourceNode : pick(nodes);
    const external = flowType === FlowType.ToExternal;
    const withService = !external && random() < 0.5;
    const policy = random() < 0.3;
    const record = {
      ...emptyFlowRecord(),
      exporterAddress: `192.168.0.${nodes.indexOf(sourceNode) + 1}`,
      sourceIP: `10.1.${i >> 8}.${i & 255}`,
      destinationIP: external ? `203.0.113.${1 + (i % 20)}` : `10.2.${i >> 8}.${i & 255}`,
      sourceTransportPort: 30000 + (i % 30000),
      destinationTransportPort: pick([80, 443, 5432]),
      protocolIdentifier: 6,
      flowStartSeconds: end - 60,
      flowEndSeconds: end,
      flowEndReason: 2,
      tcpState: 'ESTABLISHED',
      flowType,
      packetTotalCount: 1000 + i,
      packetDeltaCount: 10 + (i % 50),
      octetTotalCount: 100_000 + i,
      octetDeltaCount: 1000 + Math.floor(random() * 100_000),
      reversePacketTotalCount: 800 + i,
      reversePacketDeltaCount: 5 + (i % 30),
      reverseOctetTotalCount: 90_000 + i,
      reverseOctetDeltaCount: 500 + Math.floor(random() * 50_000),
      sourcePodName: `pod-${i % 17}`,
      sourcePodNamespace: pick(namespaces),
      sourceNodeName: sourceNode,
      destinationPodName: external ? '' : `pod-${(i * 7) % 19}`,
      destinationPodNamespace: external ? '' : pick(namespaces),
      destinationNodeName: external ? '' : destinationNode,
      destinationClusterIP: withService ? `10.96.0.${1 + (i % 5)}` : '',
      destinationServiceIP: withService ? `10.96.0.${1 + (i % 5)}` : '',
      destinationServicePort: withService ? 8080 : 0,
      destinationServicePortName: withService ? `shop/svc-${i % 5}:http` : '',
      ingressNetworkPolicyName: policy ? `allow-${i % 3}` : '',
      ingressNetworkPolicyNamespace: policy ? 'shop' : '',
      ingressNetworkPolicyRuleAction: policy ? 1 + (i % 3) : 0,
      ingressNetworkPolicyType: policy ? 1 : 0,
      egressNetworkPolicyName: policy && i % 2 === 0 ? 'egress-default' : '',
      egressNetworkPolicyNamespace: policy && i % 2 === 0 ? 'shop' : '',
      egressNetworkPolicyRuleAction: policy && i % 2 === 0 ? 1 : 0,
    };
    flows.push({
      flowKey: `${record.sourceIP}|${record.destinationIP}|6|${record.sourceTransportPort}|${record.destinationTransportPort}`,
      record,
      correlationRequired: flowType === FlowType.InterNode,
      readyToSend: true,
      statsFromSourceNode: zeroCounters(),
      reverseStatsFromSourceNode: zeroCounters(),
      statsFromDestinationNode: zeroCounters(),
      reverseStatsFromDestinationNode: zeroCounters(),
      flowEndSecondsFromSourceNode: end,
      flowEndSecondsFromDestinationNode: external ? 0 : end,
      throughput: Math.floor(random() * 1_000_000),
      reverseThroughput: Math.floor(random() * 1_000_000),
      throughputFromSourceNode: Math.floor(random() * 1_000_000),
      reverseThroughputFromSourceNode: Math.floor(random() * 1_000_000),
      throughputFromDestinationNode: Math.floor(random() * 1_000_000),
      reverseThroughputFromDestinationNode: Math.floor(random() * 1_000_000),
      incomplete: false,
    });
  }
  return flows;
}
