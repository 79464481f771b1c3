// The extra sinks' settings, from the exporter's environment (docs/sinks.md). Each sink is off unless its
// address is set: IPFIX_EXPORT_ADDRESS for the IPFIX/JSON export, ARCHIVE_BUCKET for the S3 archive,
// FLOW_LOG_GROUP (or local mode's FLOW_LOG_FILE) for the flow log.
import { EnvConfigError, positiveIntFromEnv } from '../flow-store/config.ts';
import { parseFlowLogFilters } from '../shared/flow-log-filters.ts';
import { checkClientPair, type IpfixTlsConfig, pemOf, type TlsMinVersion } from './collector-tls.ts';
import type { FlowLogFormat } from './flow-log.ts';
import { type CollectorTransport, EXPORTER_DEFAULTS, type RecordFormat } from './ipfix-exporter.ts';
import type { ArchiveFormat } from './s3-archive.ts';

type Env = Record<string, string | undefined>;

export interface IpfixExportConfig {
  transport: CollectorTransport;
  host: string;
  port: number;
  format: RecordFormat;
  /** Unset: FNV-1 of the cluster UUID, as Antrea. */
  observationDomainId: number | undefined;
  /** Unset: the cluster UUID, as Antrea's clusterID default. */
  clusterId: string | undefined;
  maxMessageBytes: number;
  templateRefreshMs: number;
  /** Set exactly when the transport is tls. */
  tls: IpfixTlsConfig | undefined;
}

export interface ArchiveConfig {
  bucket: string;
  prefix: string;
  /** parquet (default) or csv: Antrea's S3 uploader's lines and object names (antrea-csv.ts). */
  format: ArchiveFormat;
  /** csv only: gzip each object (Antrea's s3Uploader.compress, default true). */
  gzip: boolean;
}

/** The flow log: Antrea's flow logger lines, to a CloudWatch Logs group (deployed) or a file (local mode). */
export type FlowLogConfig = FlowLogFormat & ({ logGroup: string } | { file: string });

export interface SinksConfig {
  ipfix: IpfixExportConfig | undefined;
  archive: ArchiveConfig | undefined;
  flowLog: FlowLogConfig | undefined;
  /** Rows waiting for one sink in the durable outbox; its oldest batches are dropped (counted) beyond it. */
  maxQueuedRows: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** At the end of an invocation, how long the exporter waits for the sinks to take the whole outbox. */
  drainMs: number;
}

