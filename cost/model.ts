// The cost model (issue 9): monthly cost and cost per million flow records of a stated cluster, for Flowline
// and for the naive design, from the counters the benchmarks measured and the list prices in prices.json.
// Pure arithmetic: no I/O, no AWS imports. Used by `flowline cost` and the cost benchmark (bench/cost.bench.ts).
import { DEFAULT_CONFIG, EXPORTER_BATCH_SIZE, EXPORTER_BATCHING_WINDOW_SECONDS } from '../lib/config.ts';
import pricesFile from './prices.json' with { type: 'json' };

/** What the model reads of a `flowline bench` result row (bench/types.ts BenchRow has these fields). */
export interface MeasuredRow {
  group: string;
  name: string;
  counters?: Record<string, number>;
}

export interface Prices {
  kinesisShardHour: number;
  kinesisPutPayloadUnitsMillion: number;
  kinesisOnDemandStreamHour: number;
  kinesisOnDemandIngestGb: number;
  kinesisOnDemandRetrievalGb: number;
  lambdaRequestsMillion: number;
  lambdaArm64GbSecond: number;
  dynamodbWriteRequestUnitsMillion: number;
  dynamodbReadRequestUnitsMillion: number;
  dynamodbWriteCapacityUnitHour: number;
  dynamodbReadCapacityUnitHour: number;
  clickhouseScaleMonth: number;
  clickhouseStorageTbMonth: number;
  kmsKeyMonth: number;
  kmsRequestsTenThousand: number;
  secretsManagerSecretMonth: number;
  cloudwatchAlarmMonth: number;
  cloudwatchDashboardMonth: number;
  cloudwatchCustomMetricMonth: number;
  cloudwatchLogsIngestGb: number;
}

export interface Limits {
  kinesisPutPayloadUnitBytes: number;
  kinesisOnDemandRoundingBytes: number;
  kinesisShardWriteRecordsPerSecond: number;
  kinesisShardWriteBytesPerSecond: number;
  kinesisShardTargetUtilisation: number;
  lambdaKinesisDefaultBatchSize: number;
  clickhouseInsertsPerSecondGuidance: number;
}

function valuesOf<T>(entries: Record<string, { usd?: number; value?: number }>): T {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, v.usd ?? v.value])) as T;
}

export const LIST_PRICES: Prices = valuesOf<Prices>(pricesFile.prices);
export const LIMITS: Limits = valuesOf<Limits>(pricesFile.limits);
export const PRICES_RECORDED_ON: string = pricesFile.recordedOn;

/** The cluster whose traffic is priced. */
export interface Cluster {
  nodes: number;
  /** Concurrently active connections, cluster-wide. */
  connections: number;
  /** Share of connections between Pods on different Nodes: both Nodes report them. */
  interNodeFraction: number;
  /** Antrea agent activeFlowExportTimeout: each Node reports each live connection this often. */
  activeFlowExportTimeoutSeconds: number;
  /** Flow Aggregator semantics: one ClickHouse row per flow per activeFlowRecordTimeout. */
  activeFlowRecordTimeoutSeconds: number;
  /** Ticker round interval (Flow Aggregator commitInterval). */
  commitIntervalSeconds: number;
  /** The correlator's Kinesis batching window: one write per flow per window its records reach. */
  correlatorWindowSeconds: number;
  kinesisMode: 'on-demand' | 'provisioned';
  /**
   * The flow table's capacity mode: on-demand bills each request unit; provisioned bills capacity by the
   * hour, priced at the steady load over the auto scaling target utilisation (the steady-load profile).
   */
  dynamodbMode: 'on-demand' | 'provisioned';
  /** Auto scaling target: provisioned capacity = consumed units per second / this (0..1]. */
  dynamodbTargetUtilisation: number;
  /** The flow table's layout (-c flowLayout): one item per flow, or buckets of flows (one write per window). */
  flowLayout: 'per-flow' | 'buckets';
  /** Days of rows kept in ClickHouse (storage is priced at the steady state). */
  retentionDays: number;
}

/** 1,000 Nodes, 100k connections, Antrea agent defaults (antrea pkg/agent/flowexporter options and pkg/flowaggregator defaults). */
/** The inter-Node fraction is an assumption (flowline cost --inter-node-fraction changes it). */
export const DEFAULT_CLUSTER: Cluster = {
  nodes: 1000,
  connections: 100_000,
  interNodeFraction: 0.8,
  activeFlowExportTimeoutSeconds: 5,
  activeFlowRecordTimeoutSeconds: DEFAULT_CONFIG.activeTimeoutSeconds,
  commitIntervalSeconds: DEFAULT_CONFIG.commitIntervalSeconds,
  correlatorWindowSeconds: DEFAULT_CONFIG.correlatorBatchingWindowSeconds,
  kinesisMode: DEFAULT_CONFIG.streamMode,
  dynamodbMode: DEFAULT_CONFIG.tableBillingMode,
  dynamodbTargetUtilisation: DEFAULT_CONFIG.tableTargetUtilisationPercent / 100,
  flowLayout: DEFAULT_CONFIG.flowLayout,
  retentionDays: 30,
};

