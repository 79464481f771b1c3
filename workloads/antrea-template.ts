// Test / benchmark material: the Antrea agent's IPFIX template (HEAD, 43 IEs, IPv4 flavour, in the order
// of go-ipfix pkg/registry/registry_antrea.csv and the agent exporter, simulator/agent-template.ts) and realistic records for it, built with the encoder.
import { type EncodableValue, type EncoderField, field } from '../collector-edge/ipfix/encoder.ts';
import { agentTemplateNames } from '../simulator/agent-template.ts';

/** The agent's IPv4 template: the simulator's definition, one source of truth. */
export const ANTREA_AGENT_IPV4_FIELDS: EncoderField[] = agentTemplateNames(false).map((name) => field(name));

/** A Pod of a cluster of 2,000 Pods on 20 Nodes: names and addresses repeat across flows, as in real traffic. */
export function pod(index: number): { name: string; namespace: string; node: string; ip: string } {
  const namespaces = ['default', 'kube-system', 'payments', 'frontend', 'monitoring'];
  const deployment = ['web', 'api', 'db', 'cache', 'worker'][index % 5]!;
  return {
    name: `${deployment}-${(index * 7919).toString(36)}-${(index * 104729).toString(36).slice(-5)}`,
    namespace: namespaces[index % namespaces.length]!,
    node: `k8s-node-${index % 20}`,
    ip: `10.${10 + (index % 20)}.${(index >> 8) & 255}.${1 + (index & 127)}`,
  };
}

export function antreaRecord(random: () => number, _i: number): Record<string, EncodableValue> {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const source = pod(Math.floor(random() * 2000));
  const destination = pod(Math.floor(random() * 2000));
  const packets = 1 + Math.floor(random() * 100000);
  const start = 1_700_000_000 + Math.floor(random() * 1000);
  return {
    flowStartSeconds: start,
    flowEndSeconds: start + 60,
    flowEndReason: pick([1, 2, 3]),
    sourceTransportPort: 1024 + Math.floor(random() * 60000),
    destinationTransportPort: pick([80, 443, 8080, 53, 5432]),
    protocolIdentifier: pick([6, 6, 6, 17]),
    packetTotalCount: packets,
    octetTotalCount: packets * 900,
    packetDeltaCount: Math.floor(packets / 3),
    octetDeltaCount: Math.floor(packets / 3) * 900,
    sourceIPv4Address: source.ip,
    destinationIPv4Address: destination.ip,
    reversePacketTotalCount: Math.floor(packets / 2),
    reverseOctetTotalCount: Math.floor(packets / 2) * 600,
    reversePacketDeltaCount: Math.floor(packets / 6),
    reverseOctetDeltaCount: Math.floor(packets / 6) * 600,
    sourcePodName: source.name,
    sourcePodNamespace: source.namespace,
    sourceNodeName: source.node,
    destinationPodName: destination.name,
    destinationPodNamespace: destination.namespace,
    destinationNodeName: destination.node,
    destinationServicePort: pick([0, 80, 443]),
    destinationServicePortName: pick(['', 'payments/api:http', 'frontend/web:https']),
    ingressNetworkPolicyName: pick(['', 'allow-frontend']),
    ingressNetworkPolicyNamespace: pick(['', 'payments']),
    ingressNetworkPolicyType: pick([0, 1, 3]),
    ingressNetworkPolicyRuleName: pick(['', 'rule-1']),
    ingressNetworkPolicyRuleAction: pick([0, 1]),
    egressNetworkPolicyName: '',
    egressNetworkPolicyNamespace: '',
    egressNetworkPolicyType: 0,
    egressNetworkPolicyRuleName: '',
    egressNetworkPolicyRuleAction: 0,
    tcpState: pick(['ESTABLISHED', 'TIME_WAIT', 'SYN_SENT', '']),
    flowType: pick([1, 2, 3]),
    egressName: pick(['', 'egress-prod']),
    egressIP: pick(['', '172.18.0.10']),
    egressNodeName: pick(['', 'k8s-node-3']),
    proxySnatPort: 0,
    destinationClusterIPv4: pick(['0.0.0.0', '10.96.0.10']),
    proxySnatIPv4: '0.0.0.0',
    destinationServiceIPv4: pick(['0.0.0.0', '10.96.0.10']),
  };
}
