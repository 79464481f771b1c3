// Aggregated flow -> ClickHouse `flows` row, exactly as Antrea's Flow Aggregator converts its record for the
// ClickHouse exporter (flowrecord/record.go + clickhouseclient.go in antrea pkg/flowaggregator),
// plus Flowline's additive columns. Pure: no AWS, no ClickHouse client.
import {
  ANTREA_INSERT_COLUMNS,
  FLOWLINE_INSERT_COLUMNS,
  type FlowsColumn,
} from '../../clickhouse/columns.ts';
import type { AggregatedFlow } from '../../core/aggregated-flow.ts';
import { addressOrEmpty } from '../../core/ip.ts';
import { labelsJson } from '../../core/pod-labels.ts';

/** One row of `flows`: DateTime columns as Unix seconds, exportedAt as UTC text with milliseconds. */
export type FlowRow = Record<FlowsColumn, string | number>;

export interface RowContext {
  /** The cluster UUID (Antrea always writes the UUID here, never the configurable clusterID). */
  clusterUUID: string;
  /** The export sequence number of this export of the flow (1 for the first export). */
  exportSeq: number;
  /** When the export step ran (its due time), milliseconds since the epoch. */
  exportedAtMs: number;
}

export function buildFlowRow(flow: AggregatedFlow, context: RowContext): FlowRow {
  const r = flow.record;
  return {
    flowStartSeconds: r.flowStartSeconds,
    flowEndSeconds: r.flowEndSeconds,
    // Antrea: an unset per-Node end time is the zero timestamp, i.e. 1970-01-01 00:00:00.
    flowEndSecondsFromSourceNode: flow.flowEndSecondsFromSourceNode,
    flowEndSecondsFromDestinationNode: flow.flowEndSecondsFromDestinationNode,
    flowEndReason: r.flowEndReason,
    sourceIP: r.sourceIP,
    destinationIP: r.destinationIP,
    sourceTransportPort: r.sourceTransportPort,
    destinationTransportPort: r.destinationTransportPort,
    protocolIdentifier: r.protocolIdentifier,
    packetTotalCount: r.packetTotalCount,
    octetTotalCount: r.octetTotalCount,
    packetDeltaCount: r.packetDeltaCount,
    octetDeltaCount: r.octetDeltaCount,
    reversePacketTotalCount: r.reversePacketTotalCount,
    reverseOctetTotalCount: r.reverseOctetTotalCount,
    reversePacketDeltaCount: r.reversePacketDeltaCount,
    reverseOctetDeltaCount: r.reverseOctetDeltaCount,
    sourcePodName: r.sourcePodName,
    sourcePodNamespace: r.sourcePodNamespace,
    sourceNodeName: r.sourceNodeName,
    destinationPodName: r.destinationPodName,
    destinationPodNamespace: r.destinationPodNamespace,
    destinationNodeName: r.destinationNodeName,
    // Antrea >= 2.4 writes "" (not 0.0.0.0 / ::) when the flow has no Service: the collector turns the
    // all-zeros address into "unset" and net.IP.String() of nothing is "".
    destinationClusterIP: addressOrEmpty(r.destinationClusterIP),
    destinationServicePort: r.destinationServicePort,
    destinationServicePortName: r.destinationServicePortName,
    ingressNetworkPolicyName: r.ingressNetworkPolicyName,
    ingressNetworkPolicyNamespace: r.ingressNetworkPolicyNamespace,
    ingressNetworkPolicyRuleName: r.ingressNetworkPolicyRuleName,
    ingressNetworkPolicyRuleAction: r.ingressNetworkPolicyRuleAction,
    ingressNetworkPolicyType: r.ingressNetworkPolicyType,
    egressNetworkPolicyName: r.egressNetworkPolicyName,
    egressNetworkPolicyNamespace: r.egressNetworkPolicyNamespace,
    egressNetworkPolicyRuleName: r.egressNetworkPolicyRuleName,
    egressNetworkPolicyRuleAction: r.egressNetworkPolicyRuleAction,
    egressNetworkPolicyType: r.egressNetworkPolicyType,
    tcpState: r.tcpState,
    flowType: r.flowType,
    sourcePodLabels: podLabelsJson(r.sourcePodLabels),
    destinationPodLabels: podLabelsJson(r.destinationPodLabels),
    throughput: flow.throughput,
    reverseThroughput: flow.reverseThroughput,
    throughputFromSourceNode: flow.throughputFromSourceNode,
    throughputFromDestinationNode: flow.throughputFromDestinationNode,
    reverseThroughputFromSourceNode: flow.reverseThroughputFromSourceNode,
    reverseThroughputFromDestinationNode: flow.reverseThroughputFromDestinationNode,
    clusterUUID: context.clusterUUID,
    egressName: r.egressName,
    // egressIP is a string IE in Antrea: passed through as received ("" when the flow has no Egress).
    egressIP: r.egressIP,
    egressNodeName: r.egressNodeName,
    flowKey: flow.flowKey,
    exportSeq: context.exportSeq,
    incomplete: flow.incomplete ? 1 : 0,
    exporterAddress: r.exporterAddress,
    destinationServiceIP: addressOrEmpty(r.destinationServiceIP),
    exportedAt: utcMillisText(context.exportedAtMs),
  };
}

/** "YYYY-MM-DD hh:mm:ss.sss" in UTC, the text form of the DateTime64(3, 'UTC') column. */
function utcMillisText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Pod labels as Antrea serialises them: "" when unknown (nil), "{}" for a Pod without labels, otherwise
 * Go's json.Marshal of the map (keys sorted, compact). Text that is not a JSON object of strings is kept
 * as it came: it is the agent's, not ours to drop.
 */
export function podLabelsJson(labels: string): string {
  if (labels === '') return '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(labels);
  } catch {
    return labels;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return labels;
  const values = Object.values(parsed as Record<string, unknown>);
  if (!values.every((value) => typeof value === 'string')) return labels;
  return labelsJson(parsed as Record<string, string>);
}

/** Antrea's 51 INSERT arguments, in Antrea's order (for comparison with the Flow Aggregator's Exec call). */
export function antreaInsertArguments(row: FlowRow): Array<string | number> {
  return ANTREA_INSERT_COLUMNS.map((column) => row[column]);
}

/** The row as positional values in FLOWLINE_INSERT_COLUMNS order (JSONCompactEachRow). */
export function rowValues(row: FlowRow): Array<string | number> {
  return FLOWLINE_INSERT_COLUMNS.map((column) => row[column]);
}