export const SECONDS_PER_MONTH = 30 * 24 * 3600;
const HOURS_PER_MONTH = 30 * 24;

/** Per-unit figures the benchmarks measure. Each name is also the bench counter name. */
export interface MeasuredInputs {
  /** Flow records per Kinesis PUT payload unit (25 KB) after packing. */
  flowRecordsPerPutUnit: number;
  /** Flow records per Kinesis record after packing. */
  flowRecordsPerKinesisRecord: number;
  /** Wire-format bytes per flow record, string table included. */
  wireBytesPerFlowRecord: number;
  /** Bytes of one flow record as the naive design ships it (JSON, one Kinesis record each). */
  naiveBytesPerFlowRecord: number;
  /**
   * DynamoDB units the correlator consumes per live flow per minute in the steady state (its writes with
   * their closed rows and due-index moves, and its reads), at the deployed window, with agents exporting
   * every 5 s and every 60 s: the model scales the point of the cluster's regime by the writes its
   * schedule implies (correlatorWritesPerFlowMinute).
   */
  correlatorWriteUnitsPerFlowMinuteAt5sExport: number;
  correlatorReadUnitsPerFlowMinuteAt5sExport: number;
  correlatorWriteUnitsPerFlowMinuteAt60sExport: number;
  correlatorReadUnitsPerFlowMinuteAt60sExport: number;
  /** The same with the bucketed layout (-c flowLayout=buckets, 32 live flows to a bucket). */
  bucketWriteUnitsPerFlowMinuteAt5sExport: number;
  bucketReadUnitsPerFlowMinuteAt5sExport: number;
  bucketWriteUnitsPerFlowMinuteAt60sExport: number;
  bucketReadUnitsPerFlowMinuteAt60sExport: number;
  /** Correlator handler: flow records per invocation and duration per invocation. */
  correlatorFlowRecordsPerInvocation: number;
  correlatorMsPerInvocation: number;
  correlatorMemoryMb: number;
  /** The naive handler: one UpdateItem per flow record. */
  naiveWriteUnitsPerFlowRecord: number;
  naiveMsPerFlowRecord: number;
  /**
   * Export, beyond the correlator's writes: DynamoDB units per exported row of the ticker (flows that fell
   * idle) and of the exporter's intents (one per stream batch with rows), and the exporter's handler time.
   */
  exportReadUnitsPerRow: number;
  exportWriteUnitsPerRow: number;
  exporterMsPerRow: number;
  exporterMemoryMb: number;
  /** Rows exported per live flow per activeFlowRecordTimeout (1 under Flow Aggregator semantics). */
  rowsPerFlowPerInterval: number;
  /** Rows per ClickHouse insert (one per exporter batch with rows). */
  clickhouseMaxRowsPerInsert: number;
  clickhouseCompressedBytesPerRow: number;
}

/** The correlator window the flow-state bench measures the cost model's points at (the deployed one). */
export const MEASURED_WINDOW_SECONDS = DEFAULT_CONFIG.correlatorBatchingWindowSeconds;

/** Writes per live flow per minute the schedule implies at a 60 s export: the assumed 60 s point. */
const WRITES_AT_60S_EXPORT = correlatorWritesPerFlowMinute({
  exportSeconds: 60,
  windowSeconds: MEASURED_WINDOW_SECONDS,
  interNodeFraction: DEFAULT_CLUSTER.interNodeFraction,
});

/**
 * Inputs no benchmark in this run measured fall back to these, each with its basis; the cost bench labels
 * them "assumption" and `flowline cost` prints the basis. Packing and the in-batch fold ratio are never
 * assumed: the cost bench measures them on its own workload when the other modules did not.
 */
