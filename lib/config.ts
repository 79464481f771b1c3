// Deployment configuration, read from CDK context (cdk.json or `-c key=value`). Every key has a documented
// default (README "Configuration"); values are validated here so a bad value fails synth, not a deploy.
import type { Node } from 'constructs';
import {
  DEFAULT_DUE_SHARD_COUNT,
  DEFAULT_FLOW_BUCKETS,
  FLOW_LAYOUTS,
} from '../functions/flow-store/schema.ts';

export type FlowLayoutKind = (typeof FLOW_LAYOUTS)[number];

import { parseFlowLogFilters } from '../functions/shared/flow-log-filters.ts';

export type StreamMode = 'on-demand' | 'provisioned';
export type TableBillingMode = 'on-demand' | 'provisioned';
export type CollectorTrust = 'account' | 'irsa' | 'pod-identity';

/**
 * Records per exporter invocation at most (a NEW_IMAGE record is 1-1.6 KB in the event: 3,000 stay below
 * Lambda's 6 MB payload), and how long the mapping gathers them: at most 12 inserts a minute per stream
 * shard; at scale the batch size is the limit, at low rates the window is a new flow's wait. The cost model
 * prices inserts and invocations from them.
 */
export const EXPORTER_BATCH_SIZE = 3000;
export const EXPORTER_BATCHING_WINDOW_SECONDS = 5;

export interface FlowlineConfig {
  stackName: string;
  /** RETAIN keys, table and stream on stack deletion (production); false destroys them (dev, LocalStack). */
  retainData: boolean;

  streamMode: StreamMode;
  /** Used only when streamMode is provisioned. */
  shardCount: number;
  streamRetentionHours: number;

  tableBillingMode: TableBillingMode;
  /** Used only when tableBillingMode is provisioned (base table and GSI): the auto scaling minimum. */
  tableReadCapacity: number;
  tableWriteCapacity: number;
  /** Provisioned mode: auto scaling maximum of table and GSI (equal to the minimum: fixed capacity). */
  tableMaxReadCapacity: number;
  tableMaxWriteCapacity: number;
  /** Provisioned mode: auto scaling keeps consumed / provisioned capacity near this percentage. */
  tableTargetUtilisationPercent: number;
  /** Storage hygiene: an item expires this long after its last update (logic never relies on the deletion). */
  flowTtlSeconds: number;
  /** Partitions of the sparse due-for-export index; spreads its writes (functions/flow-store/index.ts). */
  dueShardCount: number;
  /**
   * The flow table's layout (functions/flow-store/layout.ts): one item per flow, or buckets of flows that
   * share one write per correlator window (about 5x fewer write units at scale; docs/flow-state-and-scale-out.md).
   */
  flowLayout: FlowLayoutKind;
  /** Buckets of the bucketed layout: about live flows / 32. The collector must route with the same number. */
  flowBuckets: number;

  /** Antrea's activeFlowRecordTimeout / inactiveFlowRecordTimeout / commitInterval. */
  activeTimeoutSeconds: number;
  inactiveTimeoutSeconds: number;
  commitIntervalSeconds: number;
  /** How long one scheduled ticker invocation keeps running rounds (the schedule ticks once a minute). */
  tickerRunForSeconds: number;
  /**
   * The lazy due-index key (core/flow-state/advance.ts): a live flow's key is its next due time plus this
   * slack, so the correlator moves it once per slack; a flow that falls idle without END_OF_FLOW has its
   * last row up to this late.
   */
  indexSlackSeconds: number;
  /** The correlator moves a live flow's key when it is this close to the write (at least one batching window). */
  indexMarginSeconds: number;

  correlatorBatchSize: number;
  correlatorBatchingWindowSeconds: number;
  correlatorParallelizationFactor: number;
  correlatorMaxRetryAttempts: number;
  correlatorMaxRecordAgeSeconds: number;
  correlatorMemoryMb: number;
  correlatorTimeoutSeconds: number;
  tickerMemoryMb: number;
  /**
   * Ticker functions: ticker k of N advances the flows of the due-index shards s with s mod N = k
   * (core/flow-state/ports.ts TickerPartition); at most dueShardCount.
   */
  tickerCount: number;
  exporterMemoryMb: number;
  /** One stream batch's invocation: its ClickHouse insert and the sinks' hand-over. */
  exporterTimeoutSeconds: number;

