// The cost model as a benchmark module: runs last, reads the counters the earlier modules measured in the
// same run and prices the default cluster (1,000 Nodes, 100k connections, Antrea defaults) for Flowline and
// for the naive design. Inputs nobody measured are taken from the cost bench's own small workload (Kinesis
// packing and the in-batch fold ratio, through the real packer and wire format) or, where that needs a
// DynamoDB or a Lambda, from a stated assumption; the inputs row names every such input.
import { type SealedBatch, ShardPacker } from '../collector-edge/packer.ts';
import { flowKeyOf } from '../core/flow-key.ts';
import { emptyFlowRecord, FlowEndReason, type FlowRecord, FlowType } from '../core/flow-record.ts';
import { seededRandom } from '../core/random.ts';
import { decodeWireBatch } from '../core/wire.ts';
import { atRestModel, DEFAULT_AT_REST } from '../cost/at-rest-model.ts';
import {
  ASSUMED_INPUTS,
  type CostReport,
  costModel,
  DEFAULT_CLUSTER,
  DEPLOYED_SETTING_INPUTS,
  FALLBACK_ASSUMED,
  FALLBACK_MEASURED,
  FALLBACK_SUFFIX,
  FROM_DEPLOYED_SETTING,
  INPUT_NAMES,
  type InputName,
  inputsFromRows,
  LIMITS,
  type MeasuredInputs,
} from '../cost/model.ts';
import { DEFAULT_CONFIG } from '../lib/config.ts';
import type { BenchModule, BenchRow } from './types.ts';

interface Connection {
  template: FlowRecord;
  interNode: boolean;
}

const NAMESPACES = [
  'default',
  'payments',
  'checkout',
  'catalog',
  'monitoring',
  'kube-system',
  'search',
  'auth',
];
const APPS = ['frontend', 'api-gateway', 'orders', 'inventory', 'prometheus', 'coredns', 'redis', 'postgres'];

/** Antrea-shaped connections between Pods on `nodes` Nodes, `interNodeFraction` of them across Nodes. */
function makeConnections(
  count: number,
  nodes: number,
  interNodeFraction: number,
  seed: number,
): Connection[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const suffix = () =>
    Math.floor(random() * 36 ** 5)
      .toString(36)
      .padStart(5, '0');
  const connections: Connection[] = [];
  for (let i = 0; i < count; i++) {
    const sourceNode = Math.floor(random() * nodes);
    const interNode = random() < interNodeFraction;
    const destinationNode = interNode
      ? (sourceNode + 1 + Math.floor(random() * (nodes - 1))) % nodes
      : sourceNode;
    const podIp = (node: number) => `10.${10 + (node >> 8)}.${node & 255}.${2 + Math.floor(random() * 250)}`;
    const service = random() < 0.6;
    const record: FlowRecord = {
      ...emptyFlowRecord(),
      sourceIP: podIp(sourceNode),
      destinationIP: podIp(destinationNode),
      sourceTransportPort: 32768 + Math.floor(random() * 28000),
      destinationTransportPort: pick([80, 443, 8080, 5432, 6379, 9090, 53]),
      protocolIdentifier: 6,
      flowStartSeconds: 1_790_000_000 - Math.floor(random() * 3600),
      flowEndReason: FlowEndReason.ActiveTimeout,
      tcpState: 'ESTABLISHED',
      flowType: interNode ? FlowType.InterNode : FlowType.IntraNode,
      sourcePodName: `${pick(APPS)}-${suffix()}`,
      sourcePodNamespace: pick(NAMESPACES),
      sourceNodeName: `node-${String(sourceNode).padStart(4, '0')}`,
      destinationPodName: `${pick(APPS)}-${suffix()}`,
      destinationPodNamespace: pick(NAMESPACES),
      destinationNodeName: `node-${String(destinationNode).padStart(4, '0')}`,
      destinationClusterIP: service
        ? `10.96.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`
        : '',
      destinationServiceIP: '',
      destinationServicePort: service ? 80 : 0,
      destinationServicePortName: service ? `${pick(NAMESPACES)}/${pick(APPS)}:http` : '',
      ingressNetworkPolicyName: random() < 0.5 ? `allow-${pick(APPS)}` : '',
      ingressNetworkPolicyNamespace: random() < 0.5 ? pick(NAMESPACES) : '',
      ingressNetworkPolicyRuleAction: 1,
      ingressNetworkPolicyType: 1,
    };
    record.destinationServiceIP = record.destinationClusterIP;
    connections.push({ template: record, interNode });
  }
  return connections;
}

