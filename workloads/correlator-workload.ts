// A simulator-like workload for the correlator's integration tests and benchmark: flows reported every
// `intervalSeconds` of event time, inter-Node flows by both Nodes (source and destination halves),
// intra-Node flows by one, cumulative totals growing, packed into wire-format Kinesis payloads.
import { flowKeyOf } from '../core/flow-key.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../core/flow-record.ts';
import { seededRandom } from '../core/random.ts';
import { encodeWireBatch } from '../core/wire.ts';

export interface WorkloadOptions {
  flows: number;
  /** Reports per flow per Node. */
  rounds: number;
  interNodeShare: number;
  intervalSeconds: number;
  startSeconds: number;
  seed: number;
  /** Distinguishes the addresses of separate workloads sharing a table. */
  subnet?: number;
  /**
   * 'long': Pod, namespace, Node, Service and policy names of 30-55 characters, as real clusters name
   * things (Deployment + ReplicaSet hash + Pod suffix, team-env-region namespaces, EKS Node names), and
   * Pod labels; default: short demo names, no labels.
   */
  names?: 'short' | 'long';
  /**
   * 'spread': each reporter (a flow's Node) exports at its own whole-second phase within the interval, as
   * agents do (each connection's export timer starts with the connection, each Node's clock is its own);
   * default 'aligned': every reporter at the interval's end, all in one poll.
   */
  phases?: 'aligned' | 'spread';
}

/** The names of flow i in a cluster with realistic long names (WorkloadOptions.names 'long'). */
function longNames(i: number): Partial<FlowRecord> {
  const suffix = (i % 97).toString(36);
  return {
    sourcePodName: `checkout-service-frontend-deployment-7d9f8c6b5-${suffix}x2k9p`,
    sourcePodNamespace: 'team-commerce-production-eu-west-1',
    sourceNodeName: `ip-10-42-${i % 8}-201.eu-west-1.compute.internal`,
    destinationPodName: `payments-ledger-backend-statefulset-${i % 89}`,
    destinationPodNamespace: 'team-payments-production-eu-west-1',
    destinationNodeName: `ip-10-42-${(i + 1) % 8}-118.eu-west-1.compute.internal`,
    destinationServicePortName: 'team-payments-production-eu-west-1/payments-ledger:grpc',
    egressNetworkPolicyName: 'default-deny-egress-except-dns-and-payments',
    egressNetworkPolicyNamespace: 'team-commerce-production-eu-west-1',
    egressNetworkPolicyRuleName: 'egress-rule-2-to-payments',
    sourcePodLabels: JSON.stringify({
      app: 'checkout',
      'app.kubernetes.io/name': 'checkout-frontend',
      'app.kubernetes.io/version': '2.14.3',
      'pod-template-hash': '7d9f8c6b5',
      team: 'commerce',
    }),
    destinationPodLabels: JSON.stringify({
      app: 'payments-ledger',
      'app.kubernetes.io/name': 'payments-ledger',
      'statefulset.kubernetes.io/pod-name': `payments-ledger-backend-statefulset-${i % 89}`,
      team: 'payments',
    }),
  };
}

const LONG_INGRESS_POLICY: Partial<FlowRecord> = {
  ingressNetworkPolicyName: 'allow-checkout-to-payments-ledger-ingress',
  ingressNetworkPolicyNamespace: 'team-payments-production-eu-west-1',
  ingressNetworkPolicyRuleName: 'ingress-rule-0-from-commerce',
};

interface Reporter {
  template: FlowRecord;
  exporter: string;
  packets: number;
  octets: number;
  /** Seconds after each interval's end this reporter exports (0 when aligned). */
  phaseSeconds: number;
}

