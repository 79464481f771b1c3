// The normalised flow record: one Antrea agent IPFIX data record, by field name, plus where and when it
// was received. Produced by collector-edge, carried on Kinesis in the wire format (core/wire.ts), consumed
// by the correlator. Pure data, no AWS imports.
//
// Counters are JavaScript numbers: exact up to 2^53 (9 PB per connection), far beyond any real counter;
// the wire format carries them as unsigned varints.

/** Antrea flowType values (go-ipfix registry). */
export const FlowType = {
  Unspecified: 0,
  IntraNode: 1,
  InterNode: 2,
  ToExternal: 3,
  FromExternal: 4,
} as const;

/** Network policy rule actions. */
export const RuleAction = { None: 0, Allow: 1, Drop: 2, Reject: 3 } as const;

/** IANA flowEndReason values. */
export const FlowEndReason = {
  IdleTimeout: 1,
  ActiveTimeout: 2,
  EndOfFlow: 3,
  ForcedEnd: 4,
  LackOfResources: 5,
} as const;

export interface FlowRecord {
  // Where and when the record was received (collector side).
  /** Exporter (Antrea agent) address as seen by the collector, text form. */
  exporterAddress: string;
  observationDomainId: number;
  /** IPFIX message export time, seconds since the epoch. */
  exportTime: number;
  /** IPFIX message sequence number + index of the record in its message (as Antrea's preprocessor). */
  sequenceNumber: number;
  /** Collector receive time, milliseconds since the epoch. */
  receivedAtMs: number;

  // 5-tuple. Addresses in canonical text form (IPv6 per RFC 5952); "" when absent.
  sourceIP: string;
  destinationIP: string;
  sourceTransportPort: number;
  destinationTransportPort: number;
  protocolIdentifier: number;

  flowStartSeconds: number;
  flowEndSeconds: number;
  flowEndReason: number;
  /** Kernel conntrack TCP state name; "" for non-TCP. */
  tcpState: string;
  flowType: number;

  packetTotalCount: number;
  packetDeltaCount: number;
  octetTotalCount: number;
  octetDeltaCount: number;
  reversePacketTotalCount: number;
  reversePacketDeltaCount: number;
  reverseOctetTotalCount: number;
  reverseOctetDeltaCount: number;

  sourcePodName: string;
  sourcePodNamespace: string;
  sourceNodeName: string;
  destinationPodName: string;
  destinationPodNamespace: string;
  destinationNodeName: string;

  /** Pre-DNAT Service address (deprecated destinationClusterIPv4/6 IE); "" when unset or all-zeros. */
  destinationClusterIP: string;
  /** Pre-DNAT Service address (destinationServiceIPv4/6 IE); "" when unset or all-zeros. */
  destinationServiceIP: string;
  destinationServicePort: number;
  destinationServicePortName: string;

  ingressNetworkPolicyName: string;
  ingressNetworkPolicyNamespace: string;
  ingressNetworkPolicyRuleName: string;
  ingressNetworkPolicyRuleAction: number;
  ingressNetworkPolicyType: number;
  egressNetworkPolicyName: string;
  egressNetworkPolicyNamespace: string;
  egressNetworkPolicyRuleName: string;
  egressNetworkPolicyRuleAction: number;
  egressNetworkPolicyType: number;

  egressName: string;
  egressIP: string;
  egressNodeName: string;

  /** Gateway SNAT address/port of the ingress-Node half of a from-external flow; "" / 0 when unset. */
  proxySnatIP: string;
  proxySnatPort: number;

  /** Pod labels as JSON text ("" when unknown); agents do not send them, kept for completeness. */
  sourcePodLabels: string;
  destinationPodLabels: string;
}

/** A record with every field at its default (empty string / zero). */
export function emptyFlowRecord(): FlowRecord {
  return {
    exporterAddress: '',
    observationDomainId: 0,
    exportTime: 0,
    sequenceNumber: 0,
    receivedAtMs: 0,
    sourceIP: '',
    destinationIP: '',
    sourceTransportPort: 0,
    destinationTransportPort: 0,
    protocolIdentifier: 0,
    flowStartSeconds: 0,
    flowEndSeconds: 0,
    flowEndReason: 0,
    tcpState: '',
    flowType: 0,
    packetTotalCount: 0,
    packetDeltaCount: 0,
    octetTotalCount: 0,
    octetDeltaCount: 0,
    reversePacketTotalCount: 0,
    reversePacketDeltaCount: 0,
    reverseOctetTotalCount: 0,
    reverseOctetDeltaCount: 0,
    sourcePodName: '',
    sourcePodNamespace: '',
    sourceNodeName: '',
    destinationPodName: '',
    destinationPodNamespace: '',
    destinationNodeName: '',
    destinationClusterIP: '',
    destinationServiceIP: '',
    destinationServicePort: 0,
    destinationServicePortName: '',
    ingressNetworkPolicyName: '',
    ingressNetworkPolicyNamespace: '',
    ingressNetworkPolicyRuleName: '',
    ingressNetworkPolicyRuleAction: 0,
    ingressNetworkPolicyType: 0,
    egressNetworkPolicyName: '',
    egressNetworkPolicyNamespace: '',
    egressNetworkPolicyRuleName: '',
    egressNetworkPolicyRuleAction: 0,
    egressNetworkPolicyType: 0,
    egressName: '',
    egressIP: '',
    egressNodeName: '',
    proxySnatIP: '',
    proxySnatPort: 0,
    sourcePodLabels: '',
    destinationPodLabels: '',
  };
}

export type FlowRecordField = keyof FlowRecord;
export type StringField = {
  [K in FlowRecordField]: FlowRecord[K] extends string ? K : never;
}[FlowRecordField];
export type NumberField = {
  [K in FlowRecordField]: FlowRecord[K] extends number ? K : never;
}[FlowRecordField];
