// The columns of the ClickHouse `flows` table, in schema order. The first 51 are exactly the columns of
// Antrea's Flow Aggregator INSERT (reference/antrea-flow-aggregator.md 3.2), the names Grafana dashboards
// query; timeInserted and trusted are filled by their DEFAULTs; the Flowline columns are additive.

/** Antrea's INSERT columns, in Antrea's argument order. */
export const ANTREA_INSERT_COLUMNS = [
  'flowStartSeconds',
  'flowEndSeconds',
  'flowEndSecondsFromSourceNode',
  'flowEndSecondsFromDestinationNode',
  'flowEndReason',
  'sourceIP',
  'destinationIP',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'packetTotalCount',
  'octetTotalCount',
  'packetDeltaCount',
  'octetDeltaCount',
  'reversePacketTotalCount',
  'reverseOctetTotalCount',
  'reversePacketDeltaCount',
  'reverseOctetDeltaCount',
  'sourcePodName',
  'sourcePodNamespace',
  'sourceNodeName',
  'destinationPodName',
  'destinationPodNamespace',
  'destinationNodeName',
  'destinationClusterIP',
  'destinationServicePort',
  'destinationServicePortName',
  'ingressNetworkPolicyName',
  'ingressNetworkPolicyNamespace',
  'ingressNetworkPolicyRuleName',
  'ingressNetworkPolicyRuleAction',
  'ingressNetworkPolicyType',
  'egressNetworkPolicyName',
  'egressNetworkPolicyNamespace',
  'egressNetworkPolicyRuleName',
  'egressNetworkPolicyRuleAction',
  'egressNetworkPolicyType',
  'tcpState',
  'flowType',
  'sourcePodLabels',
  'destinationPodLabels',
  'throughput',
  'reverseThroughput',
  'throughputFromSourceNode',
  'throughputFromDestinationNode',
  'reverseThroughputFromSourceNode',
  'reverseThroughputFromDestinationNode',
  'clusterUUID',
  'egressName',
  'egressIP',
  'egressNodeName',
] as const;

/** Columns Flowline adds (all with defaults, so Antrea's own INSERT still works against this table). */
export const FLOWLINE_COLUMNS = [
  'flowKey',
  'exportSeq',
  'incomplete',
  'exporterAddress',
  'destinationServiceIP',
  'exportedAt',
] as const;

/** What the flusher writes, in this order. */
export const FLOWLINE_INSERT_COLUMNS = [...ANTREA_INSERT_COLUMNS, ...FLOWLINE_COLUMNS] as const;

export type FlowsColumn = (typeof FLOWLINE_INSERT_COLUMNS)[number];

/** Columns filled by the table's DEFAULTs; never written by Antrea or Flowline. */
export const DEFAULTED_COLUMNS = ['timeInserted', 'trusted'] as const;

export const FLOWS_TABLE = 'flows';
export const VIEW_NAMES = ['flows_pod_view', 'flows_node_view', 'flows_policy_view'] as const;