/**
 * The flow records agents send in `intervals` activeFlowExportTimeouts, in arrival order: every connection
 * from its source Node and, across Nodes, also from its destination Node.
 */
function* agentRecords(connections: Connection[], intervals: number, timeoutSeconds: number, seed: number) {
  const random = seededRandom(seed);
  for (let interval = 1; interval <= intervals; interval++) {
    for (const { template, interNode } of connections) {
      const packets = 1 + Math.floor(random() * 200);
      const octets = packets * (64 + Math.floor(random() * 1400));
      const end = template.flowStartSeconds + 3600 + interval * timeoutSeconds;
      const sides = interNode
        ? [template.sourceNodeName, template.destinationNodeName]
        : [template.sourceNodeName];
      for (const node of sides) {
        yield {
          ...template,
          exporterAddress: `192.168.${Number(node.slice(5)) >> 8}.${Number(node.slice(5)) & 255}`,
          exportTime: end,
          sequenceNumber: interval,
          receivedAtMs: end * 1000 + 20,
          flowEndSeconds: end,
          packetTotalCount: packets * interval * 7,
          packetDeltaCount: packets,
          octetTotalCount: octets * interval * 7,
          octetDeltaCount: octets,
          reversePacketTotalCount: packets * interval * 6,
          reversePacketDeltaCount: packets,
          reverseOctetTotalCount: octets * interval * 3,
          reverseOctetDeltaCount: octets >> 1,
          ...(node === template.sourceNodeName
            ? { destinationPodName: interNode ? '' : template.destinationPodName }
            : { sourcePodName: '' }),
        } satisfies FlowRecord;
      }
    }
  }
}

interface OwnMeasurement {
  values: Partial<MeasuredInputs>;
  flowRecords: number;
  kinesisRecords: number;
}

/**
 * Packs one batching window of agent records through the collector's packer (25 KB target, one shard) and
 * times the correlator's CPU part on each batch: decode the wire format and group by flow key. The fold
 * ratio (distinct keys / records) is what one conditional UpdateItem per key per batch costs per record.
 */
function measureOwnWorkload(quick: boolean): OwnMeasurement {
  const connections = makeConnections(quick ? 2_000 : 20_000, 100, DEFAULT_CLUSTER.interNodeFraction, 9);
  const sealed: SealedBatch[] = [];
  const packer = new ShardPacker({
    targetBytes: 25_000,
    lingerMs: Number.POSITIVE_INFINITY,
    now: () => 0,
    onSealed: (batch) => sealed.push(batch),
  });
  let flowRecords = 0;
  let naiveBytes = 0;
  // One correlator batch covers the deployed batching window of agent records (both halves of each flow).
  const intervals = Math.max(
    1,
    Math.floor(
      DEFAULT_CONFIG.correlatorBatchingWindowSeconds / DEFAULT_CLUSTER.activeFlowExportTimeoutSeconds,
    ),
  );
  for (const record of agentRecords(
    connections,
    intervals,
    DEFAULT_CLUSTER.activeFlowExportTimeoutSeconds,
    10,
  )) {
    packer.add(record);
    naiveBytes += Buffer.byteLength(JSON.stringify(record));
    flowRecords++;
  }
  packer.flushAll();
  const payloadBytes = sealed.reduce((sum, b) => sum + b.data.length, 0);
  const putUnits = sealed.reduce(
    (sum, b) =>
      sum +
      Math.ceil((b.data.length + Buffer.byteLength(b.partitionKey)) / LIMITS.kinesisPutPayloadUnitBytes),
    0,
  );

  const rounds = quick ? 3 : 10;
  let keys = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const byKey = new Map<string, FlowRecord[]>();
    for (const batch of sealed) {
      for (const record of decodeWireBatch(batch.data)) {
        const key = flowKeyOf(record);
        const group = byKey.get(key);
        if (group) group.push(record);
        else byKey.set(key, [record]);
      }
    }
    keys = byKey.size;
  }
  const cpuMs = (performance.now() - started) / rounds;
  // One conditional write per key per batch, 1 WRU each (an item of counters and names is under 1 KB),
  // after one consistent read of it: per live flow, a batch per window.
  const writesPerFlowMinute =
    (keys / connections.length) * (60 / DEFAULT_CONFIG.correlatorBatchingWindowSeconds);
  return {
    flowRecords,
    kinesisRecords: sealed.length,
    values: {
      flowRecordsPerPutUnit: flowRecords / putUnits,
      flowRecordsPerKinesisRecord: flowRecords / sealed.length,
      wireBytesPerFlowRecord: payloadBytes / flowRecords,
      naiveBytesPerFlowRecord: naiveBytes / flowRecords,
      correlatorWriteUnitsPerFlowMinuteAt5sExport: writesPerFlowMinute,
      correlatorReadUnitsPerFlowMinuteAt5sExport: writesPerFlowMinute,
      correlatorFlowRecordsPerInvocation: flowRecords,
      correlatorMsPerInvocation: cpuMs,
    },
  };
}