  clickHouseUrl: string;
  /** Antrea's cluster UUID (configmap kube-system/antrea-cluster-identity), the rows' clusterUUID. */
  clusterUuid: string;
  clickHouseDatabase: string;
  clickHouseUsername: string;
  /** Use an existing Secrets Manager secret instead of creating one. */
  clickHouseSecretArn: string | undefined;

  collectorTrust: CollectorTrust;
  collectorOidcProviderArn: string | undefined;
  /** Pod Identity trust: the EKS cluster of the collector (any cluster of this account when unset). */
  collectorEksClusterName: string | undefined;
  /** collectorTrust=account only (an explicit opt-in): why, recorded against cdk-nag finding Flowline-IAM1. */
  collectorAccountTrustReason: string | undefined;
  collectorNamespace: string;
  collectorServiceAccount: string;

  /**
   * Extra sinks (docs/sinks.md), each off by default. IPFIX/JSON export of every exported row to an
   * external collector: tcp://host:port, tls://host:port or udp://host:port (the exporter must reach it).
   */
  ipfixExportAddress: string | undefined;
  ipfixExportFormat: 'IPFIX' | 'JSON';
  /** Antrea's flowCollector.observationDomainID; unset: FNV-1 of the cluster UUID, as Antrea. */
  ipfixExportObservationDomainId: number | undefined;
  /**
   * tls:// export (Antrea's flowCollector.tls): a Secrets Manager secret with any of "ca.crt" (a private
   * CA), "tls.crt" and "tls.key" (a client certificate for a collector that verifies its exporters), the
   * keys of Antrea's caSecretName and clientSecretName Secrets. Unset: the system roots, no client cert.
   */
  ipfixExportTlsSecretArn: string | undefined;
  /** The name the collector's certificate must carry (default: the address's host name). */
  ipfixExportTlsServerName: string | undefined;
  /** Antrea's flowCollector.tls.minVersion: TLSv1.2 (default) or TLSv1.3. */
  ipfixExportTlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  /** S3 archive of every exported row: a bucket created by the stack (KMS, lifecycle). */
  archiveEnabled: boolean;
  archivePrefix: string;
  /** parquet (hour partitions) or csv (Antrea's S3 uploader: its lines, records-<12>.csv.gz objects). */
  archiveFormat: 'parquet' | 'csv';
  /** csv only: gzip each object (Antrea's s3Uploader.compress). */
  archiveGzip: boolean;
  /** Days until archived objects move to S3 Standard-IA, and until they are deleted (0: never). */
  archiveInfrequentAccessDays: number;
  archiveExpirationDays: number;
  /**
   * The flow log (Antrea's flowLogger): every exported row as a flow logger line in a CloudWatch Logs log
   * group of its own, with Antrea's prettyPrint and filters (JSON: a list of
   * {ingressNetworkPolicyRuleActions, egressNetworkPolicyRuleActions}), kept flowLogRetentionDays.
   */
  flowLogEnabled: boolean;
  flowLogPrettyPrint: boolean;
  flowLogFilters: string | undefined;
  flowLogRetentionDays: number;
  /** Rows each sink holds while it is down before it drops the oldest (counted, alarmed). */
  sinkMaxQueuedRows: number;

  alarmEmail: string | undefined;
  /** The CloudWatch operations dashboard ($3 a month beyond an account's three free ones). */
  dashboard: boolean;
  iteratorAgeAlarmSeconds: number;
  exportLagAlarmSeconds: number;
  logRetentionDays: number;
}

