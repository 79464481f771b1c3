// Decoded IPFIX data record (keyed by IE name) + its context -> FlowRecord, following Antrea's Flow
// Aggregator preprocessor (reference/antrea-flow-aggregator.md 1.1): dispatch by IE name (names are unique
// across IANA, reverse and Antrea, and the decoder already keys Antrea's on (56506|56505|55829, id)),
// IPv4 or IPv6 address IEs, all-zeros Service / ClusterIP / SNAT addresses -> "", egressIP is a textual
// address (invalid -> ""), unknown IEs ignored, missing IEs leave defaults.
import type { FlowRecord } from '../core/flow-record.ts';
import { canonicalIP, isUnspecifiedAddress, parseIP } from '../core/ip.ts';
import type { DecodedDataSet } from './ipfix/decoder.ts';
import type { IpfixRecord, IpfixValue } from './ipfix/types.ts';

export interface RecordContext {
  exporterAddress: string;
  observationDomainId: number;
  /** Message export time, seconds. */
  exportTime: number;
  /** Sequence number of this record: message sequence number + index of the record in its message. */
  sequenceNumber: number;
  receivedAtMs: number;
}

function num(value: IpfixValue | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return 0;
}

function str(value: IpfixValue | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}

/** Address IE value: "" when absent or all-zeros (Antrea converts 0.0.0.0 / :: to unset). */
function address(v4: IpfixValue | undefined, v6: IpfixValue | undefined): string {
  const value = typeof v4 === 'string' && !isUnspecifiedAddress(v4) ? v4 : v6;
  return typeof value === 'string' && !isUnspecifiedAddress(value) ? value : '';
}

// Egress IPs are few per cluster: remember their canonical forms.
const textualAddresses = new Map<string, string>();

/** egressIP is a string IE: parsed as Antrea does (netip.ParseAddr); invalid -> unset (""). */
function textualAddress(text: string): string {
  if (text === '') return '';
  let canonical = textualAddresses.get(text);
  if (canonical === undefined) {
    canonical = parseIP(text) ? canonicalIP(text) : '';
    if (textualAddresses.size >= 1024) textualAddresses.clear();
    textualAddresses.set(text, canonical);
  }
  return canonical;
}

export function normaliseRecord(f: IpfixRecord, context: RecordContext): FlowRecord {
  // Antrea sets the IP version from whichever source address IE is present (IPv4 first).
  const v4 = f.sourceIPv4Address !== undefined;
  // One object literal in FlowRecord's field order: one allocation, one hidden class for every record.
  return {
    exporterAddress: context.exporterAddress,
    observationDomainId: context.observationDomainId,
    exportTime: context.exportTime,
    sequenceNumber: context.sequenceNumber,
    receivedAtMs: context.receivedAtMs,
    sourceIP: str(v4 ? f.sourceIPv4Address : f.sourceIPv6Address),
    destinationIP: str(v4 ? f.destinationIPv4Address : f.destinationIPv6Address),
    sourceTransportPort: num(f.sourceTransportPort),
    destinationTransportPort: num(f.destinationTransportPort),
    protocolIdentifier: num(f.protocolIdentifier),
    flowStartSeconds: num(f.flowStartSeconds),
    flowEndSeconds: num(f.flowEndSeconds),
    flowEndReason: num(f.flowEndReason),
    tcpState: str(f.tcpState),
    flowType: num(f.flowType),
    packetTotalCount: num(f.packetTotalCount),
    packetDeltaCount: num(f.packetDeltaCount),
    octetTotalCount: num(f.octetTotalCount),
    octetDeltaCount: num(f.octetDeltaCount),
    reversePacketTotalCount: num(f.reversePacketTotalCount),
    reversePacketDeltaCount: num(f.reversePacketDeltaCount),
    reverseOctetTotalCount: num(f.reverseOctetTotalCount),
    reverseOctetDeltaCount: num(f.reverseOctetDeltaCount),
    sourcePodName: str(f.sourcePodName),
    sourcePodNamespace: str(f.sourcePodNamespace),
    sourceNodeName: str(f.sourceNodeName),
    destinationPodName: str(f.destinationPodName),
    destinationPodNamespace: str(f.destinationPodNamespace),
    destinationNodeName: str(f.destinationNodeName),
    destinationClusterIP: address(f.destinationClusterIPv4, f.destinationClusterIPv6),
    destinationServiceIP: address(f.destinationServiceIPv4, f.destinationServiceIPv6),
    destinationServicePort: num(f.destinationServicePort),
    destinationServicePortName: str(f.destinationServicePortName),
    ingressNetworkPolicyName: str(f.ingressNetworkPolicyName),
    ingressNetworkPolicyNamespace: str(f.ingressNetworkPolicyNamespace),
    ingressNetworkPolicyRuleName: str(f.ingressNetworkPolicyRuleName),
    ingressNetworkPolicyRuleAction: num(f.ingressNetworkPolicyRuleAction),
    ingressNetworkPolicyType: num(f.ingressNetworkPolicyType),
    egressNetworkPolicyName: str(f.egressNetworkPolicyName),
    egressNetworkPolicyNamespace: str(f.egressNetworkPolicyNamespace),
    egressNetworkPolicyRuleName: str(f.egressNetworkPolicyRuleName),
    egressNetworkPolicyRuleAction: num(f.egressNetworkPolicyRuleAction),
    egressNetworkPolicyType: num(f.egressNetworkPolicyType),
    egressName: str(f.egressName),
    egressIP: textualAddress(str(f.egressIP)),
    egressNodeName: str(f.egressNodeName),
    proxySnatIP: address(f.proxySnatIPv4, f.proxySnatIPv6),
    proxySnatPort: num(f.proxySnatPort),
    sourcePodLabels: str(f.sourcePodLabels),
    destinationPodLabels: str(f.destinationPodLabels),
  };
}

/**
 * FlowRecords of a decoded data set. Options records (exporter statistics) are not flows: none.
 * Record i gets sequenceNumber = message sequence + its index among the message's data records.
 */
export function normaliseDataSet(set: DecodedDataSet): FlowRecord[] {
  if (set.options) return [];
  const out = new Array<FlowRecord>(set.records.length);
  // One context object per set, its sequence number advanced per record (normaliseRecord copies it).
  const context: RecordContext = {
    exporterAddress: set.exporterAddress,
    observationDomainId: set.observationDomainId,
    exportTime: set.exportTime,
    sequenceNumber: 0,
    receivedAtMs: set.receivedAtMs,
  };
  for (let i = 0; i < set.records.length; i++) {
    context.sequenceNumber = (set.sequenceNumber + set.firstRecordIndex + i) >>> 0;
    out[i] = normaliseRecord(set.records[i]!, context);
  }
  return out;
}
