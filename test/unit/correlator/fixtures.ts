// Record fixtures of Antrea's aggregation tests (antrea pkg/flowaggregator/intermediate/aggregate_test.go and go-ipfix pkg/intermediate/aggregate_test.go fixtures), rebuilt as FlowRecords.
import { readFileSync } from 'node:fs';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../../core/flow-record.ts';

export const T0 = 1_700_000_000_000;
export const TIMEOUTS = { activeTimeoutMs: 100, inactiveTimeoutMs: 150 };

function base(ipv6: boolean): FlowRecord {
  return {
    ...emptyFlowRecord(),
    sourceIP: ipv6 ? '2001:0:3238:dfe1:63::fefb' : '10.0.0.1',
    destinationIP: ipv6 ? '2001:0:3238:dfe1:63::fefc' : '10.0.0.2',
    protocolIdentifier: 6,
    sourceTransportPort: 1234,
    destinationTransportPort: 5678,
    sourcePodName: 'pod1',
    destinationPodName: 'pod2',
    flowStartSeconds: 0,
  };
}

function timing(record: FlowRecord, updated: boolean): void {
  record.flowEndSeconds = updated ? 10 : 1;
  record.flowEndReason = updated ? 3 : 2;
  record.tcpState = updated ? 'TIME_WAIT' : 'ESTABLISHED';
  // Distinct export positions, as a real agent's successive records have.
  record.exportTime = updated ? 10 : 1;
  record.sequenceNumber = updated ? 2 : 1;
}

function stats(record: FlowRecord, pt: number, pd: number, ot: number, od: number): void {
  record.packetTotalCount = pt;
  record.packetDeltaCount = pd;
  record.octetTotalCount = ot;
  record.octetDeltaCount = od;
  record.reversePacketTotalCount = pt;
  record.reversePacketDeltaCount = pd;
  record.reverseOctetTotalCount = ot;
  record.reverseOctetDeltaCount = od;
}

const serviceIP = (ipv6: boolean) => (ipv6 ? '2001:0:3238:bbbb:63::aaaa' : '192.168.0.1');

export function SRC(ipv6: boolean, flowType: number, updated: boolean, egressAction = 0): FlowRecord {
  const r = base(ipv6);
  timing(r, updated);
  r.flowType = flowType;
  if (flowType !== FlowType.IntraNode) r.destinationPodName = '';
  r.destinationServicePort = 4739;
  r.destinationClusterIP = serviceIP(ipv6);
  r.destinationServiceIP = serviceIP(ipv6);
  r.egressNetworkPolicyRuleAction = egressAction;
  if (updated) stats(r, 1000, 500, 2000, 1000);
  else stats(r, 500, 0, 1000, 0);
  r.exporterAddress = '192.168.10.1';
  return r;
}

export function DST(ipv6: boolean, flowType: number, updated: boolean, ingressAction = 0): FlowRecord {
  const r = base(ipv6);
  timing(r, updated);
  r.flowType = flowType;
  if (flowType !== FlowType.IntraNode) r.sourcePodName = '';
  if (flowType === FlowType.IntraNode) {
    r.destinationServicePort = 4739;
    r.destinationClusterIP = serviceIP(ipv6);
    r.destinationServiceIP = serviceIP(ipv6);
  }
  r.ingressNetworkPolicyRuleAction = ingressAction;
  if (updated) stats(r, 1005, 503, 2050, 1030);
  else stats(r, 502, 0, 1020, 0);
  r.exporterAddress = '192.168.10.2';
  return r;
}

const NOW_S = Math.floor(T0 / 1000);

/** From-external source (ingress) Node record, H fixtures. */
export function SN(): FlowRecord {
  return {
    ...emptyFlowRecord(),
    flowType: FlowType.FromExternal,
    destinationServicePortName: 'namespace/service-name:serviceportname',
    destinationServiceIP: '172.18.0.2',
    destinationClusterIP: '172.18.0.2',
    destinationServicePort: 82,
    sourceIP: '172.18.0.1',
    destinationIP: '10.244.1.3',
    protocolIdentifier: 6,
    sourceTransportPort: 38746,
    destinationTransportPort: 80,
    flowStartSeconds: NOW_S,
    flowEndSeconds: NOW_S + 60,
    proxySnatIP: '10.244.2.1',
    proxySnatPort: 52391,
    exporterAddress: '172.18.0.2',
  };
}

/** From-external destination Node record, H fixtures. */
export function DN(): FlowRecord {
  return {
    ...emptyFlowRecord(),
    flowType: FlowType.InterNode,
    destinationPodName: 'nginx-deployment-HASH',
    destinationPodNamespace: 'some-namespace',
    sourceIP: '10.244.2.1',
    destinationIP: '10.244.1.3',
    protocolIdentifier: 6,
    sourceTransportPort: 52391,
    destinationTransportPort: 80,
    flowStartSeconds: NOW_S,
    flowEndSeconds: NOW_S + 120,
    exporterAddress: '172.18.0.3',
  };
}

const DECODED = new URL('../../fixtures/vectors/DECODED.txt', import.meta.url);

const FIELD_OF: Record<string, keyof FlowRecord> = {
  sourceIPv4Address: 'sourceIP',
  sourceIPv6Address: 'sourceIP',
  destinationIPv4Address: 'destinationIP',
  destinationIPv6Address: 'destinationIP',
  destinationClusterIPv4: 'destinationClusterIP',
  destinationClusterIPv6: 'destinationClusterIP',
};

/**
 * The data records of one vector file as FlowRecords, from the decoded listing in test/fixtures/vectors/DECODED.txt
 * (all-zeros Service addresses become "", as Antrea's preprocessor makes them nil).
 */
export function vectorRecords(file: string): FlowRecord[] {
  const text = readFileSync(DECODED, 'utf8');
  const start = text.indexOf(`## ${file}:`);
  if (start < 0) throw new Error(`${file} not in DECODED.txt`);
  const end = text.indexOf('\n## ', start + 3);
  const section = text.slice(start, end < 0 ? undefined : end);
  const records: FlowRecord[] = [];
  let current: Record<string, string | number> | undefined;
  for (const line of section.split('\n')) {
    if (/^\s+record \d+:/.test(line)) {
      current = { ...emptyFlowRecord() } as unknown as Record<string, string | number>;
      records.push(current as unknown as FlowRecord);
      continue;
    }
    const m = /^\s+(\w+) = (.*)$/.exec(line);
    if (!m || !current) continue;
    const [, name, raw] = m as unknown as [string, string, string];
    const field = FIELD_OF[name] ?? (name as keyof FlowRecord);
    if (!(field in current)) throw new Error(`unexpected field ${name}`);
    let value: string | number;
    if (raw.startsWith("'")) value = raw.slice(1, -1);
    else if (/^\d+$/.test(raw)) value = Number(raw);
    else value = raw === '0.0.0.0' || raw === '::' ? '' : raw;
    current[field] = value;
  }
  return records;
}