const OWN_WORKLOAD_NOTES: Partial<Record<InputName, string>> = {
  correlatorWriteUnitsPerFlowMinuteAt5sExport: `distinct flow keys / connections in one ${DEFAULT_CONFIG.correlatorBatchingWindowSeconds} s batch x 1 WRU x batches per minute (no DynamoDB)`,
  correlatorReadUnitsPerFlowMinuteAt5sExport: 'one consistent 1-RRU read per write',
  correlatorMsPerInvocation: 'CPU only (decode + group by key), no DynamoDB latency',
};

export const costBench: BenchModule = {
  async run({ quick, previous = [] }) {
    const { inputs, provenance } = inputsFromRows(previous);
    const counters: Record<string, number> = {};
    const fallbacks: string[] = [];
    let own: OwnMeasurement | undefined;
    for (const name of INPUT_NAMES) {
      const known = inputs[name];
      if (known !== undefined) {
        counters[name] = known;
        continue;
      }
      const setting = DEPLOYED_SETTING_INPUTS[name];
      if (setting) {
        counters[name] = setting.value;
        counters[`${name}${FALLBACK_SUFFIX}`] = FROM_DEPLOYED_SETTING;
        continue;
      }
      own ??= measureOwnWorkload(quick);
      const measured = own.values[name];
      const assumed = ASSUMED_INPUTS[name];
      if (measured !== undefined) {
        counters[name] = measured;
        counters[`${name}${FALLBACK_SUFFIX}`] = FALLBACK_MEASURED;
        fallbacks.push(
          `${name} measured here${OWN_WORKLOAD_NOTES[name] ? ` (${OWN_WORKLOAD_NOTES[name]})` : ''}`,
        );
      } else if (assumed) {
        counters[name] = assumed.value;
        counters[`${name}${FALLBACK_SUFFIX}`] = FALLBACK_ASSUMED;
        fallbacks.push(`${name} assumed ${assumed.value} (${assumed.basis})`);
      } else {
        throw new Error(`cost bench: no measurement and no assumption for ${name}`);
      }
    }
    // Deployed settings (function memory) are configuration, not something a benchmark can measure.
    const measurable = INPUT_NAMES.filter((name) => !DEPLOYED_SETTING_INPUTS[name]);
    const byOthers = measurable.filter((name) => provenance[name]).length;
    const byOwnWorkload = measurable.filter(
      (name) => counters[`${name}${FALLBACK_SUFFIX}`] === FALLBACK_MEASURED,
    ).length;
    const measured = counters as unknown as MeasuredInputs;
    const steady = { ...DEFAULT_CLUSTER, dynamodbMode: 'provisioned' as const };
    const report = costModel(steady, measured);
    const onDemand = costModel({ ...DEFAULT_CLUSTER, dynamodbMode: 'on-demand' }, measured);
    const sparse = costModel({ ...steady, activeFlowExportTimeoutSeconds: 60 }, measured);
    const buckets = { ...steady, flowLayout: 'buckets' as const };
    const bucketed = costModel(buckets, measured);
    const bucketedOnDemand = costModel({ ...buckets, dynamodbMode: 'on-demand' }, measured);
    const bucketedSparse = costModel({ ...buckets, activeFlowExportTimeoutSeconds: 60 }, measured);
    const cluster = '1,000 Nodes, 100k connections, 80% inter-Node';
    const rows: BenchRow[] = [
      {
        group: 'cost',
        name: `cost inputs measured in this run (${byOthers} by the other modules, ${byOwnWorkload} by the cost module's own workload${own ? ` of ${own.flowRecords} records in ${own.kinesisRecords} Kinesis records` : ''}; memory sizes are deployed settings)`,
        value: byOthers + byOwnWorkload,
        unit: `of ${measurable.length} inputs`,
        target: measurable.length,
        better: 'higher',
        counters,
        notes: fallbacks.length ? `fallbacks: ${fallbacks.join('; ')}` : 'every input measured by its module',
      },
      {
        group: 'cost',
        name: `Flowline cost per 1M flow records (${cluster}, 5 s export, flow table provisioned)`,
        value: report.perMillionFlowRecords.flowline,
        unit: '$ / 1M records',
        baselineName: 'naive design',
        baseline: report.perMillionFlowRecords.naive,
        better: 'lower',
      },
      {
        group: 'cost',
        name: 'naive / Flowline cost per 1M flow records (5 s export, flow table provisioned, one item per flow)',
        value: report.ratio,
        unit: 'x',
        better: 'higher',
      },
      {
        group: 'cost',
        name: 'naive / Flowline cost per 1M flow records (5 s export, flow table provisioned, buckets of flows)',
        value: bucketed.ratio,
        unit: 'x',
        target: 20, // issue 15
        better: 'higher',
      },
      monthRow(report, `${cluster}, 5 s export, flow table provisioned with auto scaling, steady load`),
      monthRow(onDemand, `${cluster}, 5 s export, flow table on-demand`),
      monthRow(sparse, `${cluster}, Antrea's export at 60 s, flow table provisioned with auto scaling`),
      monthRow(
        bucketed,
        `${cluster}, 5 s export, buckets of flows, provisioned with auto scaling, steady load`,
      ),
      monthRow(bucketedOnDemand, `${cluster}, 5 s export, buckets of flows, on-demand`),
      monthRow(
        bucketedSparse,
        `${cluster}, Antrea's export at 60 s, buckets of flows, provisioned with auto scaling`,
      ),
      atRestRow(),
    ];
    return rows;
  },
};