export const DEFAULT_CONFIG: Readonly<FlowlineConfig> = {
  stackName: 'Flowline',
  retainData: true,
  // One provisioned shard ($10.80 a month) rather than on-demand ($28.80 for the stream alone): the cheaper
  // mode at rest and at low volume. It carries about 15,000 connections at Antrea's defaults; above that
  // raise shardCount or choose on-demand (docs/cost.md, `flowline cost --connections N` sizes it).
  streamMode: 'provisioned',
  shardCount: 1,
  streamRetentionHours: 24,
  tableBillingMode: 'on-demand',
  tableReadCapacity: 5,
  tableWriteCapacity: 5,
  tableMaxReadCapacity: 4000,
  tableMaxWriteCapacity: 4000,
  tableTargetUtilisationPercent: 70,
  flowTtlSeconds: 86_400,
  dueShardCount: DEFAULT_DUE_SHARD_COUNT,
  flowLayout: 'per-flow',
  flowBuckets: DEFAULT_FLOW_BUCKETS,
  activeTimeoutSeconds: 60,
  inactiveTimeoutSeconds: 90,
  commitIntervalSeconds: 8,
  // With the ticker's final round (lib/ticker.ts), its timeout ends before the next one-minute run.
  tickerRunForSeconds: 40,
  indexSlackSeconds: 1200,
  indexMarginSeconds: 120,
  // One DynamoDB write per flow key per invocation: these set how many 5 s agent reports of a flow fold
  // into it (README "Cost"): 20 s of a lane's records, 8 lanes per shard so the 6 MB payload does not cut
  // the window short, and BatchSize at its maximum so the window and the payload are the limits.
  correlatorBatchSize: 10_000,
  correlatorBatchingWindowSeconds: 20,
  correlatorParallelizationFactor: 8,
  correlatorMaxRetryAttempts: 5,
  correlatorMaxRecordAgeSeconds: 21_600,
  correlatorMemoryMb: 1024,
  correlatorTimeoutSeconds: 60,
  // 1,769 MB is one full vCPU, the most single-threaded Node code can use. The ticker's per-flow cost is
  // CPU (the SDK's work for each conditional PartiQL write of a flow that fell due), so at 512 MB (0.29
  // vCPU) it would close about a third as many idle flows per round; at rest a round is a few index
  // queries, a tenth of a second, whatever the memory.
  tickerMemoryMb: 1769,
  tickerCount: 1,
  // The exporter decodes rows and encodes ClickHouse's RowBinary in one thread, and a stream shard's
  // batches run one after the other: a full vCPU is that shard's export rate. CPU-bound work finishes
  // proportionally sooner with more memory, so the GB-seconds, and the bill, stay about the same.
  exporterMemoryMb: 1769,
  // Above CLICKHOUSE_REQUEST_TIMEOUT_MS (30 s) with room for the secret's fetch and the sinks' hand-over.
  exporterTimeoutSeconds: 60,
  clickHouseUrl: '',
  clusterUuid: '',
  clickHouseDatabase: 'default',
  clickHouseUsername: 'default',
  clickHouseSecretArn: undefined,
  collectorTrust: 'pod-identity',
  collectorOidcProviderArn: undefined,
  collectorEksClusterName: undefined,
  collectorAccountTrustReason: undefined,
  collectorNamespace: 'flow-aggregator',
  collectorServiceAccount: 'flowline-collector',
  ipfixExportAddress: undefined,
  ipfixExportFormat: 'IPFIX',
  ipfixExportObservationDomainId: undefined,
  ipfixExportTlsSecretArn: undefined,
  ipfixExportTlsServerName: undefined,
  ipfixExportTlsMinVersion: 'TLSv1.2',
  archiveEnabled: false,
  archivePrefix: 'flows/',
  archiveFormat: 'parquet',
  archiveGzip: true,
  archiveInfrequentAccessDays: 30,
  archiveExpirationDays: 365,
  flowLogEnabled: false,
  flowLogPrettyPrint: true,
  flowLogFilters: undefined,
  flowLogRetentionDays: 30,
  sinkMaxQueuedRows: 100_000,
  alarmEmail: undefined,
  dashboard: false,
  iteratorAgeAlarmSeconds: 300,
  exportLagAlarmSeconds: 120,
  logRetentionDays: 30,
};

/** Values accepted by CloudWatch Logs' RetentionInDays. */
/** A complete Secrets Manager secret ARN (with its random suffix: IAM grants on it are exact). */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$/;