export const ASSUMED_INPUTS: Partial<Record<InputName, { value: number; basis: string }>> = {
  naiveWriteUnitsPerFlowRecord: { value: 1, basis: 'one UpdateItem of an item <= 1 KB, reference §3.1' },
  naiveMsPerFlowRecord: {
    value: 6,
    basis: 'one sequential UpdateItem per record at about 6 ms, reference §3.1',
  },
  correlatorWriteUnitsPerFlowMinuteAt60sExport: {
    value: WRITES_AT_60S_EXPORT,
    basis: 'one 1-WRU write per correlator window a record of the flow reaches (items under 1 KB)',
  },
  correlatorReadUnitsPerFlowMinuteAt60sExport: {
    value: WRITES_AT_60S_EXPORT,
    basis: 'one consistent 1-RRU read before each write',
  },
  // Unmeasured buckets are priced as no better than one item per flow.
  bucketWriteUnitsPerFlowMinuteAt5sExport: {
    value: 60 / MEASURED_WINDOW_SECONDS,
    basis: 'no better than one item per flow: one 1-WRU write per flow and window',
  },
  bucketReadUnitsPerFlowMinuteAt5sExport: {
    value: 60 / MEASURED_WINDOW_SECONDS,
    basis: 'no better than one item per flow: one 1-RRU read per flow and window',
  },
  bucketWriteUnitsPerFlowMinuteAt60sExport: {
    value: WRITES_AT_60S_EXPORT,
    basis: 'no better than one item per flow: one 1-WRU write per correlator window a record reaches',
  },
  bucketReadUnitsPerFlowMinuteAt60sExport: {
    value: WRITES_AT_60S_EXPORT,
    basis: 'no better than one item per flow: one 1-RRU read before each write',
  },
  exportReadUnitsPerRow: {
    value: 0.01,
    basis:
      "the exporter's intent read per stream batch (1 RRU per ~100+ rows) and the ticker's reads of idle flows",
  },
  exportWriteUnitsPerRow: {
    value: 0.01,
    basis: "the exporter's intent write per stream batch and the ticker's writes of idle flows",
  },
  exporterMsPerRow: { value: 1, basis: 'upper-bound guess of 1 ms per row; no measurement in this run' },
  rowsPerFlowPerInterval: {
    value: 1,
    basis: 'Flow Aggregator semantics: one row per flow per activeFlowRecordTimeout (reference antrea §2.6)',
  },
  clickhouseMaxRowsPerInsert: {
    value: EXPORTER_BATCH_SIZE,
    basis: "the exporter's stream batch size (lib/config.ts EXPORTER_BATCH_SIZE): one insert per batch",
  },
  clickhouseCompressedBytesPerRow: { value: 40, basis: 'assumed 40 B per row compressed, reference §3.4' },
};

export const INPUT_NAMES = [
  'flowRecordsPerPutUnit',
  'flowRecordsPerKinesisRecord',
  'wireBytesPerFlowRecord',
  'naiveBytesPerFlowRecord',
  'correlatorWriteUnitsPerFlowMinuteAt5sExport',
  'correlatorReadUnitsPerFlowMinuteAt5sExport',
  'correlatorWriteUnitsPerFlowMinuteAt60sExport',
  'correlatorReadUnitsPerFlowMinuteAt60sExport',
  'bucketWriteUnitsPerFlowMinuteAt5sExport',
  'bucketReadUnitsPerFlowMinuteAt5sExport',
  'bucketWriteUnitsPerFlowMinuteAt60sExport',
  'bucketReadUnitsPerFlowMinuteAt60sExport',
  'correlatorFlowRecordsPerInvocation',
  'correlatorMsPerInvocation',
  'correlatorMemoryMb',
  'naiveWriteUnitsPerFlowRecord',
  'naiveMsPerFlowRecord',
  'exportReadUnitsPerRow',
  'exportWriteUnitsPerRow',
  'exporterMsPerRow',
  'exporterMemoryMb',
  'rowsPerFlowPerInterval',
  'clickhouseMaxRowsPerInsert',
  'clickhouseCompressedBytesPerRow',
] as const satisfies ReadonlyArray<keyof MeasuredInputs>;

export type InputName = (typeof INPUT_NAMES)[number];

/** A counter `<input>Fallback` on the cost bench's row says how it got a value no other module measured. */
export const FALLBACK_SUFFIX = 'Fallback';
export const FALLBACK_MEASURED = 1;
export const FALLBACK_ASSUMED = 2;
export const FROM_DEPLOYED_SETTING = 3;

/** Inputs that are settings of the deployed stack, not measurements: read from lib/config.ts defaults. */
export const DEPLOYED_SETTING_INPUTS: Partial<Record<InputName, { value: number; basis: string }>> = {
  correlatorMemoryMb: {
    value: DEFAULT_CONFIG.correlatorMemoryMb,
    basis: 'correlator memory, lib/config.ts default',
  },
  exporterMemoryMb: {
    value: DEFAULT_CONFIG.exporterMemoryMb,
    basis: 'exporter memory, lib/config.ts default',
  },
};

/** Where each input came from, e.g. "measured: correlator / fold 10k records". */
export type Provenance = Partial<Record<InputName, string>>;

/**
 * Reads the inputs from bench rows' counters. The first row carrying a counter wins, so a module's own
 * measurement comes before the cost module's fallback (which runs last and repeats the names).
 */
