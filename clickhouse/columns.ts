// The columns of the ClickHouse `flows` table, in schema order. The first 51 are exactly the columns of
// Antrea's Flow Aggregator INSERT (antrea pkg/flowaggregator/clickhouseclient/clickhouseclient.go), the names Grafana dashboards
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

/** What the exporter writes, in this order. */
export const FLOWLINE_INSERT_COLUMNS = [...ANTREA_INSERT_COLUMNS, ...FLOWLINE_COLUMNS] as const;

export type FlowsColumn = (typeof FLOWLINE_INSERT_COLUMNS)[number];

/** Columns filled by the table's DEFAULTs; never written by Antrea or Flowline. */
export const DEFAULTED_COLUMNS = ['timeInserted', 'trusted'] as const;

export const FLOWS_TABLE = 'flows';
export const VIEW_NAMES = ['flows_pod_view', 'flows_node_view', 'flows_policy_view'] as const;

/** The ClickHouse types the exporter writes (RowBinary), as `system.columns` spells them. */
export type InsertColumnType =
  | 'DateTime'
  | 'UInt8'
  | 'UInt16'
  | 'UInt32'
  | 'UInt64'
  | 'String'
  | "DateTime64(3, 'UTC')";

const COUNTER = 'UInt64';
const TIME = 'DateTime';

/** Every insert column's type, as migrations/0001_flows.sql declares it (an integration test compares). */
export const FLOWS_COLUMN_TYPES: Readonly<Record<FlowsColumn, InsertColumnType>> = {
  flowStartSeconds: TIME,
  flowEndSeconds: TIME,
  flowEndSecondsFromSourceNode: TIME,
  flowEndSecondsFromDestinationNode: TIME,
  flowEndReason: 'UInt8',
  sourceIP: 'String',
  destinationIP: 'String',
  sourceTransportPort: 'UInt16',
  destinationTransportPort: 'UInt16',
  protocolIdentifier: 'UInt8',
  packetTotalCount: COUNTER,
  octetTotalCount: COUNTER,
  packetDeltaCount: COUNTER,
  octetDeltaCount: COUNTER,
  reversePacketTotalCount: COUNTER,
  reverseOctetTotalCount: COUNTER,
  reversePacketDeltaCount: COUNTER,
  reverseOctetDeltaCount: COUNTER,
  sourcePodName: 'String',
  sourcePodNamespace: 'String',
  sourceNodeName: 'String',
  destinationPodName: 'String',
  destinationPodNamespace: 'String',
  destinationNodeName: 'String',
  destinationClusterIP: 'String',
  destinationServicePort: 'UInt16',
  destinationServicePortName: 'String',
  ingressNetworkPolicyName: 'String',
  ingressNetworkPolicyNamespace: 'String',
  ingressNetworkPolicyRuleName: 'String',
  ingressNetworkPolicyRuleAction: 'UInt8',
  ingressNetworkPolicyType: 'UInt8',
  egressNetworkPolicyName: 'String',
  egressNetworkPolicyNamespace: 'String',
  egressNetworkPolicyRuleName: 'String',
  egressNetworkPolicyRuleAction: 'UInt8',
  egressNetworkPolicyType: 'UInt8',
  tcpState: 'String',
  flowType: 'UInt8',
  sourcePodLabels: 'String',
  destinationPodLabels: 'String',
  throughput: COUNTER,
  reverseThroughput: COUNTER,
  throughputFromSourceNode: COUNTER,
  throughputFromDestinationNode: COUNTER,
  reverseThroughputFromSourceNode: COUNTER,
  reverseThroughputFromDestinationNode: COUNTER,
  clusterUUID: 'String',
  egressName: 'String',
  egressIP: 'String',
  egressNodeName: 'String',
  flowKey: 'String',
  exportSeq: 'UInt32',
  incomplete: 'UInt8',
  exporterAddress: 'String',
  destinationServiceIP: 'String',
  exportedAt: "DateTime64(3, 'UTC')",
};
