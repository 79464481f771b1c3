// The simulated cluster: N Nodes running Antrea agents and M connections between their Pods and the
// outside world, polled every `pollIntervalSeconds` of event time like the agent's conntrack poller.
// Deterministic for a seed. Produces, per poll and Node, the records that Node's agent exports (as
// FlowRecords: the field names are the IPFIX IE names), and accumulates the ground truth tests compare
// the pipeline's output with. Pure: no I/O, no clock.
import { flowKeyOf } from '../core/flow-key.ts';
import {
  emptyFlowRecord,
  FlowEndReason,
  type FlowRecord,
  FlowType,
  RuleAction,
} from '../core/flow-record.ts';
import { seededRandom } from '../core/random.ts';

export interface SimulationOptions {
  seed: number;
  nodes: number;
  connections: number;
  polls: number;
  pollIntervalSeconds: number;
  /** Event time of the start of the simulation, seconds since the epoch. */
  startTimeSeconds: number;
  /** Share of connections over IPv6. */
  ipv6Share: number;
}

export const DEFAULT_SIMULATION: SimulationOptions = {
  seed: 1,
  nodes: 3,
  connections: 100,
  polls: 6,
  pollIntervalSeconds: 5,
  startTimeSeconds: 1_767_225_600, // 2026-01-01T00:00:00Z
  ipv6Share: 0.25,
};

export type ConnectionKind =
  | 'intraNode'
  | 'interNode'
  | 'toExternal'
  | 'fromExternal'
  | 'fromExternalViaOtherNode'
  | 'egressDeny'
  | 'ingressDrop';

/** One exported record and the Node (index) whose agent exports it. */
export interface SimulatedRecord {
  node: number;
  ipv6: boolean;
  record: FlowRecord;
}

export interface PollExport {
  poll: number;
  /** IPFIX export time of this poll's messages, seconds. */
  exportTime: number;
  /** Records per Node index (every Node has an entry, possibly empty). */
  byNode: SimulatedRecord[][];
}

export interface SimulatedPod {
  name: string;
  namespace: string;
  node: number;
  ipv4: string;
  ipv6: string;
}

interface Policy {
  name: string;
  namespace: string;
  type: number;
  ruleName: string;
  action: number;
}

interface Connection {
  kind: ConnectionKind;
  ipv6: boolean;
  protocol: number;
  sourceIP: string;
  destinationIP: string;
  sourcePort: number;
  destinationPort: number;
  sourcePod?: SimulatedPod;
  destinationPod?: SimulatedPod;
  service?: { ip: string; port: number; portName: string };
  ingressPolicy?: Policy;
  egressPolicy?: Policy;
  egress?: { name: string; ip: string; node: number };
  snat?: { ip: string; port: number; ingressNode: number };
  startSeconds: number;
  firstPoll: number;
  lastPoll: number;
  /** Per poll: forward packets/bytes and reverse packets/bytes added since the previous poll. */
  increments: Array<[number, number, number, number]>;
  /** Cumulative counters per exporting Node. */
  totals: Map<number, [number, number, number, number]>;
}

const NAMESPACES = ['default', 'frontend', 'backend', 'payments', 'monitoring'];
const APPS = ['web', 'api', 'cart', 'db', 'cache', 'auth', 'search', 'worker'];
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function nodeName(index: number): string {
  return `k8s-node-${String(index + 1).padStart(2, '0')}`;
}

/** Observation domain id of a simulated Node's exporter (distinct per Node, like per-agent ids). */
export function observationDomainOf(index: number): number {
  return 1000 + index;
}

export class ClusterSimulation {
  readonly options: SimulationOptions;
  private readonly random: () => number;
  private readonly pods: SimulatedPod[] = [];

  /** The cluster's Pods (what a Pod informer would list). */
  get podList(): readonly SimulatedPod[] {
    return this.pods;
  }
  private readonly connections: Connection[] = [];
  private readonly truth = new GroundTruthBuilder();
  private nextPoll = 0;