function flowTemplate(
  i: number,
  subnet: number,
  inter: boolean,
  names: 'short' | 'long',
): { src: FlowRecord; dst: FlowRecord } {
  const shortNamed: FlowRecord = {
    ...emptyFlowRecord(),
    sourceIP: `10.${subnet}.${(i >> 8) & 255}.${i & 255}`,
    destinationIP: `10.${subnet + 100}.${(i >> 8) & 255}.${i & 255}`,
    protocolIdentifier: 6,
    sourceTransportPort: 30000 + (i % 30000),
    destinationTransportPort: 8080,
    flowType: inter ? FlowType.InterNode : FlowType.IntraNode,
    tcpState: 'ESTABLISHED',
    flowEndReason: 2,
    sourcePodName: `frontend-7d9f8b6c5-${(i % 97).toString(36)}x2k`,
    sourcePodNamespace: 'shop',
    sourceNodeName: `ip-10-0-${i % 8}-17.ec2.internal`,
    destinationPodName: `backend-5c4d7f9b8-${(i % 89).toString(36)}q7m`,
    destinationPodNamespace: 'shop',
    destinationNodeName: `ip-10-0-${(i + 1) % 8}-42.ec2.internal`,
    destinationClusterIP: '172.20.14.3',
    destinationServiceIP: '172.20.14.3',
    destinationServicePort: 80,
    destinationServicePortName: 'shop/backend:http',
    egressNetworkPolicyName: 'allow-frontend-egress',
    egressNetworkPolicyNamespace: 'shop',
    egressNetworkPolicyRuleName: 'rule-1',
    egressNetworkPolicyRuleAction: 1,
    egressNetworkPolicyType: 3,
  };
  const base = names === 'long' ? { ...shortNamed, ...longNames(i) } : shortNamed;
  if (!inter) return { src: base, dst: base };
  const src = {
    ...base,
    destinationPodName: '',
    destinationPodNamespace: '',
    destinationNodeName: '',
    destinationPodLabels: '',
  };
  const dst = {
    ...base,
    sourcePodName: '',
    sourcePodNamespace: '',
    sourceNodeName: '',
    sourcePodLabels: '',
    destinationClusterIP: '',
    destinationServiceIP: '',
    destinationServicePort: 0,
    destinationServicePortName: '',
    egressNetworkPolicyName: '',
    egressNetworkPolicyNamespace: '',
    egressNetworkPolicyRuleName: '',
    egressNetworkPolicyRuleAction: 0,
    egressNetworkPolicyType: 0,
    ingressNetworkPolicyName: 'allow-backend-ingress',
    ingressNetworkPolicyNamespace: 'shop',
    ingressNetworkPolicyRuleName: 'rule-1',
    ingressNetworkPolicyRuleAction: 1,
    ingressNetworkPolicyType: 3,
    ...(names === 'long' ? LONG_INGRESS_POLICY : {}),
  };
  return { src, dst };
}

/** Records in arrival order: round by round, every reporter once per round, shuffled within a round. */
export function generateRecords(options: WorkloadOptions): FlowRecord[] {
  const random = seededRandom(options.seed);
  // Phases from their own stream: the same flows, counters and order within a round either way.
  const phaseRandom = seededRandom(options.seed + 1);
  const subnet = options.subnet ?? 1;
  const reporters: Reporter[] = [];
  const reporter = (template: FlowRecord, exporter: string): Reporter => ({
    template,
    exporter,
    packets: 0,
    octets: 0,
    phaseSeconds: options.phases === 'spread' ? Math.floor(phaseRandom() * options.intervalSeconds) : 0,
  });
  for (let i = 0; i < options.flows; i++) {
    const inter = random() < options.interNodeShare;
    const { src, dst } = flowTemplate(i, subnet, inter, options.names ?? 'short');
    reporters.push(reporter(src, `192.168.${i % 8}.1`));
    if (inter) reporters.push(reporter(dst, `192.168.${(i + 1) % 8}.1`));
  }
  const records: FlowRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = reporters.map((_reporter, i) => [random(), i] as const).sort((a, b) => a[0] - b[0]);
    for (const [, index] of order) {
      const reporter = reporters[index]!;
      const packets = 1 + Math.floor(random() * 50);
      const octets = packets * (60 + Math.floor(random() * 1400));
      reporter.packets += packets;
      reporter.octets += octets;
      const end = options.startSeconds + round * options.intervalSeconds + reporter.phaseSeconds;
      records.push({
        ...reporter.template,
        exporterAddress: reporter.exporter,
        observationDomainId: 1,
        exportTime: end,
        sequenceNumber: 0, // numbered below, in arrival order
        receivedAtMs: end * 1000 + 20,
        flowStartSeconds: options.startSeconds,
        flowEndSeconds: end,
        packetTotalCount: reporter.packets,
        packetDeltaCount: packets,
        octetTotalCount: reporter.octets,
        octetDeltaCount: octets,
        reversePacketTotalCount: Math.floor(reporter.packets * 0.8),
        reversePacketDeltaCount: Math.floor(packets * 0.8),
        reverseOctetTotalCount: Math.floor(reporter.octets * 0.5),
        reverseOctetDeltaCount: Math.floor(octets * 0.5),
      });
    }
  }
  // Spread phases interleave the rounds: arrival order again (a stable sort; aligned records are in it).
  if (options.phases === 'spread') records.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  // Each exporter's sequence numbers count up in arrival order.
  const sequence = new Map<string, number>();
  for (const record of records) {
    record.sequenceNumber = (sequence.get(record.exporterAddress) ?? 0) + 1;
    sequence.set(record.exporterAddress, record.sequenceNumber);
  }
  return records;
}

/** Packs records into Kinesis payloads of `perPayload` records, as the collector's producer does. */
export function packPayloads(records: readonly FlowRecord[], perPayload: number) {
  const payloads: Array<{ data: Buffer; partitionKey: string }> = [];
  for (let i = 0; i < records.length; i += perPayload) {
    const chunk = records.slice(i, i + perPayload);
    payloads.push({ data: encodeWireBatch(chunk), partitionKey: flowKeyOf(chunk[0]!) });
  }
  return payloads;
}