export function inputsFromRows(rows: readonly MeasuredRow[]): {
  inputs: Partial<MeasuredInputs>;
  provenance: Provenance;
} {
  const inputs: Partial<MeasuredInputs> = {};
  const provenance: Provenance = {};
  for (const name of INPUT_NAMES) {
    for (const row of rows) {
      const value = row.counters?.[name];
      if (value === undefined || !Number.isFinite(value)) continue;
      inputs[name] = value;
      const kind = row.counters?.[`${name}${FALLBACK_SUFFIX}`];
      provenance[name] =
        kind === FROM_DEPLOYED_SETTING
          ? `deployed setting: ${DEPLOYED_SETTING_INPUTS[name]?.basis ?? 'lib/config.ts'}`
          : kind === FALLBACK_ASSUMED
            ? `assumption: ${ASSUMED_INPUTS[name]?.basis ?? 'see the cost bench notes'}`
            : kind === FALLBACK_MEASURED
              ? "fallback: measured on the cost bench's own workload"
              : `measured: ${row.group} / ${row.name}`;
      break;
    }
  }
  return { inputs, provenance };
}

export interface CostLine {
  component: string;
  flowline: number;
  naive: number;
  /** What drives the figure, with the numbers. */
  flowlineDetail: string;
  naiveDetail: string;
}

export interface CostReport {
  cluster: Cluster;
  flowRecordsPerSecond: number;
  flowRecordsPerMonth: number;
  rowsPerSecond: number;
  /** Monthly USD per component. */
  lines: CostLine[];
  monthly: { flowline: number; naive: number };
  perMillionFlowRecords: { flowline: number; naive: number };
  /** naive / Flowline, per million flow records (target >= 20, issue 15). */
  ratio: number;
  clickhouseInsertsPerSecond: { flowline: number; naive: number };
}

/** The export intervals the flow-state bench measures the correlator's units at, and their input names. */
export const CORRELATOR_UNIT_INPUTS = {
  5: {
    write: 'correlatorWriteUnitsPerFlowMinuteAt5sExport',
    read: 'correlatorReadUnitsPerFlowMinuteAt5sExport',
  },
  60: {
    write: 'correlatorWriteUnitsPerFlowMinuteAt60sExport',
    read: 'correlatorReadUnitsPerFlowMinuteAt60sExport',
  },
} as const satisfies Record<number, { write: InputName; read: InputName }>;
export type MeasuredExportSeconds = keyof typeof CORRELATOR_UNIT_INPUTS;

/** The same points for the bucketed layout. */
export const BUCKET_UNIT_INPUTS = {
  5: { write: 'bucketWriteUnitsPerFlowMinuteAt5sExport', read: 'bucketReadUnitsPerFlowMinuteAt5sExport' },
  60: { write: 'bucketWriteUnitsPerFlowMinuteAt60sExport', read: 'bucketReadUnitsPerFlowMinuteAt60sExport' },
} as const satisfies Record<MeasuredExportSeconds, { write: InputName; read: InputName }>;

/**
 * Correlator writes per live flow per minute that the schedule implies: one per correlator window a record
 * of the flow reaches (a lane's records of one window fold into one write per flow). Agents exporting at
 * least once a window reach every window. Sparser ones reach 60 / E windows a minute each, and the second
 * Node of an inter-Node flow lands in the first one's window with probability W / E (each Node and
 * connection has its own export phase).
 */
export function correlatorWritesPerFlowMinute(o: {
  exportSeconds: number;
  windowSeconds: number;
  interNodeFraction: number;
}): number {
  if (o.exportSeconds <= o.windowSeconds) return 60 / o.windowSeconds;
  const shared = o.windowSeconds / o.exportSeconds;
  return (60 / o.exportSeconds) * (1 + o.interNodeFraction * (1 - shared));
}

/**
 * The correlator's units per live flow per minute for this cluster: the measured point of the same regime
 * (agents exporting within the window, or sparser), scaled by the writes the schedule implies here (the
 * cluster's export interval and window) against there (the point's, at the deployed window). At 5 s and
 * 60 s exports and the deployed window, exactly the measured figures. Buckets are written once per window
 * a record of any of their flows reaches, which the same scaling follows for live buckets.
 */
export function correlatorUnitsPerFlowMinute(cluster: Cluster, m: MeasuredInputs) {
  const point: MeasuredExportSeconds =
    cluster.activeFlowExportTimeoutSeconds <= cluster.correlatorWindowSeconds ? 5 : 60;
  const writes = (exportSeconds: number, windowSeconds: number) =>
    correlatorWritesPerFlowMinute({
      exportSeconds,
      windowSeconds,
      interNodeFraction: cluster.interNodeFraction,
    });
  const here = writes(cluster.activeFlowExportTimeoutSeconds, cluster.correlatorWindowSeconds);
  // The points were measured at the deployed window.
  const scale = here / writes(point, MEASURED_WINDOW_SECONDS);
  const names = (cluster.flowLayout === 'buckets' ? BUCKET_UNIT_INPUTS : CORRELATOR_UNIT_INPUTS)[point];
  return { point, writes: here, write: m[names.write] * scale, read: m[names.read] * scale };
}