  constructor(options: Partial<SimulationOptions> = {}) {
    this.options = { ...DEFAULT_SIMULATION, ...options };
    if (this.options.nodes < 1) throw new Error('simulation needs at least one Node');
    this.random = seededRandom(this.options.seed);
    this.createPods();
    for (let i = 0; i < this.options.connections; i++) this.connections.push(this.createConnection(i));
  }

  get done(): boolean {
    return this.nextPoll >= this.options.polls;
  }

  /** The records every agent exports at the next poll, or undefined after the last poll. */
  nextExport(): PollExport | undefined {
    if (this.done) return undefined;
    const poll = this.nextPoll++;
    const { startTimeSeconds, pollIntervalSeconds, nodes } = this.options;
    const pollTime = startTimeSeconds + (poll + 1) * pollIntervalSeconds;
    const byNode: SimulatedRecord[][] = Array.from({ length: nodes }, () => []);
    for (const connection of this.connections) {
      if (poll < connection.firstPoll || poll > connection.lastPoll) continue;
      for (const node of this.exportersOf(connection)) {
        const record = this.recordFor(connection, node, poll, pollTime);
        byNode[node]!.push({ node, ipv6: connection.ipv6, record });
        this.truth.add(nodeName(node), record);
      }
    }
    return { poll, exportTime: pollTime, byNode };
  }

  groundTruth(): GroundTruth {
    return this.truth.summary(this.options);
  }

