// `flowline flows`: the flows the correlator holds now, filtered and shown as Antrea's
// `antctl get flowrecords` shows the Flow Aggregator's map (reference antrea-flow-aggregator.md section 5).
import { type DynamoDBClient, GetItemCommand, paginateScan } from '@aws-sdk/client-dynamodb';
import { parseFlowKey } from '../../core/flow-key.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import { isExpired, type StoredFlow } from '../../core/flow-state/state.ts';
import { addressOrEmpty } from '../../core/ip.ts';
import { decodeEntries } from './bucket-entries.ts';
import { type FlowItem, recordOfAttribute, storedFlowOf } from './marshal.ts';
import { ATTR, BUCKET_PK_PREFIX, NAMES_PK_PREFIX } from './schema.ts';

/** antctl's filter: every field that is set must match the flow key (for from-external flows, the SNAT key). */
export interface FlowRecordFilter {
  sourceIP?: string;
  destinationIP?: string;
  protocolIdentifier?: number;
  sourceTransportPort?: number;
  destinationTransportPort?: number;
}

export function matchesFilter(flowKey: string, filter: FlowRecordFilter): boolean {
  const tuple = parseFlowKey(flowKey);
  if (!tuple) return false;
  return (
    (!filter.sourceIP || tuple.sourceIP === filter.sourceIP) &&
    (!filter.destinationIP || tuple.destinationIP === filter.destinationIP) &&
    (!filter.protocolIdentifier || tuple.protocolIdentifier === filter.protocolIdentifier) &&
    (!filter.sourceTransportPort || tuple.sourceTransportPort === filter.sourceTransportPort) &&
    (!filter.destinationTransportPort || tuple.destinationTransportPort === filter.destinationTransportPort)
  );
}

function isExactKey(filter: FlowRecordFilter): boolean {
  return Boolean(
    filter.sourceIP &&
      filter.destinationIP &&
      filter.protocolIdentifier &&
      filter.sourceTransportPort &&
      filter.destinationTransportPort,
  );
}

/**
 * Live (not expired, not closed) flows matching the filter: one GetItem when all five fields are set, as
 * antctl does an exact lookup (a table of buckets has no item per flow: then the Scan); otherwise a
 * paginated Scan, which is what an operator's listing costs.
 */
export async function listFlows(
  client: DynamoDBClient,
  tableName: string,
  filter: FlowRecordFilter,
  nowMs: number,
): Promise<StoredFlow[]> {
  const live = (stored: StoredFlow) => !isExpired(stored, nowMs) && !stored.state.closed;
  if (isExactKey(filter)) {
    const key = `${filter.sourceIP}|${filter.destinationIP}|${filter.protocolIdentifier}|${filter.sourceTransportPort}|${filter.destinationTransportPort}`;
    const out = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { [ATTR.pk]: { S: key } }, ConsistentRead: true }),
    );
    const stored = out.Item ? storedFlowOf(out.Item) : undefined;
    if (stored) return live(stored) ? [stored] : [];
  }
  const flows: StoredFlow[] = [];
  const buckets: FlowItem[] = [];
  const names = new Map<string, FlowRecord>();
  for await (const page of paginateScan({ client }, { TableName: tableName })) {
    for (const item of page.Items ?? []) {
      const pk = item[ATTR.pk]?.S ?? '';
      if (pk.startsWith(BUCKET_PK_PREFIX)) buckets.push(item);
      else if (pk.startsWith(NAMES_PK_PREFIX)) {
        const key = pk.slice(NAMES_PK_PREFIX.length);
        const record = item[ATTR.record]?.B;
        if (record && matchesFilter(key, filter)) names.set(key, recordOfAttribute(record, key));
      } else if (pk.includes('|') && matchesFilter(pk, filter)) {
        // A flow's own item; the exporter's intents and the sinks' outbox share the table (no '|').
        const stored = storedFlowOf(item);
        if (live(stored)) flows.push(stored);
      }
    }
  }
  for (const item of buckets) flows.push(...bucketFlowsOf(item, names, filter).filter(live));
  return flows.sort((a, b) => (a.state.flow.flowKey < b.state.flow.flowKey ? -1 : 1));
}