/** tcp://host:port, tls://host:port or udp://host:port ([v6]:port for IPv6). */
export function parseCollectorAddress(text: string): {
  transport: CollectorTransport;
  host: string;
  port: number;
} {
  const match = /^(tcp|tls|udp):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new EnvConfigError(
      `IPFIX_EXPORT_ADDRESS=${text}: expected tcp://host:port, tls://host:port or udp://host:port`,
    );
  }
  return { transport: match[1] as CollectorTransport, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

function ipfixFromEnv(env: Env): IpfixExportConfig | undefined {
  const address = env.IPFIX_EXPORT_ADDRESS?.trim();
  if (!address) return undefined;
  const { transport, host, port } = parseCollectorAddress(address);
  const format = (env.IPFIX_EXPORT_FORMAT?.trim() || EXPORTER_DEFAULTS.format).toUpperCase();
  if (format !== 'IPFIX' && format !== 'JSON') {
    throw new EnvConfigError(`IPFIX_EXPORT_FORMAT=${env.IPFIX_EXPORT_FORMAT}: expected IPFIX or JSON`);
  }
  const domain = env.IPFIX_EXPORT_OBSERVATION_DOMAIN_ID?.trim();
  if (domain && !(/^\d+$/.test(domain) && Number(domain) <= 0xffffffff)) {
    throw new EnvConfigError(`IPFIX_EXPORT_OBSERVATION_DOMAIN_ID=${domain}: expected 0 to 4294967295`);
  }
  const defaultSize =
    transport === 'udp' ? EXPORTER_DEFAULTS.udpMaxMessageBytes : EXPORTER_DEFAULTS.tcpMaxMessageBytes;
  const maxMessageBytes = positiveIntFromEnv(env, 'IPFIX_EXPORT_MAX_MESSAGE_BYTES', defaultSize);
  if (maxMessageBytes < 512 || maxMessageBytes > 65535) {
    throw new EnvConfigError(
      `IPFIX_EXPORT_MAX_MESSAGE_BYTES=${maxMessageBytes}: expected 512 to 65535 (go-ipfix's bounds)`,
    );
  }
  return {
    transport,
    host,
    port,
    format,
    observationDomainId: domain ? Number(domain) : undefined,
    clusterId: env.IPFIX_EXPORT_CLUSTER_ID?.trim() || undefined,
    maxMessageBytes,
    templateRefreshMs:
      positiveIntFromEnv(
        env,
        'IPFIX_EXPORT_TEMPLATE_REFRESH_SECONDS',
        EXPORTER_DEFAULTS.templateRefreshMs / 1000,
      ) * 1000,
    tls: tlsFromEnv(env, transport),
  };
}

const TLS_VARIABLES = {
  ca: 'IPFIX_EXPORT_TLS_CA',
  cert: 'IPFIX_EXPORT_TLS_CERT',
  key: 'IPFIX_EXPORT_TLS_KEY',
} as const;

/** Antrea's flowCollector.tls.minVersion spellings (VersionTLS12, VersionTLS13) and Node's. */
const MIN_VERSIONS: Record<string, TlsMinVersion> = {
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/**
 * IPFIX_EXPORT_TLS_CA, _CERT, _KEY (PEM text), _SECRET_ID (Secrets Manager: "ca.crt", "tls.crt",
 * "tls.key"), _SERVER_NAME and _MIN_VERSION (collector-tls.ts). Refused with a transport other than tls,
 * where they would be ignored.
 */
function tlsFromEnv(env: Env, transport: CollectorTransport): IpfixTlsConfig | undefined {
  const value = (name: string) => env[name]?.trim() || undefined;
  const given = Object.keys(env).filter((name) => name.startsWith('IPFIX_EXPORT_TLS_') && value(name));
  if (transport !== 'tls') {
    if (given.length > 0) {
      throw new EnvConfigError(`${given.join(', ')}: only with a tls:// IPFIX_EXPORT_ADDRESS`);
    }
    return undefined;
  }
  const minVersionText = value('IPFIX_EXPORT_TLS_MIN_VERSION') ?? 'TLSv1.2';
  const minVersion = MIN_VERSIONS[minVersionText];
  if (!minVersion) {
    throw new EnvConfigError(
      `IPFIX_EXPORT_TLS_MIN_VERSION=${minVersionText}: expected ${Object.keys(MIN_VERSIONS).join(', ')}`,
    );
  }
  const config: IpfixTlsConfig = {
    secretId: value('IPFIX_EXPORT_TLS_SECRET_ID'),
    serverName: value('IPFIX_EXPORT_TLS_SERVER_NAME'),
    minVersion,
  };
  try {
    for (const [field, name] of Object.entries(TLS_VARIABLES)) {
      const pem = value(name);
      if (pem) config[field as keyof typeof TLS_VARIABLES] = pemOf(name, pem);
    }
    // The secret may hold the other half of the pair; then it is checked when the secret is read.
    if (!config.secretId) checkClientPair(config, 'IPFIX_EXPORT_TLS_CERT and IPFIX_EXPORT_TLS_KEY');
  } catch (error) {
    throw new EnvConfigError((error as Error).message);
  }
  return config;
}

/** ARCHIVE_FORMAT (parquet, csv) and ARCHIVE_GZIP (true, false; csv only). */
function archiveFormatFromEnv(env: Env): Pick<ArchiveConfig, 'format' | 'gzip'> {
  const format = env.ARCHIVE_FORMAT?.trim().toLowerCase() || 'parquet';
  if (format !== 'parquet' && format !== 'csv') {
    throw new EnvConfigError(`ARCHIVE_FORMAT=${env.ARCHIVE_FORMAT}: expected parquet or csv`);
  }
  const gzip = env.ARCHIVE_GZIP?.trim().toLowerCase() || 'true';
  if (gzip !== 'true' && gzip !== 'false') {
    throw new EnvConfigError(`ARCHIVE_GZIP=${env.ARCHIVE_GZIP}: expected true or false`);
  }
  return { format, gzip: gzip === 'true' };
}

/** FLOW_LOG_GROUP or FLOW_LOG_FILE, FLOW_LOG_PRETTY_PRINT (true, false) and FLOW_LOG_FILTERS (JSON). */
function flowLogFromEnv(env: Env): FlowLogConfig | undefined {
  const logGroup = env.FLOW_LOG_GROUP?.trim();
  const file = env.FLOW_LOG_FILE?.trim();
  if (logGroup && file) throw new EnvConfigError('FLOW_LOG_GROUP and FLOW_LOG_FILE: set one of them');
  if (!logGroup && !file) return undefined;
  const prettyPrint = env.FLOW_LOG_PRETTY_PRINT?.trim().toLowerCase() || 'true';
  if (prettyPrint !== 'true' && prettyPrint !== 'false') {
    throw new EnvConfigError(`FLOW_LOG_PRETTY_PRINT=${env.FLOW_LOG_PRETTY_PRINT}: expected true or false`);
  }
  let filters: FlowLogFormat['filters'] = [];
  const filtersText = env.FLOW_LOG_FILTERS?.trim();
  if (filtersText) {
    try {
      filters = parseFlowLogFilters(filtersText);
    } catch (error) {
      throw new EnvConfigError(`FLOW_LOG_FILTERS: ${(error as Error).message}`);
    }
  }
  const format = { prettyPrint: prettyPrint === 'true', filters };
  return logGroup ? { ...format, logGroup } : { ...format, file: file! };
}

export function sinksConfigFromEnv(env: Env = process.env): SinksConfig {
  const bucket = env.ARCHIVE_BUCKET?.trim();
  const prefix = env.ARCHIVE_PREFIX?.trim() ?? 'flows/';
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw new EnvConfigError(`ARCHIVE_PREFIX=${prefix}: must be empty or end with "/"`);
  }
  return {
    ipfix: ipfixFromEnv(env),
    archive: bucket ? { bucket, prefix, ...archiveFormatFromEnv(env) } : undefined,
    flowLog: flowLogFromEnv(env),
    maxQueuedRows: positiveIntFromEnv(env, 'SINK_MAX_QUEUED_ROWS', 100_000),
    backoffBaseMs: positiveIntFromEnv(env, 'SINK_BACKOFF_BASE_MS', 200),
    backoffCapMs: positiveIntFromEnv(env, 'SINK_BACKOFF_CAP_MS', 10_000),
    drainMs: positiveIntFromEnv(env, 'SINK_DRAIN_SECONDS', 5) * 1000,
  };
}