/** Flow records per second the agents send: intra-Node connections once, inter-Node ones from both Nodes. */
export function flowRecordsPerSecond(cluster: Cluster): number {
  return (cluster.connections * (1 + cluster.interNodeFraction)) / cluster.activeFlowExportTimeoutSeconds;
}

function gb(bytes: number): number {
  return bytes / 2 ** 30;
}

const millions = (n: number) => `${fmt(n / 1e6)} M`;

export function fmt(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(3)).toString();
}

/** Shards to carry this write rate at the target utilisation: the records/s or the bytes/s limit binds. */
export function provisionedShards(
  recordsPerSecond: number,
  bytesPerSecond: number,
  limits: Limits = LIMITS,
): number {
  const load = Math.max(
    recordsPerSecond / limits.kinesisShardWriteRecordsPerSecond,
    bytesPerSecond / limits.kinesisShardWriteBytesPerSecond,
  );
  return Math.max(1, Math.ceil(load / limits.kinesisShardTargetUtilisation));
}

interface KinesisCost {
  usd: number;
  detail: string;
}

/** Kinesis for one month: `records` Kinesis records of `bytesPerRecord` each. */
export function kinesisMonthly(
  mode: Cluster['kinesisMode'],
  records: number,
  bytesPerRecord: number,
  prices: Prices,
  limits: Limits = LIMITS,
): KinesisCost {
  if (mode === 'on-demand') {
    // Ingest and retrieval are billed per record rounded up to 1 KB; one standard consumer (the correlator).
    const billedBytes =
      records *
      Math.ceil(bytesPerRecord / limits.kinesisOnDemandRoundingBytes) *
      limits.kinesisOnDemandRoundingBytes;
    const usd =
      HOURS_PER_MONTH * prices.kinesisOnDemandStreamHour +
      gb(billedBytes) * (prices.kinesisOnDemandIngestGb + prices.kinesisOnDemandRetrievalGb);
    return { usd, detail: `on-demand: ${fmt(gb(billedBytes))} GB billed in and out + 720 stream-hours` };
  }
  const perSecond = records / SECONDS_PER_MONTH;
  const shards = provisionedShards(perSecond, perSecond * bytesPerRecord, limits);
  const putUnits = records * Math.ceil(bytesPerRecord / limits.kinesisPutPayloadUnitBytes);
  const usd =
    shards * HOURS_PER_MONTH * prices.kinesisShardHour +
    (putUnits / 1e6) * prices.kinesisPutPayloadUnitsMillion;
  return { usd, detail: `provisioned: ${shards} shards, ${millions(putUnits)} PUT payload units` };
}

/** Lambda for one month: requests plus GB-seconds (arm64, no free tier). */
export function lambdaMonthly(
  invocations: number,
  msPerInvocation: number,
  memoryMb: number,
  prices: Prices,
) {
  const gbSeconds = ((invocations * msPerInvocation) / 1000) * (memoryMb / 1024);
  return {
    usd: (invocations / 1e6) * prices.lambdaRequestsMillion + gbSeconds * prices.lambdaArm64GbSecond,
    gbSeconds,
  };
}

/**
 * A month of `writeUnits` and `readUnits` (request units consumed in the month, due-index units included)
 * in the cluster's capacity mode. Provisioned: capacity units sized to the month's average rate over the
 * auto scaling target utilisation, billed every hour (a steady load; bursts above the target are what
 * auto scaling absorbs).
 */
function dynamodbMonthly(
  writeUnits: number,
  readUnits: number,
  prices: Prices,
  cluster: Pick<Cluster, 'dynamodbMode' | 'dynamodbTargetUtilisation'>,
): number {
  if (cluster.dynamodbMode === 'provisioned') {
    const capacity = (units: number) => units / SECONDS_PER_MONTH / cluster.dynamodbTargetUtilisation;
    return (
      HOURS_PER_MONTH *
      (capacity(writeUnits) * prices.dynamodbWriteCapacityUnitHour +
        capacity(readUnits) * prices.dynamodbReadCapacityUnitHour)
    );
  }
  return (
    (writeUnits / 1e6) * prices.dynamodbWriteRequestUnitsMillion +
    (readUnits / 1e6) * prices.dynamodbReadRequestUnitsMillion
  );
}