/**
 * flowLogFilters as a JSON list (cdk.json may hold the list itself), checked here with the exporter's own
 * parser so that a typo fails the synth, not the exporter's cold start.
 */
function flowLogFiltersOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  try {
    parseFlowLogFilters(text);
  } catch (error) {
    throw new ConfigError(`context flowLogFilters: ${(error as Error).message}`);
  }
  return text;
}

const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type ContextSource = Pick<Node, 'tryGetContext'>;

/** Reads every key of FlowlineConfig from context; `overrides` win (tests). */
export function readConfig(node: ContextSource, overrides: Partial<FlowlineConfig> = {}): FlowlineConfig {
  const raw = (key: keyof FlowlineConfig): unknown =>
    key in overrides ? overrides[key] : node.tryGetContext(key);
  const d = DEFAULT_CONFIG;

  const int = (key: keyof FlowlineConfig, min: number, max: number): number => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return d[key] as number;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(
        `context ${key}=${JSON.stringify(value)}: expected an integer in [${min}, ${max}]`,
      );
    }
    return n;
  };
  const str = (key: keyof FlowlineConfig, pattern?: RegExp): string => {
    const value = raw(key);
    if (value === undefined || value === null) return d[key] as string;
    const s = String(value);
    if (pattern && !pattern.test(s))
      throw new ConfigError(`context ${key}=${JSON.stringify(s)}: must match ${pattern}`);
    return s;
  };
  const optional = (key: keyof FlowlineConfig, pattern: RegExp): string | undefined => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    const s = String(value);
    if (!pattern.test(s)) throw new ConfigError(`context ${key}=${JSON.stringify(s)}: must match ${pattern}`);
    return s;
  };
  const oneOf = <T extends string>(key: keyof FlowlineConfig, allowed: readonly T[]): T => {
    const s = str(key);
    if (!(allowed as readonly string[]).includes(s)) {
      throw new ConfigError(`context ${key}=${JSON.stringify(s)}: expected one of ${allowed.join(', ')}`);
    }
    return s as T;
  };
  const optionalInt = (key: keyof FlowlineConfig, min: number, max: number): number | undefined => {
    const value = raw(key);
    return value === undefined || value === null || value === '' ? undefined : int(key, min, max);
  };
  const bool = (key: keyof FlowlineConfig): boolean => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return d[key] as boolean;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new ConfigError(`context ${key}=${JSON.stringify(value)}: expected true or false`);
  };

  const config: FlowlineConfig = {
    stackName: str('stackName', /^[A-Za-z][A-Za-z0-9-]{0,127}$/),
    retainData: bool('retainData'),
    streamMode: oneOf('streamMode', ['on-demand', 'provisioned'] as const),
    shardCount: int('shardCount', 1, 500),
    streamRetentionHours: int('streamRetentionHours', 24, 8760),
    tableBillingMode: oneOf('tableBillingMode', ['on-demand', 'provisioned'] as const),
    tableReadCapacity: int('tableReadCapacity', 1, 40_000),
    tableWriteCapacity: int('tableWriteCapacity', 1, 40_000),
    tableMaxReadCapacity: int('tableMaxReadCapacity', 1, 40_000),
    tableMaxWriteCapacity: int('tableMaxWriteCapacity', 1, 40_000),
    tableTargetUtilisationPercent: int('tableTargetUtilisationPercent', 20, 90),
    flowTtlSeconds: int('flowTtlSeconds', 3600, 366 * 86_400),
    dueShardCount: int('dueShardCount', 1, 1000),
    flowLayout: oneOf('flowLayout', FLOW_LAYOUTS),
    flowBuckets: int('flowBuckets', 1, 1_000_000),
    activeTimeoutSeconds: int('activeTimeoutSeconds', 1, 86_400),
    inactiveTimeoutSeconds: int('inactiveTimeoutSeconds', 1, 86_400),
    commitIntervalSeconds: int('commitIntervalSeconds', 1, 55),
    tickerRunForSeconds: int('tickerRunForSeconds', 1, 44),
    indexSlackSeconds: int('indexSlackSeconds', 60, 86_400),
    indexMarginSeconds: int('indexMarginSeconds', 1, 3600),
    correlatorBatchSize: int('correlatorBatchSize', 1, 10_000),
    correlatorBatchingWindowSeconds: int('correlatorBatchingWindowSeconds', 0, 300),
    correlatorParallelizationFactor: int('correlatorParallelizationFactor', 1, 10),
    correlatorMaxRetryAttempts: int('correlatorMaxRetryAttempts', 0, 10_000),
    correlatorMaxRecordAgeSeconds: int('correlatorMaxRecordAgeSeconds', 60, 604_800),
    correlatorMemoryMb: int('correlatorMemoryMb', 128, 10_240),
    correlatorTimeoutSeconds: int('correlatorTimeoutSeconds', 3, 900),
    tickerMemoryMb: int('tickerMemoryMb', 128, 10_240),
    tickerCount: int('tickerCount', 1, 1000),
    exporterMemoryMb: int('exporterMemoryMb', 128, 10_240),
    exporterTimeoutSeconds: int('exporterTimeoutSeconds', 10, 900),
    clickHouseUrl: str('clickHouseUrl', /^(https?:\/\/\S+)?$/),
    clusterUuid: str('clusterUuid', /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/i),
    clickHouseDatabase: str('clickHouseDatabase', /^[A-Za-z_][A-Za-z0-9_]*$/),
    clickHouseUsername: str('clickHouseUsername', /^\S+$/),
    clickHouseSecretArn: optional('clickHouseSecretArn', SECRET_ARN),
    collectorTrust: oneOf('collectorTrust', ['account', 'irsa', 'pod-identity'] as const),
    collectorOidcProviderArn: optional(
      'collectorOidcProviderArn',
      /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/\S+$/,
    ),
    collectorEksClusterName: optional('collectorEksClusterName', /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/),
    collectorAccountTrustReason: optional('collectorAccountTrustReason', /^.{20,}$/),
    collectorNamespace: str('collectorNamespace', /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
    collectorServiceAccount: str('collectorServiceAccount', /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/),
    ipfixExportAddress: optional(
      'ipfixExportAddress',
      /^(tcp|tls|udp):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):\d{1,5}$/,
    ),
    ipfixExportFormat: oneOf('ipfixExportFormat', ['IPFIX', 'JSON'] as const),
    ipfixExportObservationDomainId: optionalInt('ipfixExportObservationDomainId', 0, 0xffff_ffff),
    ipfixExportTlsSecretArn: optional('ipfixExportTlsSecretArn', SECRET_ARN),
    ipfixExportTlsServerName: optional('ipfixExportTlsServerName', /^[A-Za-z0-9.-]{1,253}$/),
    ipfixExportTlsMinVersion: oneOf('ipfixExportTlsMinVersion', ['TLSv1.2', 'TLSv1.3'] as const),
    archiveEnabled: bool('archiveEnabled'),
    archivePrefix: str('archivePrefix', /^([A-Za-z0-9!_.*'()-]+\/)*$/),
    archiveFormat: oneOf('archiveFormat', ['parquet', 'csv'] as const),
    archiveGzip: bool('archiveGzip'),
    archiveInfrequentAccessDays: int('archiveInfrequentAccessDays', 30, 36_500),
    archiveExpirationDays: int('archiveExpirationDays', 0, 36_500),
    flowLogEnabled: bool('flowLogEnabled'),
    flowLogPrettyPrint: bool('flowLogPrettyPrint'),
    flowLogFilters: flowLogFiltersOf(raw('flowLogFilters')),
    flowLogRetentionDays: int('flowLogRetentionDays', 1, 3653),
    sinkMaxQueuedRows: int('sinkMaxQueuedRows', 1000, 10_000_000),
    alarmEmail: optional('alarmEmail', /^[^\s@]+@[^\s@]+$/),
    dashboard: bool('dashboard'),
    iteratorAgeAlarmSeconds: int('iteratorAgeAlarmSeconds', 1, 604_800),
    exportLagAlarmSeconds: int('exportLagAlarmSeconds', 1, 86_400),
    logRetentionDays: int('logRetentionDays', 1, 3653),
  };

  for (const key of ['logRetentionDays', 'flowLogRetentionDays'] as const) {
    if (!LOG_RETENTION_DAYS.includes(config[key])) {
      throw new ConfigError(`context ${key}=${config[key]}: one of ${LOG_RETENTION_DAYS.join(', ')}`);
    }
  }
  if (config.flowLogFilters !== undefined && !config.flowLogEnabled) {
    throw new ConfigError('context flowLogFilters needs flowLogEnabled=true');
  }
  if (config.inactiveTimeoutSeconds < config.activeTimeoutSeconds) {
    throw new ConfigError('context inactiveTimeoutSeconds must be >= activeTimeoutSeconds');
  }
  if (
    config.tableMaxReadCapacity < config.tableReadCapacity ||
    config.tableMaxWriteCapacity < config.tableWriteCapacity
  ) {
    throw new ConfigError(
      'context tableMaxReadCapacity / tableMaxWriteCapacity must be >= the minimum capacity',
    );
  }
  // A ticker without a due shard would advance nothing (functions/ticker/config.ts refuses it too).
  if (config.tickerCount > config.dueShardCount) {
    throw new ConfigError('context tickerCount must be <= dueShardCount');
  }
  if (config.commitIntervalSeconds > config.tickerRunForSeconds) {
    throw new ConfigError('context commitIntervalSeconds must be <= tickerRunForSeconds');
  }
  // A key closer than one batching window falls due before the correlator's next write can move it, and
  // the ticker then writes live flows: correct, but the write units the lazy key exists to save.
  if (config.indexMarginSeconds < config.correlatorBatchingWindowSeconds) {
    throw new ConfigError('context indexMarginSeconds must be >= correlatorBatchingWindowSeconds');
  }
  if (config.indexMarginSeconds >= config.indexSlackSeconds) {
    throw new ConfigError('context indexMarginSeconds must be below indexSlackSeconds');
  }
  // Records older than the retention are gone anyway; the gap between the two is the time left to replay a
  // batch named in the on-failure queue (the queue holds sequence ranges, not the records).
  if (config.correlatorMaxRecordAgeSeconds >= config.streamRetentionHours * 3600) {
    throw new ConfigError('context correlatorMaxRecordAgeSeconds must be below streamRetentionHours');
  }
  if (
    config.archiveExpirationDays !== 0 &&
    config.archiveExpirationDays <= config.archiveInfrequentAccessDays
  ) {
    throw new ConfigError(
      'context archiveExpirationDays must be 0 (never) or above archiveInfrequentAccessDays',
    );
  }
  const tlsExport = config.ipfixExportAddress?.startsWith('tls://') === true;
  if (!tlsExport && (config.ipfixExportTlsSecretArn || config.ipfixExportTlsServerName)) {
    throw new ConfigError(
      'context ipfixExportTlsSecretArn / ipfixExportTlsServerName need a tls:// ipfixExportAddress',
    );
  }
  if (config.collectorTrust === 'irsa' && !config.collectorOidcProviderArn) {
    throw new ConfigError('context collectorTrust=irsa needs collectorOidcProviderArn');
  }
  if (config.collectorTrust === 'account' && !config.collectorAccountTrustReason) {
    throw new ConfigError(
      'context collectorTrust=account lets any principal of the account assume the collector role: give ' +
        'collectorAccountTrustReason (why, 20+ characters; recorded against cdk-nag rule Flowline-IAM1), ' +
        'or use pod-identity (default) or irsa',
    );
  }
  return config;
}

/** The OIDC issuer host path of an IAM OIDC provider ARN (what IRSA condition keys are named after). */
export function oidcIssuerOf(providerArn: string): string {
  const marker = ':oidc-provider/';
  const at = providerArn.indexOf(marker);
  if (at < 0) throw new ConfigError(`not an OIDC provider ARN: ${providerArn}`);
  return providerArn.slice(at + marker.length);
}
