// The flow key: the 5-tuple in canonical text form. Both halves of an inter-Node flow
// map to the same key, so it is the DynamoDB partition key and the source of the Kinesis partition key.
import { type FlowRecord, FlowType, RuleAction } from './flow-record.ts';

export interface FiveTuple {
  sourceIP: string;
  destinationIP: string;
  protocolIdentifier: number;
  sourceTransportPort: number;
  destinationTransportPort: number;
}

/**
 * The ingress-Node half of an inter-Node from-external flow (Antrea v2.7+): keyed on its SNAT
 * address/port so that it collides with the destination-Node half, whose source is the gateway.
 */
export function isSourceNodeFromExternalFlow(record: FlowRecord): boolean {
  return (
    record.flowType === FlowType.FromExternal && record.destinationPodName === '' && record.proxySnatIP !== ''
  );
}

/**
 * Antrea's isCorrelationRequired: inter-Node flows (and the ingress-Node half of from-external ones) wait
 * for their other half, except flows a policy dropped or rejected on the way out (or rejected on the way
 * in), which only one Node reports. Shared by the correlator (fold) and the edge (missing Pod metadata).
 */
export function isCorrelationRequired(record: FlowRecord): boolean {
  if (
    record.egressNetworkPolicyRuleAction === RuleAction.Drop ||
    record.egressNetworkPolicyRuleAction === RuleAction.Reject ||
    record.ingressNetworkPolicyRuleAction === RuleAction.Reject
  ) {
    return false;
  }
  return record.flowType === FlowType.InterNode || isSourceNodeFromExternalFlow(record);
}

export function flowTupleOf(record: FlowRecord): FiveTuple {
  const snat = isSourceNodeFromExternalFlow(record);
  return {
    sourceIP: snat ? record.proxySnatIP : record.sourceIP,
    destinationIP: record.destinationIP,
    protocolIdentifier: record.protocolIdentifier,
    sourceTransportPort: snat ? record.proxySnatPort : record.sourceTransportPort,
    destinationTransportPort: record.destinationTransportPort,
  };
}

/** Why a record cannot form a flow key (it would correlate with nothing and mean nothing as a row). */
export type FlowKeyProblem = 'no-source-address' | 'no-destination-address' | 'no-protocol';

/**
 * The first missing part of the record's flow key, or undefined when it has one. Ports may be 0 (ICMP);
 * protocol 0 is never a flow Antrea reports, so it means the IE was absent.
 */
export function flowKeyProblem(record: FlowRecord): FlowKeyProblem | undefined {
  const source = isSourceNodeFromExternalFlow(record) ? record.proxySnatIP : record.sourceIP;
  if (source === '') return 'no-source-address';
  if (record.destinationIP === '') return 'no-destination-address';
  if (record.protocolIdentifier === 0) return 'no-protocol';
  return undefined;
}

/** "10.0.0.1|10.0.0.2|6|1234|5678": sourceIP|destinationIP|protocol|sourcePort|destinationPort. */
export function formatFlowKey(tuple: FiveTuple): string {
  return `${tuple.sourceIP}|${tuple.destinationIP}|${tuple.protocolIdentifier}|${tuple.sourceTransportPort}|${tuple.destinationTransportPort}`;
}

export function flowKeyOf(record: FlowRecord): string {
  return formatFlowKey(flowTupleOf(record));
}

export function parseFlowKey(key: string): FiveTuple | undefined {
  const parts = key.split('|');
  if (parts.length !== 5) return undefined;
  const [sourceIP, destinationIP, proto, sport, dport] = parts as [string, string, string, string, string];
  const numbers = [proto, sport, dport].map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < 0)) return undefined;
  return {
    sourceIP,
    destinationIP,
    protocolIdentifier: numbers[0]!,
    sourceTransportPort: numbers[1]!,
    destinationTransportPort: numbers[2]!,
  };
}
