// The information elements every Antrea flow record starts with, in the order Antrea's exporters write
// them (pkg/agent/flowexporter/exporter/ipfix.go for the agent, pkg/flowaggregator/exporter/ipfix.go for the
// Flow Aggregator, which exports the same elements first and then its aggregation elements): the IANA
// elements, the RFC 5103 reverse counters, and Antrea's own (enterprise 56506) with Kubernetes names and
// without UIDs. The family-specific addresses (sourceIPv4Address, ...) sit between them and differ per
// exporter, so each template adds its own. Names only: the simulator's agent template and the aggregated
// record export both build on these.

export const ANTREA_IANA_ELEMENTS: readonly string[] = [
  'flowStartSeconds',
  'flowEndSeconds',
  'flowEndReason',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'packetTotalCount',
  'octetTotalCount',
  'packetDeltaCount',
  'octetDeltaCount',
];

export const ANTREA_REVERSE_ELEMENTS: readonly string[] = [
  'reversePacketTotalCount',
  'reverseOctetTotalCount',
  'reversePacketDeltaCount',
  'reverseOctetDeltaCount',
];

/** Antrea's own elements (includeK8sNames=true, includeK8sUIDs=false), up to the family-specific addresses. */
export const ANTREA_ENTERPRISE_ELEMENTS: readonly string[] = [
  'sourcePodName',
  'sourcePodNamespace',
  'sourceNodeName',
  'destinationPodName',
  'destinationPodNamespace',
  'destinationNodeName',
  'destinationServicePort',
  'destinationServicePortName',
  'ingressNetworkPolicyName',
  'ingressNetworkPolicyNamespace',
  'ingressNetworkPolicyType',
  'ingressNetworkPolicyRuleName',
  'ingressNetworkPolicyRuleAction',
  'egressNetworkPolicyName',
  'egressNetworkPolicyNamespace',
  'egressNetworkPolicyType',
  'egressNetworkPolicyRuleName',
  'egressNetworkPolicyRuleAction',
  'tcpState',
  'flowType',
  'egressName',
  'egressIP',
  'egressNodeName',
  'proxySnatPort',
];