/** A month of the priced cluster; issue 15's $6,000 target applies to the steady-load (provisioned) profile. */
function monthRow(report: CostReport, cluster: string): BenchRow {
  return {
    group: 'cost',
    name: `Flowline cost per month (${cluster})`,
    value: report.monthly.flowline,
    unit: '$ / month',
    baselineName: 'naive design',
    baseline: report.monthly.naive,
    ...(report.cluster.dynamodbMode === 'provisioned' ? { target: 6000 } : {}),
    better: 'lower',
    counters: { flowRecordsPerSecond: report.flowRecordsPerSecond },
  };
}

/** The at-rest month (zero flow records) against issue 21's target, baseline: the same with on-demand Kinesis. */
function atRestRow(): BenchRow {
  const atRest = atRestModel();
  const onDemand = atRestModel({ ...DEFAULT_AT_REST, kinesisMode: 'on-demand' });
  return {
    group: 'cost',
    name: 'at-rest month, zero flow records, excluding ClickHouse storage (`flowline cost --connections 0`)',
    value: atRest.monthly,
    unit: '$ / month',
    baselineName: 'on-demand stream',
    baseline: onDemand.monthly,
    target: 15,
    better: 'lower',
    counters: { atRestMonthWithinCloudWatchFreeTier: atRest.monthlyWithinCloudWatchFreeTier },
    notes: `list prices, no free tier; within CloudWatch's always-free alarms and dashboards: $${atRest.monthlyWithinCloudWatchFreeTier.toFixed(2)}`,
  };
}

export default costBench;
