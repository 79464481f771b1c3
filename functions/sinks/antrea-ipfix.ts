// The Flow Aggregator's aggregated-record export, as Antrea HEAD builds it (pkg/flowaggregator/exporter/
// ipfix.go prepareElements / makeIPFIXRecord, infoelements/elements.go; go-ipfix pkg/exporter/process.go),
// in Aggregate mode with the defaults includeK8sNames=true, includeK8sUIDs=false:
//   - template 256 for IPv4 flows and 257 for IPv6 flows (go-ipfix's NewTemplateID counts from 255, and
//     Antrea creates the IPv4 template first);
//   - IE order: the IANA IEs, the RFC 5103 reverse IEs, the Antrea IEs, then per metric the FromSourceNode
//     and FromDestinationNode counters, the per-Node flowEnd times, the throughputs (common, source, then
//     destination, for forward and reverse), the Pod labels and clusterId;
//   - observation domain id: the configured one, else FNV-1 32 of the cluster UUID's 16 bytes;
//   - JSON record format: one line per record, {"@timestamp": RFC 3339, "ipfix": {IE name: value}}, keys
//     sorted as Go's json.Marshal sorts map keys, addresses as text, integers as numbers.
// IPFIX bytes come from collector-edge's IpfixEncoder (the one encoder of the project). Pure.
import { field, IpfixEncoder } from '../../collector-edge/ipfix/encoder.ts';
import type { EncodableValue, EncoderField } from '../../collector-edge/ipfix/index.ts';
import {
  ANTREA_ENTERPRISE_ELEMENTS,
  ANTREA_IANA_ELEMENTS,
  ANTREA_REVERSE_ELEMENTS,
} from '../../core/antrea-elements.ts';
import type { ExportedRow } from './exported-row.ts';

export const TEMPLATE_ID_IPV4 = 256;
export const TEMPLATE_ID_IPV6 = 257;

const STATS = [
  'octetDeltaCount',
  'octetTotalCount',
  'packetDeltaCount',
  'packetTotalCount',
  'reverseOctetDeltaCount',
  'reverseOctetTotalCount',
  'reversePacketDeltaCount',
  'reversePacketTotalCount',
];
const AGGREGATION = [
  ...STATS.flatMap((s) => [`${s}FromSourceNode`, `${s}FromDestinationNode`]),
  'flowEndSecondsFromSourceNode',
  'flowEndSecondsFromDestinationNode',
  ...['throughput', 'reverseThroughput'].flatMap((t) => [t, `${t}FromSourceNode`, `${t}FromDestinationNode`]),
];
const TRAILER = ['sourcePodLabels', 'destinationPodLabels', 'clusterId'];

/** IE names of the aggregated template, in Antrea's order. */
export function aggregatedTemplateNames(ipv6: boolean): string[] {
  const family = ipv6 ? 'IPv6' : 'IPv4';
  return [
    ...ANTREA_IANA_ELEMENTS,
    `source${family}Address`,
    `destination${family}Address`,
    ...ANTREA_REVERSE_ELEMENTS,
    ...ANTREA_ENTERPRISE_ELEMENTS,
    `proxySnat${family}`,
    `destinationCluster${family}`,
    `destinationService${family}`,
    ...AGGREGATION,
    ...TRAILER,
  ];
}

function templateFields(ipv6: boolean): EncoderField[] {
  return aggregatedTemplateNames(ipv6).map((name) => field(name));
}

/** go-ipfix / Antrea genObservationDomainID: FNV-1 (not 1a) 32-bit over the UUID's 16 bytes. */
export function observationDomainIdOf(clusterUUID: string): number {
  const hex = clusterUUID.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex))
    throw new Error(`cluster UUID ${JSON.stringify(clusterUUID)} is not a UUID`);
  let hash = 0x811c9dc5;
  for (let i = 0; i < 32; i += 2) {
    hash = Math.imul(hash, 0x01000193) >>> 0;
    hash = (hash ^ Number.parseInt(hex.slice(i, i + 2), 16)) >>> 0;
  }
  return hash;
}