  private createPods(): void {
    const podsPerNode = 6;
    for (let node = 0; node < this.options.nodes; node++) {
      for (let k = 0; k < podsPerNode; k++) {
        const app = APPS[Math.floor(this.random() * APPS.length)]!;
        const suffix = Array.from(
          { length: 5 },
          () => ALPHABET[Math.floor(this.random() * ALPHABET.length)],
        ).join('');
        this.pods.push({
          name: `${app}-${suffix}`,
          namespace: NAMESPACES[Math.floor(this.random() * NAMESPACES.length)]!,
          node,
          ipv4: `10.10.${node}.${k + 2}`,
          ipv6: `fd00:10:${(node + 1).toString(16)}::${(k + 2).toString(16)}`,
        });
      }
    }
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private podOn(node: number | undefined, notNode?: number): SimulatedPod {
    const candidates = this.pods.filter(
      (p) => (node === undefined || p.node === node) && (notNode === undefined || p.node !== notNode),
    );
    return this.pick(candidates.length > 0 ? candidates : this.pods);
  }

  private policy(direction: 'ingress' | 'egress', action: number): Policy {
    const type = this.pick([1, 2, 3]);
    return {
      name: type === 1 ? `${direction}-allow-${this.pick(APPS)}` : `acnp-${direction}-${this.pick(APPS)}`,
      namespace: type === 3 ? '' : this.pick(NAMESPACES),
      type,
      ruleName: type === 1 ? '' : `rule-${Math.floor(this.random() * 5)}`,
      action,
    };
  }

  private createConnection(index: number): Connection {
    const multiNode = this.options.nodes > 1;
    const roll = this.random();
    let kind: ConnectionKind;
    if (roll < 0.2) kind = 'intraNode';
    else if (roll < 0.55) kind = multiNode ? 'interNode' : 'intraNode';
    else if (roll < 0.7) kind = 'toExternal';
    else if (roll < 0.8) kind = 'fromExternal';
    else if (roll < 0.87) kind = multiNode ? 'fromExternalViaOtherNode' : 'fromExternal';
    else if (roll < 0.94) kind = 'egressDeny';
    else kind = multiNode ? 'ingressDrop' : 'egressDeny';
    const ipv6 = this.random() < this.options.ipv6Share;
    const protocol = this.random() < 0.75 ? 6 : 17;
    const ip = (pod: SimulatedPod) => (ipv6 ? pod.ipv6 : pod.ipv4);
    const externalIP = ipv6
      ? `2001:db8::${(1 + Math.floor(this.random() * 0xfffe)).toString(16)}`
      : `203.0.113.${1 + Math.floor(this.random() * 254)}`;
    const sourcePort = 32768 + ((index * 7919 + Math.floor(this.random() * 1000)) % 28000);
    const destinationPort = this.pick([80, 443, 8080, 5432, 6379, 53, 9090]);

    const c: Connection = {
      kind,
      ipv6,
      protocol,
      sourceIP: '',
      destinationIP: '',
      sourcePort,
      destinationPort,
      startSeconds: 0,
      firstPoll: 0,
      lastPoll: 0,
      increments: [],
      totals: new Map(),
    };
    switch (kind) {
      case 'intraNode': {
        c.sourcePod = this.podOn(undefined);
        c.destinationPod = this.podOn(c.sourcePod.node);
        break;
      }
      case 'interNode':
      case 'ingressDrop': {
        c.sourcePod = this.podOn(undefined);
        c.destinationPod = this.podOn(undefined, c.sourcePod.node);
        break;
      }
      case 'egressDeny': {
        c.sourcePod = this.podOn(undefined);
        c.destinationPod = this.podOn(undefined);
        c.egressPolicy = this.policy('egress', this.random() < 0.5 ? RuleAction.Drop : RuleAction.Reject);
        break;
      }
      case 'toExternal': {
        c.sourcePod = this.podOn(undefined);
        if (this.random() < 0.5) {
          const egressNode = Math.floor(this.random() * this.options.nodes);
          c.egress = {
            name: `egress-${this.pick(NAMESPACES)}`,
            ip: ipv6 ? `2001:db8:e::${egressNode + 1}` : `198.51.100.${egressNode + 1}`,
            node: egressNode,
          };
        }
        break;
      }
      case 'fromExternal':
      case 'fromExternalViaOtherNode': {
        c.destinationPod = this.podOn(undefined);
        break;
      }
    }
    c.sourceIP = c.sourcePod ? ip(c.sourcePod) : externalIP;
    c.destinationIP = c.destinationPod ? ip(c.destinationPod) : externalIP;
    if (kind === 'fromExternalViaOtherNode') {
      const ingressNode = (c.destinationPod!.node + 1) % this.options.nodes;
      c.snat = {
        ip: ipv6 ? `fd00:10:${(ingressNode + 1).toString(16)}::1` : `10.10.${ingressNode}.1`,
        port: 40000 + (index % 20000),
        ingressNode,
      };
    }
    // A third of the Pod-to-Pod connections go through a ClusterIP Service (DNAT on the source Node).
    if ((kind === 'intraNode' || kind === 'interNode') && this.random() < 0.35) {
      const svcIndex = Math.floor(this.random() * 40);
      c.service = {
        ip: ipv6 ? `fd00:96::${(svcIndex + 1).toString(16)}` : `10.96.0.${svcIndex + 10}`,
        port: this.pick([80, 443]),
        portName: `${c.destinationPod!.namespace}/svc-${c.destinationPod!.name.split('-')[0]}:http`,
      };
    }
    if (kind === 'ingressDrop') c.ingressPolicy = this.policy('ingress', RuleAction.Drop);
    else if (kind !== 'egressDeny' && c.destinationPod && this.random() < 0.4)
      c.ingressPolicy = this.policy('ingress', RuleAction.Allow);
    if (kind !== 'egressDeny' && c.sourcePod && this.random() < 0.3)
      c.egressPolicy = this.policy('egress', RuleAction.Allow);

    const { polls, pollIntervalSeconds, startTimeSeconds } = this.options;
    c.firstPoll = this.random() < 0.7 ? 0 : Math.floor(this.random() * polls);
    c.lastPoll =
      this.random() < 0.6 ? polls - 1 : c.firstPoll + Math.floor(this.random() * (polls - c.firstPoll));
    c.startSeconds = startTimeSeconds + c.firstPoll * pollIntervalSeconds + 1 + Math.floor(this.random() * 4);
    const denied = kind === 'egressDeny' || kind === 'ingressDrop';
    for (let p = 0; p < polls; p++) {
      const idle = p > c.firstPoll && this.random() < 0.15;
      const packets = idle ? 0 : 1 + Math.floor(this.random() * 400);
      const bytes = packets * (60 + Math.floor(this.random() * 1400));
      const reversePackets = denied || idle ? 0 : Math.floor(packets * (0.5 + this.random()));
      const reverseBytes = reversePackets * (60 + Math.floor(this.random() * 1400));
      c.increments.push([packets, bytes, reversePackets, reverseBytes]);
    }
    return c;
  }

  /** Nodes whose agents export this connection (Antrea agent rules, reference 1.9-1.10). */
  private exportersOf(c: Connection): number[] {
    switch (c.kind) {
      case 'intraNode':
      case 'toExternal':
      case 'egressDeny':
        return [c.sourcePod!.node];
      case 'fromExternal':
        return [c.destinationPod!.node];
      case 'fromExternalViaOtherNode':
        return [c.snat!.ingressNode, c.destinationPod!.node];
      case 'interNode':
      case 'ingressDrop':
        return [c.sourcePod!.node, c.destinationPod!.node];
    }
  }

  private recordFor(c: Connection, node: number, poll: number, pollTime: number): FlowRecord {
    const r = emptyFlowRecord();
    const isSourceNode = c.sourcePod?.node === node && c.kind !== 'fromExternalViaOtherNode';
    const isDestinationNode = c.destinationPod?.node === node && !(c.snat && c.snat.ingressNode === node);
    const sameNode =
      c.kind === 'intraNode' || (c.kind === 'egressDeny' && c.sourcePod!.node === c.destinationPod!.node);

    r.sourceIP = c.sourceIP;
    r.destinationIP = c.destinationIP;
    r.sourceTransportPort = c.sourcePort;
    r.destinationTransportPort = c.destinationPort;
    r.protocolIdentifier = c.protocol;
    if (c.snat && node === c.destinationPod!.node) {
      // The destination Node sees the connection from the ingress Node's gateway (SNAT address/port).
      r.sourceIP = c.snat.ip;
      r.sourceTransportPort = c.snat.port;
    }
    const ending = poll === c.lastPoll;
    r.flowStartSeconds = c.startSeconds;
    r.flowEndSeconds = ending ? pollTime - 1 - ((c.sourcePort + poll) % 3) : pollTime;

    switch (c.kind) {
      case 'intraNode':
        r.flowType = FlowType.IntraNode;
        break;
      case 'toExternal':
        r.flowType = FlowType.ToExternal;
        break;
      case 'fromExternal':
        r.flowType = FlowType.FromExternal;
        break;
      case 'fromExternalViaOtherNode':
        r.flowType = node === c.snat!.ingressNode ? FlowType.FromExternal : FlowType.InterNode;
        break;
      default:
        r.flowType = sameNode ? FlowType.IntraNode : FlowType.InterNode;
    }

    if (c.sourcePod && (isSourceNode || sameNode)) {
      r.sourcePodName = c.sourcePod.name;
      r.sourcePodNamespace = c.sourcePod.namespace;
      r.sourceNodeName = nodeName(c.sourcePod.node);
    }
    const destinationKnown = c.destinationPod && (isDestinationNode || sameNode) && c.kind !== 'egressDeny';
    if (c.destinationPod && (destinationKnown || (c.kind === 'egressDeny' && sameNode))) {
      r.destinationPodName = c.destinationPod.name;
      r.destinationPodNamespace = c.destinationPod.namespace;
      r.destinationNodeName = nodeName(c.destinationPod.node);
    }
    if (c.service && isSourceNode) {
      r.destinationClusterIP = c.service.ip;
      r.destinationServiceIP = c.service.ip;
      r.destinationServicePort = c.service.port;
      r.destinationServicePortName = c.service.portName;
    }
    if (c.egressPolicy && isSourceNode) {
      r.egressNetworkPolicyName = c.egressPolicy.name;
      r.egressNetworkPolicyNamespace = c.egressPolicy.namespace;
      r.egressNetworkPolicyType = c.egressPolicy.type;
      r.egressNetworkPolicyRuleName = c.egressPolicy.ruleName;
      r.egressNetworkPolicyRuleAction = c.egressPolicy.action;
    }
    if (c.ingressPolicy && (isDestinationNode || sameNode)) {
      r.ingressNetworkPolicyName = c.ingressPolicy.name;
      r.ingressNetworkPolicyNamespace = c.ingressPolicy.namespace;
      r.ingressNetworkPolicyType = c.ingressPolicy.type;
      r.ingressNetworkPolicyRuleName = c.ingressPolicy.ruleName;
      r.ingressNetworkPolicyRuleAction = c.ingressPolicy.action;
    }
    if (c.egress) {
      r.egressName = c.egress.name;
      r.egressIP = c.egress.ip;
      r.egressNodeName = nodeName(c.egress.node);
    }
    if (c.snat && node === c.snat.ingressNode) {
      r.proxySnatIP = c.snat.ip;
      r.proxySnatPort = c.snat.port;
    }

    const increment = c.increments[poll]!;
    let totals = c.totals.get(node);
    if (!totals) {
      totals = [0, 0, 0, 0];
      c.totals.set(node, totals);
    }
    // Deltas are what changed since this Node's previous export; the first export's delta is its total.
    for (let i = 0; i < 4; i++) totals[i]! += increment[i]!;
    r.packetTotalCount = totals[0]!;
    r.octetTotalCount = totals[1]!;
    r.reversePacketTotalCount = totals[2]!;
    r.reverseOctetTotalCount = totals[3]!;
    r.packetDeltaCount = increment[0]!;
    r.octetDeltaCount = increment[1]!;
    r.reversePacketDeltaCount = increment[2]!;
    r.reverseOctetDeltaCount = increment[3]!;

    if (c.protocol === 6) r.tcpState = ending ? 'TIME_WAIT' : 'ESTABLISHED';
    r.flowEndReason = ending
      ? FlowEndReason.EndOfFlow
      : increment[0] > 0
        ? FlowEndReason.ActiveTimeout
        : FlowEndReason.IdleTimeout;
    return r;
  }
}

/** What the simulator sent, per flow key and Node, for tests to compare the pipeline's output with. */
export interface GroundTruth {
  options: SimulationOptions;
  records: number;
  perNode: Record<string, { records: number }>;
  /** Key: `${flowKey}@${nodeName}`. */
  flows: Record<string, FlowTruth>;
}

export interface FlowTruth {
  flowKey: string;
  node: string;
  records: number;
  finalTotals: CounterSet;
  sumOfDeltas: CounterSet;
}

export interface CounterSet {
  packets: number;
  octets: number;
  reversePackets: number;
  reverseOctets: number;
}

class GroundTruthBuilder {
  private records = 0;
  private readonly perNode = new Map<string, number>();
  private readonly flows = new Map<string, FlowTruth>();