export function costModel(
  cluster: Cluster,
  m: MeasuredInputs,
  prices: Prices = LIST_PRICES,
  limits: Limits = LIMITS,
): CostReport {
  const recordsPerSecond = flowRecordsPerSecond(cluster);
  const records = recordsPerSecond * SECONDS_PER_MONTH;
  const rowsPerSecond =
    (cluster.connections * m.rowsPerFlowPerInterval) / cluster.activeFlowRecordTimeoutSeconds;
  const rows = rowsPerSecond * SECONDS_PER_MONTH;
  const lines: CostLine[] = [];

  // Kinesis: Flowline packs many flow records per Kinesis record; the naive design sends one each.
  const packedRecords = records / m.flowRecordsPerKinesisRecord;
  const packedBytes = m.flowRecordsPerKinesisRecord * m.wireBytesPerFlowRecord;
  const kinesisFlowline =
    cluster.kinesisMode === 'provisioned'
      ? provisionedFromPutUnits(records, m, prices, limits)
      : kinesisMonthly('on-demand', packedRecords, packedBytes, prices, limits);
  const kinesisNaive = kinesisMonthly(
    cluster.kinesisMode,
    records,
    m.naiveBytesPerFlowRecord,
    prices,
    limits,
  );
  lines.push({
    component: `Kinesis (${cluster.kinesisMode})`,
    flowline: kinesisFlowline.usd,
    naive: kinesisNaive.usd,
    flowlineDetail: `${fmt(m.flowRecordsPerKinesisRecord)} flow records x ${fmt(m.wireBytesPerFlowRecord)} B per Kinesis record; ${kinesisFlowline.detail}`,
    naiveDetail: `1 Kinesis record of ${fmt(m.naiveBytesPerFlowRecord)} B per flow record; ${kinesisNaive.detail}`,
  });

  // Correlator Lambda: invocations and GB-seconds from the measured handler durations.
  const correlatorInvocations = records / m.correlatorFlowRecordsPerInvocation;
  const correlator = lambdaMonthly(
    correlatorInvocations,
    m.correlatorMsPerInvocation,
    m.correlatorMemoryMb,
    prices,
  );
  const naiveBatch = limits.lambdaKinesisDefaultBatchSize;
  const naiveInvocations = records / naiveBatch;
  const naiveCorrelator = lambdaMonthly(
    naiveInvocations,
    naiveBatch * m.naiveMsPerFlowRecord,
    m.correlatorMemoryMb,
    prices,
  );
  lines.push({
    component: 'Lambda correlator (arm64)',
    flowline: correlator.usd,
    naive: naiveCorrelator.usd,
    flowlineDetail: `${millions(correlatorInvocations)} invocations of ${fmt(m.correlatorFlowRecordsPerInvocation)} flow records, ${fmt(m.correlatorMsPerInvocation)} ms, ${m.correlatorMemoryMb} MB: ${millions(correlator.gbSeconds)} GB-s`,
    naiveDetail: `${millions(naiveInvocations)} invocations of ${naiveBatch} records x ${fmt(m.naiveMsPerFlowRecord)} ms: ${millions(naiveCorrelator.gbSeconds)} GB-s`,
  });

  // Correlator DynamoDB: measured units per live flow per minute (its writes follow windows, not records).
  const perFlowMinute = correlatorUnitsPerFlowMinute(cluster, m);
  const flowMinutes = (cluster.connections * SECONDS_PER_MONTH) / 60;
  const correlatorWrites = flowMinutes * perFlowMinute.write;
  const correlatorReads = flowMinutes * perFlowMinute.read;
  const naiveWrites = records * m.naiveWriteUnitsPerFlowRecord;
  lines.push({
    component: `DynamoDB correlator writes (${dynamodbModeLabel(cluster)})`,
    flowline: dynamodbMonthly(correlatorWrites, correlatorReads, prices, cluster),
    naive: dynamodbMonthly(naiveWrites, 0, prices, cluster),
    flowlineDetail: `${fmt(perFlowMinute.write)} WRU + ${fmt(perFlowMinute.read)} RRU per live flow per minute (${cluster.flowLayout === 'buckets' ? 'buckets of flows, ' : ''}${fmt(perFlowMinute.writes)} writes: a ${cluster.correlatorWindowSeconds} s window, agents every ${cluster.activeFlowExportTimeoutSeconds} s; measured at ${perFlowMinute.point} s): ${millions(correlatorWrites)} WRU`,
    naiveDetail: `one UpdateItem per flow record, ${fmt(m.naiveWriteUnitsPerFlowRecord)} WRU each: ${millions(naiveWrites)} WRU`,
  });

  // Exporter: one invocation (and insert) per stream batch, rowsPerInsert rows (the stream's reads are free
  // to Lambda); the same per-row work in both designs.
  const rowsPerInsert = exporterRowsPerInsert(rowsPerSecond, m);
  const exporterInvocations = rows / rowsPerInsert;
  const exporter = lambdaMonthly(
    exporterInvocations,
    rowsPerInsert * m.exporterMsPerRow,
    m.exporterMemoryMb,
    prices,
  );
  lines.push({
    component: 'Lambda exporter (arm64)',
    flowline: exporter.usd,
    naive: exporter.usd,
    flowlineDetail: `${millions(exporterInvocations)} invocations of ${fmt(rowsPerInsert)} rows, ${fmt(m.exporterMsPerRow)} ms per row: ${millions(exporter.gbSeconds)} GB-s; DynamoDB Streams reads by Lambda are free`,
    naiveDetail: 'same rows and handler time',
  });
  const exportDynamo = dynamodbMonthly(
    rows * m.exportWriteUnitsPerRow,
    rows * m.exportReadUnitsPerRow,
    prices,
    cluster,
  );
  lines.push({
    component: `DynamoDB ticker and exporter intents (${dynamodbModeLabel(cluster)})`,
    flowline: exportDynamo,
    naive: exportDynamo,
    flowlineDetail: `${millions(rows)} rows x (${fmt(m.exportReadUnitsPerRow)} RRU + ${fmt(m.exportWriteUnitsPerRow)} WRU)`,
    naiveDetail: 'same rows',
  });

  // ClickHouse Cloud: compute is a fixed service size; storage grows with retained rows.
  lines.push({
    component: 'ClickHouse Cloud compute',
    flowline: prices.clickhouseScaleMonth,
    naive: prices.clickhouseScaleMonth,
    flowlineDetail: 'Scale tier, 2 x 8 GiB, always on',
    naiveDetail: 'same service (row-at-a-time inserts exceed the ~1 insert/s guidance; see inserts/s)',
  });
  const retainedBytes = rowsPerSecond * cluster.retentionDays * 86_400 * m.clickhouseCompressedBytesPerRow;
  const storage = (retainedBytes / 1e12) * prices.clickhouseStorageTbMonth;
  lines.push({
    component: 'ClickHouse Cloud storage',
    flowline: storage,
    naive: storage,
    flowlineDetail: `${cluster.retentionDays} days x ${fmt(rowsPerSecond)} rows/s x ${fmt(m.clickhouseCompressedBytesPerRow)} B compressed = ${fmt(retainedBytes / 1e12)} TB`,
    naiveDetail: 'same rows',
  });

  const monthly = {
    flowline: lines.reduce((sum, line) => sum + line.flowline, 0),
    naive: lines.reduce((sum, line) => sum + line.naive, 0),
  };
  const perMillionFlowRecords = {
    flowline: monthly.flowline / (records / 1e6),
    naive: monthly.naive / (records / 1e6),
  };
  return {
    cluster,
    flowRecordsPerSecond: recordsPerSecond,
    flowRecordsPerMonth: records,
    rowsPerSecond,
    lines,
    monthly,
    perMillionFlowRecords,
    ratio: perMillionFlowRecords.naive / perMillionFlowRecords.flowline,
    clickhouseInsertsPerSecond: { flowline: rowsPerSecond / rowsPerInsert, naive: rowsPerSecond },
  };
}