/** The flows of a bucket item (buckets.ts) that match the filter, with their names. */
function bucketFlowsOf(
  item: FlowItem,
  names: Map<string, FlowRecord>,
  filter: FlowRecordFilter,
): StoredFlow[] {
  const pk = item[ATTR.pk]?.S ?? '';
  const bytes = item[ATTR.flows]?.B;
  if (!bytes) return [];
  const version = Number(item[ATTR.version]?.N ?? 0);
  return [...decodeEntries(bytes, pk, (key) => names.get(key))]
    .filter(([key]) => matchesFilter(key, filter))
    .map(([, entry]) => ({ state: entry.state, version, expiresAt: entry.expiresAt }));
}

/** The JSON object antctl prints per record (Antrea HEAD flowToMap), IPv4 or IPv6 address names. */
export function flowRecordJson(stored: StoredFlow): Record<string, string | number> {
  const { flow } = stored.state;
  const r = flow.record;
  const v = r.sourceIP.includes(':') ? 'IPv6' : 'IPv4';
  return {
    [`source${v}Address`]: r.sourceIP,
    [`destination${v}Address`]: r.destinationIP,
    sourceTransportPort: r.sourceTransportPort,
    destinationTransportPort: r.destinationTransportPort,
    protocolIdentifier: r.protocolIdentifier,
    tcpState: r.tcpState,
    flowStartSeconds: r.flowStartSeconds,
    flowEndSeconds: r.flowEndSeconds,
    flowEndSecondsFromSourceNode: flow.flowEndSecondsFromSourceNode,
    flowEndSecondsFromDestinationNode: flow.flowEndSecondsFromDestinationNode,
    flowType: r.flowType,
    sourcePodName: r.sourcePodName,
    sourcePodNamespace: r.sourcePodNamespace,
    sourceNodeName: r.sourceNodeName,
    destinationPodName: r.destinationPodName,
    destinationPodNamespace: r.destinationPodNamespace,
    destinationNodeName: r.destinationNodeName,
    [`destinationCluster${v}`]: addressOrEmpty(r.destinationClusterIP),
    [`destinationService${v}`]: addressOrEmpty(r.destinationServiceIP),
    destinationServicePort: r.destinationServicePort,
    destinationServicePortName: r.destinationServicePortName,
    ingressNetworkPolicyNamespace: r.ingressNetworkPolicyNamespace,
    ingressNetworkPolicyName: r.ingressNetworkPolicyName,
    ingressNetworkPolicyRuleName: r.ingressNetworkPolicyRuleName,
    ingressNetworkPolicyRuleAction: r.ingressNetworkPolicyRuleAction,
    egressNetworkPolicyNamespace: r.egressNetworkPolicyNamespace,
    egressNetworkPolicyName: r.egressNetworkPolicyName,
    egressNetworkPolicyRuleName: r.egressNetworkPolicyRuleName,
    egressNetworkPolicyRuleAction: r.egressNetworkPolicyRuleAction,
    flowEndReason: r.flowEndReason,
    egressName: r.egressName,
    egressIP: r.egressIP,
    egressNodeName: r.egressNodeName,
    packetTotalCount: r.packetTotalCount,
    packetDeltaCount: r.packetDeltaCount,
    octetTotalCount: r.octetTotalCount,
    octetDeltaCount: r.octetDeltaCount,
    reversePacketTotalCount: r.reversePacketTotalCount,
    reversePacketDeltaCount: r.reversePacketDeltaCount,
    reverseOctetTotalCount: r.reverseOctetTotalCount,
    reverseOctetDeltaCount: r.reverseOctetDeltaCount,
    throughput: flow.throughput,
    reverseThroughput: flow.reverseThroughput,
    readyToSend: flow.readyToSend ? 1 : 0,
    exportSeq: stored.state.exportSeq,
  };
}

/** antctl's table: SRC_IP DST_IP SPORT DPORT PROTO SRC_POD DST_POD SRC_NS DST_NS SERVICE. */
export function flowRecordTable(flows: readonly StoredFlow[]): string {
  const header = [
    'SRC_IP',
    'DST_IP',
    'SPORT',
    'DPORT',
    'PROTO',
    'SRC_POD',
    'DST_POD',
    'SRC_NS',
    'DST_NS',
    'SERVICE',
  ];
  const rows = flows.map(({ state: { flow } }) => {
    const r = flow.record;
    return [
      r.sourceIP,
      r.destinationIP,
      String(r.sourceTransportPort),
      String(r.destinationTransportPort),
      String(r.protocolIdentifier),
      r.sourcePodName,
      r.destinationPodName,
      r.sourcePodNamespace,
      r.destinationPodNamespace,
      r.destinationServicePortName,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
