// Decoded IPFIX data record (keyed by IE name) + its context -> FlowRecord, following Antrea's Flow
// Aggregator preprocessor (reference/antrea-flow-aggregator.md 1.1): dispatch by IE name (names are unique
// across IANA, reverse and Antrea, and the decoder already keys Antrea's on (56506|56505|55829, id)),
// IPv4 or IPv6 address IEs, all-zeros Service / ClusterIP / SNAT addresses -> "", egressIP is a textual
// address (invalid -> ""), unknown IEs ignored, missing IEs leave defaults.
import { type FlowRecord, emptyFlowRecord } from '../core/flow-record.ts';
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

export function normaliseRecord(fields: IpfixRecord, context: RecordContext): FlowRecord {
  const r = emptyFlowRecord();
  r.exporterAddress = context.exporterAddress;
  r.observationDomainId = context.observationDomainId;
  r.exportTime = context.exportTime;
  r.sequenceNumber = context.sequenceNumber;
  r.receivedAtMs = context.receivedAtMs;

  // Antrea sets the IP version from whichever source address IE is present (IPv4 first).
  if (fields.sourceIPv4Address !== undefined) {
    r.sourceIP = str(fields.sourceIPv4Address);
    r.destinationIP = str(fields.destinationIPv4Address);
  } else if (fields.sourceIPv6Address !== undefined) {
    r.sourceIP = str(fields.sourceIPv6Address);
    r.destinationIP = str(fields.destinationIPv6Address);
  }
  r.sourceTransportPort = num(fields.sourceTransportPort);
  r.destinationTransportPort = num(fields.destinationTransportPort);
  r.protocolIdentifier = num(fields.protocolIdentifier);

  r.flowStartSeconds = num(fields.flowStartSeconds);
  r.flowEndSeconds = num(fields.flowEndSeconds);
  r.flowEndReason = num(fields.flowEndReason);
  r.tcpState = str(fields.tcpState);
  r.flowType = num(fields.flowType);

  r.packetTotalCount = num(fields.packetTotalCount);
  r.packetDeltaCount = num(fields.packetDeltaCount);
  r.octetTotalCount = num(fields.octetTotalCount);
  r.octetDeltaCount = num(fields.octetDeltaCount);
  r.reversePacketTotalCount = num(fields.reversePacketTotalCount);
  r.reversePacketDeltaCount = num(fields.reversePacketDeltaCount);
  r.reverseOctetTotalCount = num(fields.reverseOctetTotalCount);
  r.reverseOctetDeltaCount = num(fields.reverseOctetDeltaCount);

  r.sourcePodName = str(fields.sourcePodName);
  r.sourcePodNamespace = str(fields.sourcePodNamespace);
  r.sourceNodeName = str(fields.sourceNodeName);
  r.destinationPodName = str(fields.destinationPodName);
  r.destinationPodNamespace = str(fields.destinationPodNamespace);
  r.destinationNodeName = str(fields.destinationNodeName);

  r.destinationClusterIP = address(fields.destinationClusterIPv4, fields.destinationClusterIPv6);
  r.destinationServiceIP = address(fields.destinationServiceIPv4, fields.destinationServiceIPv6);
  r.destinationServicePort = num(fields.destinationServicePort);
  r.destinationServicePortName = str(fields.destinationServicePortName);

  r.ingressNetworkPolicyName = str(fields.ingressNetworkPolicyName);
  r.ingressNetworkPolicyNamespace = str(fields.ingressNetworkPolicyNamespace);
  r.ingressNetworkPolicyRuleName = str(fields.ingressNetworkPolicyRuleName);
  r.ingressNetworkPolicyRuleAction = num(fields.ingressNetworkPolicyRuleAction);
  r.ingressNetworkPolicyType = num(fields.ingressNetworkPolicyType);
  r.egressNetworkPolicyName = str(fields.egressNetworkPolicyName);
  r.egressNetworkPolicyNamespace = str(fields.egressNetworkPolicyNamespace);
  r.egressNetworkPolicyRuleName = str(fields.egressNetworkPolicyRuleName);
  r.egressNetworkPolicyRuleAction = num(fields.egressNetworkPolicyRuleAction);
  r.egressNetworkPolicyType = num(fields.egressNetworkPolicyType);

  r.egressName = str(fields.egressName);
  const egressIP = str(fields.egressIP);
  r.egressIP = egressIP !== '' && parseIP(egressIP) ? canonicalIP(egressIP) : '';
  r.egressNodeName = str(fields.egressNodeName);

  r.proxySnatIP = address(fields.proxySnatIPv4, fields.proxySnatIPv6);
  r.proxySnatPort = num(fields.proxySnatPort);

  r.sourcePodLabels = str(fields.sourcePodLabels);
  r.destinationPodLabels = str(fields.destinationPodLabels);
  return r;
}

/**
 * FlowRecords of a decoded data set. Options records (exporter statistics) are not flows: none.
 * Record i gets sequenceNumber = message sequence + its index among the message's data records.
 */
export function normaliseDataSet(set: DecodedDataSet): FlowRecord[] {
  if (set.options) return [];
  const out = new Array<FlowRecord>(set.records.length);
  for (let i = 0; i < set.records.length; i++) {
    out[i] = normaliseRecord(set.records[i]!, {
      exporterAddress: set.exporterAddress,
      observationDomainId: set.observationDomainId,
      exportTime: set.exportTime,
      sequenceNumber: (set.sequenceNumber + set.firstRecordIndex + i) >>> 0,
      receivedAtMs: set.receivedAtMs,
    });
  }
  return out;
}