/**
 * Rows per exporter invocation (and ClickHouse insert): what the stream gathers in a batching window, up to
 * the batch size. One stream shard's view: the table's shards divide the rows, and each batch is smaller
 * (inserts/s up to shards / window), which the priced cluster's few shards leave within ClickHouse's guidance.
 */
export function exporterRowsPerInsert(
  rowsPerSecond: number,
  m: Pick<MeasuredInputs, 'clickhouseMaxRowsPerInsert'>,
) {
  return Math.max(
    1,
    Math.min(m.clickhouseMaxRowsPerInsert, rowsPerSecond * EXPORTER_BATCHING_WINDOW_SECONDS),
  );
}

/** Provisioned Kinesis for Flowline, with PUT payload units taken from the measured packing density. */
function provisionedFromPutUnits(
  records: number,
  m: MeasuredInputs,
  prices: Prices,
  limits: Limits,
): KinesisCost {
  const perSecond = records / SECONDS_PER_MONTH;
  const shards = provisionedShards(
    perSecond / m.flowRecordsPerKinesisRecord,
    perSecond * m.wireBytesPerFlowRecord,
    limits,
  );
  const putUnits = records / m.flowRecordsPerPutUnit;
  return {
    usd:
      shards * HOURS_PER_MONTH * prices.kinesisShardHour +
      (putUnits / 1e6) * prices.kinesisPutPayloadUnitsMillion,
    detail: `provisioned: ${shards} shards, ${millions(putUnits)} PUT payload units`,
  };
}