  add(node: string, r: FlowRecord): void {
    this.records++;
    this.perNode.set(node, (this.perNode.get(node) ?? 0) + 1);
    const flowKey = flowKeyOf(r);
    const key = `${flowKey}@${node}`;
    let truth = this.flows.get(key);
    if (!truth) {
      truth = {
        flowKey,
        node,
        records: 0,
        finalTotals: { packets: 0, octets: 0, reversePackets: 0, reverseOctets: 0 },
        sumOfDeltas: { packets: 0, octets: 0, reversePackets: 0, reverseOctets: 0 },
      };
      this.flows.set(key, truth);
    }
    truth.records++;
    truth.finalTotals = {
      packets: r.packetTotalCount,
      octets: r.octetTotalCount,
      reversePackets: r.reversePacketTotalCount,
      reverseOctets: r.reverseOctetTotalCount,
    };
    truth.sumOfDeltas.packets += r.packetDeltaCount;
    truth.sumOfDeltas.octets += r.octetDeltaCount;
    truth.sumOfDeltas.reversePackets += r.reversePacketDeltaCount;
    truth.sumOfDeltas.reverseOctets += r.reverseOctetDeltaCount;
  }

  summary(options: SimulationOptions): GroundTruth {
    return {
      options,
      records: this.records,
      perNode: Object.fromEntries([...this.perNode].sort().map(([node, records]) => [node, { records }])),
      flows: Object.fromEntries([...this.flows].sort(([a], [b]) => (a < b ? -1 : 1))),
    };
  }
}