export function isIPv6Row(row: ExportedRow): boolean {
  return String(row.sourceIP).includes(':');
}

/** The record's values keyed by the template's IE names. */
export function aggregatedRecordOf(row: ExportedRow, clusterId: string): Record<string, EncodableValue> {
  const family = isIPv6Row(row) ? 'IPv6' : 'IPv4';
  const values: Record<string, EncodableValue> = { ...row, clusterId };
  values[`source${family}Address`] = row.sourceIP;
  values[`destination${family}Address`] = row.destinationIP;
  values[`proxySnat${family}`] = row.proxySnatIP;
  values[`destinationCluster${family}`] = row.destinationClusterIP;
  values[`destinationService${family}`] = row.destinationServiceIP;
  return values;
}

/** An exporting process's IPFIX side: its templates, sequence numbers and message size limit. */
export class AggregatedRecordEncoder {
  private readonly encoder: IpfixEncoder;

  constructor(
    readonly observationDomainId: number,
    private readonly clusterId: string,
    maxMessageBytes: number,
  ) {
    this.encoder = new IpfixEncoder({ observationDomainId, maxMessageBytes });
    this.encoder.defineTemplate(TEMPLATE_ID_IPV4, templateFields(false));
    this.encoder.defineTemplate(TEMPLATE_ID_IPV6, templateFields(true));
  }

  /** Both templates, in one message (sent first on each connection, and every refresh on UDP). */
  templateMessage(exportTimeSeconds: number): Uint8Array {
    return this.encoder.templateMessage(exportTimeSeconds, [TEMPLATE_ID_IPV4, TEMPLATE_ID_IPV6]);
  }

  /** Data messages for the rows, IPv4 and IPv6 rows under their own template, each within the size limit. */
  dataMessages(rows: readonly ExportedRow[], exportTimeSeconds: number): Uint8Array[] {
    const v4 = rows.filter((r) => !isIPv6Row(r)).map((r) => aggregatedRecordOf(r, this.clusterId));
    const v6 = rows.filter(isIPv6Row).map((r) => aggregatedRecordOf(r, this.clusterId));
    return [
      ...(v4.length > 0 ? this.encoder.dataMessages(TEMPLATE_ID_IPV4, v4, exportTimeSeconds) : []),
      ...(v6.length > 0 ? this.encoder.dataMessages(TEMPLATE_ID_IPV6, v6, exportTimeSeconds) : []),
    ];
  }
}

/** The value go-ipfix puts in the JSON record for an IE of the template. */
function jsonValueOf(name: string, value: EncodableValue): string | number {
  if (/IPv[46](Address)?$/.test(name)) {
    // net.IP's text form; Antrea sets the all-zeros address when the value is unset.
    if (typeof value === 'string' && value !== '') return value;
    return name.includes('IPv6') ? '::' : '0.0.0.0';
  }
  if (typeof value === 'number' || typeof value === 'string') return value;
  return value === undefined || value === null ? '' : String(value);
}

/** Go's encoding/json string escaping with EscapeHTML on (its default): <, >, &, U+2028, U+2029. */
function goJsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** RFC 3339 with second precision, as Go's time.Now().Format(time.RFC3339) in UTC. */
export function rfc3339Seconds(epochMs: number): string {
  return `${new Date(Math.floor(epochMs / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** One JSON record line, byte for byte as go-ipfix's createAndSendJSONRecords writes it. */
export function jsonRecordLine(row: ExportedRow, clusterId: string, nowMs: number): string {
  const values = aggregatedRecordOf(row, clusterId);
  const names = aggregatedTemplateNames(isIPv6Row(row)).sort();
  const body = names
    .map((name) => {
      const value = jsonValueOf(name, values[name]);
      return `${goJsonString(name)}:${typeof value === 'number' ? String(value) : goJsonString(value)}`;
    })
    .join(',');
  return `{"@timestamp":${goJsonString(rfc3339Seconds(nowMs))},"ipfix":{${body}}}\n`;
}