/** Provisioned shards the cluster's load needs, and the month of each Kinesis mode at that load. */
export function kinesisModeAdvice(
  cluster: Cluster,
  m: MeasuredInputs,
  prices: Prices = LIST_PRICES,
  limits: Limits = LIMITS,
): { shards: number; provisioned: number; onDemand: number } {
  const perSecond = flowRecordsPerSecond(cluster);
  const shards = provisionedShards(
    perSecond / m.flowRecordsPerKinesisRecord,
    perSecond * m.wireBytesPerFlowRecord,
    limits,
  );
  const month = (kinesisMode: Cluster['kinesisMode']) =>
    costModel({ ...cluster, kinesisMode }, m, prices, limits).lines[0]!.flowline;
  return { shards, provisioned: month('provisioned'), onDemand: month('on-demand') };
}

function dynamodbModeLabel(cluster: Cluster): string {
  return cluster.dynamodbMode === 'provisioned'
    ? `provisioned, auto scaling at ${Math.round(cluster.dynamodbTargetUtilisation * 100)} %`
    : 'on-demand';
}

/** The whole month with each flow table layout, and naive / Flowline for each. */
export function flowLayoutAdvice(
  cluster: Cluster,
  m: MeasuredInputs,
  prices: Prices = LIST_PRICES,
  limits: Limits = LIMITS,
): Record<Cluster['flowLayout'], { flowline: number; ratio: number }> {
  const month = (flowLayout: Cluster['flowLayout']) => {
    const { monthly } = costModel({ ...cluster, flowLayout }, m, prices, limits);
    return { flowline: monthly.flowline, ratio: monthly.naive / monthly.flowline };
  };
  return { 'per-flow': month('per-flow'), buckets: month('buckets') };
}

/** The whole month with the flow table on-demand and provisioned (auto scaling at the cluster's target). */
export function dynamodbModeAdvice(
  cluster: Cluster,
  m: MeasuredInputs,
  prices: Prices = LIST_PRICES,
  limits: Limits = LIMITS,
): { provisioned: number; onDemand: number } {
  const month = (dynamodbMode: Cluster['dynamodbMode']) =>
    costModel({ ...cluster, dynamodbMode }, m, prices, limits).monthly.flowline;
  return { provisioned: month('provisioned'), onDemand: month('on-demand') };
}

const usd = (n: number) => (n >= 100 ? `$${Math.round(n).toLocaleString('en-US')}` : `$${n.toFixed(2)}`);
const usdPerMillion = (n: number) => `$${n.toPrecision(3)}`;

/** The cost table as Markdown (README and `flowline cost`). */
export function renderCostTable(report: CostReport): string {
  const c = report.cluster;
  const out: string[] = [];
  out.push(
    `Cluster: ${fmt(c.nodes)} Nodes, ${fmt(c.connections)} concurrent connections, inter-Node fraction ${c.interNodeFraction}, ` +
      `activeFlowExportTimeout ${c.activeFlowExportTimeoutSeconds} s -> ${fmt(report.flowRecordsPerSecond)} flow records/s ` +
      `(${fmt(report.flowRecordsPerMonth / 1e9)} B per 30-day month, ${fmt(report.flowRecordsPerSecond / c.nodes)} per Node per s); ` +
      `${fmt(report.rowsPerSecond)} ClickHouse rows/s (one per flow per ${c.activeFlowRecordTimeoutSeconds} s). Prices: us-east-1 list, cost/prices.json (${PRICES_RECORDED_ON}).`,
  );
  out.push('');
  out.push(
    '| Component | Flowline $/month | Naive $/month | Flowline: what drives it | Naive: what drives it |',
  );
  out.push('| --- | ---: | ---: | --- | --- |');
  for (const line of report.lines) {
    out.push(
      `| ${line.component} | ${usd(line.flowline)} | ${usd(line.naive)} | ${line.flowlineDetail} | ${line.naiveDetail} |`,
    );
  }
  out.push(
    `| **Total per month** | **${usd(report.monthly.flowline)}** | **${usd(report.monthly.naive)}** | | |`,
  );
  out.push(
    `| **Per 1M flow records** | **${usdPerMillion(report.perMillionFlowRecords.flowline)}** | **${usdPerMillion(report.perMillionFlowRecords.naive)}** | naive / Flowline = **${report.ratio.toFixed(1)}x** (target >= 20x) | |`,
  );
  out.push(
    `| ClickHouse inserts/s | ${fmt(report.clickhouseInsertsPerSecond.flowline)} | ${fmt(report.clickhouseInsertsPerSecond.naive)} | guidance: about ${LIMITS.clickhouseInsertsPerSecondGuidance}/s, 10k-100k rows each | one insert per row |`,
  );
  return out.join('\n');
}
