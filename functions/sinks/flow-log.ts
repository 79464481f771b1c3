// The flow log: every exported row as the line Antrea's Flow Aggregator flow logger writes
// (pkg/flowaggregator/flowlogger WriteRecord at HEAD: 30 fields joined by ",", no header, no escaping),
// with its prettyPrint names (protocol, rule actions, policy types) and its filters on the rows' rule
// actions (exporter/log.go applyFilters). Where the lines go (CloudWatch Logs deployed, a file in local
// mode) is flow-log-targets.ts. Pure; peer-cases X-4 gives Antrea's expected lines.
import type { FlowLogFilter } from '../shared/flow-log-filters.ts';
import { lineField } from './antrea-csv.ts';
import type { ExportedRow } from './exported-row.ts';

/** Antrea's ip.IPProtocolNumberToString, with the flow logger's default. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  1: 'ICMP',
  6: 'TCP',
  17: 'UDP',
  58: 'IPv6-ICMP',
  132: 'SCTP',
};
const RULE_ACTION_NAMES = ['', 'Allow', 'Drop', 'Reject'] as const;
const POLICY_TYPE_NAMES = ['', 'K8sNetworkPolicy', 'AntreaNetworkPolicy', 'AntreaClusterNetworkPolicy'];

const named = (names: readonly string[], value: number) => names[value] ?? 'Invalid';

export interface FlowLogFormat {
  /** flowLogger.prettyPrint (Antrea's default true): names instead of numbers. */
  prettyPrint: boolean;
  /** flowLogger.filters; empty: every row. */
  filters: readonly FlowLogFilter[];
}

const num = (row: ExportedRow, name: keyof ExportedRow) => Number(row[name]);

/** One row as Antrea's flow logger writes it, without the newline. */
export function flowLogLine(row: ExportedRow, prettyPrint: boolean): string {
  const code = (name: keyof ExportedRow, names: (value: number) => string) =>
    prettyPrint ? names(num(row, name)) : String(num(row, name));
  const protocol = (value: number) => PROTOCOL_NAMES[value] ?? 'Unknown Protocol';
  const action = (value: number) => named(RULE_ACTION_NAMES, value);
  const policyType = (value: number) => named(POLICY_TYPE_NAMES, value);
  const fields = [
    row.flowStartSeconds,
    row.flowEndSeconds,
    row.sourceIP,
    row.destinationIP,
    row.sourceTransportPort,
    row.destinationTransportPort,
    code('protocolIdentifier', protocol),
    row.sourcePodName,
    row.sourcePodNamespace,
    row.sourceNodeName,
    row.destinationPodName,
    row.destinationPodNamespace,
    row.destinationNodeName,
    row.destinationClusterIP,
    row.destinationServiceIP,
    row.destinationServicePort,
    row.destinationServicePortName,
    row.ingressNetworkPolicyName,
    row.ingressNetworkPolicyNamespace,
    row.ingressNetworkPolicyRuleName,
    code('ingressNetworkPolicyRuleAction', action),
    code('ingressNetworkPolicyType', policyType),
    row.egressNetworkPolicyName,
    row.egressNetworkPolicyNamespace,
    row.egressNetworkPolicyRuleName,
    code('egressNetworkPolicyRuleAction', action),
    code('egressNetworkPolicyType', policyType),
    row.egressName,
    row.egressIP,
    row.egressNodeName,
  ];
  return fields.map(lineField).join(',');
}

/** Antrea's applyFilters: no filter passes every row; otherwise the first filter whose lists all hold. */
export function passesFlowLogFilters(row: ExportedRow, filters: readonly FlowLogFilter[]): boolean {
  if (filters.length === 0) return true;
  const holds = (actions: readonly number[], name: keyof ExportedRow) =>
    actions.length === 0 || actions.includes(num(row, name));
  return filters.some(
    (filter) =>
      holds(filter.ingressNetworkPolicyRuleActions, 'ingressNetworkPolicyRuleAction') &&
      holds(filter.egressNetworkPolicyRuleActions, 'egressNetworkPolicyRuleAction'),
  );
}

/** The lines of a batch's rows that pass the filters, in row order. */
export function flowLogLines(rows: readonly ExportedRow[], format: FlowLogFormat): string[] {
  return rows
    .filter((row) => passesFlowLogFilters(row, format.filters))
    .map((row) => flowLogLine(row, format.prettyPrint));
}
