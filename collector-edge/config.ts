// Collector configuration: environment variables, overridden by command-line flags, validated in one pass so
// the operator sees every problem at once ("FLOWLINE_SPOOL_MAX_BYTES: must be a whole number >= 1048576").
import { LOG_LEVELS, type LogLevel } from './log.ts';

export type ListenProtocol = 'udp' | 'tcp' | 'tls';

export interface ListenSpec {
  protocol: ListenProtocol;
  host: string;
  port: number;
}

export type ClientAuth = 'none' | 'optional' | 'require';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle that client certificates must chain to; unset = no client-certificate verification. */
  caFile?: string;
  clientAuth: ClientAuth;
}

export interface CollectorConfig {
  streamName: string;
  region?: string;
  listen: ListenSpec[];
  tls?: TlsFiles;
  /** host:port of the /metrics, /healthz, /readyz server; port 0 picks a free one. */
  httpHost: string;
  httpPort: number;
  /** Target size of one Kinesis record (data + partition key). */
  batchTargetBytes: number;
  /** An open batch is sealed this long after its first record at the latest. */
  batchLingerMs: number;
  /** The flow store's bucket count (0: one item per flow): a bucket's flows share a Kinesis lane. */
  flowBuckets: number;
  /** Payload bytes held in memory for sending; the rest is read back from the spool. */
  memoryQueueBytes: number;
  spoolDir: string;
  /** Backpressure threshold: TCP/TLS readers pause and UDP datagrams are dropped above it. */
  spoolMaxBytes: number;
  spoolSegmentBytes: number;
  /** fdatasync interval of the spool; 0 = after every append. */
  spoolFsyncMs: number;
  spoolGroupCommitMs: number;
  putConcurrency: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  shardRefreshMs: number;
  drainTimeoutMs: number;
  udpReceiveBufferBytes: number;
  /** Templates one transport session may define before further templates are refused (template flood). */
  maxTemplatesPerSession: number;
  /** UDP sessions (exporter address + port) idle this long are forgotten, templates included. */
  udpSessionIdleMs: number;
  /** Templates kept across all sessions, and their estimated bytes (ipfix/template-store.ts). */
  maxTemplates: number;
  maxTemplateBytes: number;
  /** Template fields resolved and compiled per second (keeps compiling from holding the event loop). */
  templateCompileFieldsPerSecond: number;
  /** UDP sessions kept at once; a new one beyond it replaces the least recently seen. */
  maxUdpSessions: number;
  /** TCP/TLS connections open at once, in total and from one source address. */
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** A TCP/TLS connection that sends nothing this long is closed. */
  connectionIdleMs: number;
  /** A TCP/TLS connection whose incomplete message is older than this is closed (slow senders). */
  partialMessageMs: number;
  /** /readyz turns unready when nothing was delivered to Kinesis for this long while records wait. */
  deliveryStallMs: number;
  /** Plain (non-TLS) listeners on non-loopback addresses were asked for explicitly. */
  allowPlaintext: boolean;
  logLevel: LogLevel;
  /** Pod informer for Kubernetes metadata (collector-edge/k8s-metadata): on, or off outside a cluster. */
  k8sMetadata: boolean;
  /** kubeconfig file for the informer; unset = in-cluster ServiceAccount (or client-node's default). */
  kubeconfig?: string;
  /** Antrea's recordContents.podLabels: fill sourcePodLabels / destinationPodLabels. */
  podLabels: boolean;
}

/** One configurable setting: its flag, environment variable, default and parser. */
interface Setting {
  key: keyof CollectorConfig | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsDir' | 'clientAuth';
  flag: string;
  env: string;
  description: string;
  defaultValue?: string;
}

export const COLLECTOR_SETTINGS: Setting[] = [
  {
    key: 'streamName',
    flag: 'stream',
    env: 'FLOWLINE_STREAM_NAME',
    description: 'Kinesis stream name (required)',
  },
  { key: 'region', flag: 'region', env: 'AWS_REGION', description: 'AWS region of the stream' },
  {
    key: 'listen',
    flag: 'listen',
    env: 'FLOWLINE_LISTEN',
    description:
      'comma-separated listeners, proto://host:port with proto udp|tcp|tls (default: tls://0.0.0.0:4739 when ' +
      'certificates are given, else udp and tcp on 127.0.0.1:4739)',
  },
  {
    key: 'allowPlaintext',
    flag: 'allow-plaintext',
    env: 'FLOWLINE_ALLOW_PLAINTEXT',
    description:
      'true to allow plain udp:// and tcp:// listeners on non-loopback addresses (unauthenticated input)',
    defaultValue: 'false',
  },
  {
    key: 'tlsDir',
    flag: 'tls-dir',
    env: 'FLOWLINE_TLS_DIR',
    description: 'directory with tls.crt, tls.key and optional ca.crt (a mounted Kubernetes TLS Secret)',
  },
  { key: 'tlsCert', flag: 'tls-cert', env: 'FLOWLINE_TLS_CERT', description: 'server certificate (PEM)' },
  { key: 'tlsKey', flag: 'tls-key', env: 'FLOWLINE_TLS_KEY', description: 'server private key (PEM)' },
  {
    key: 'tlsCa',
    flag: 'tls-ca',
    env: 'FLOWLINE_TLS_CA',
    description: 'CA bundle for client certificates (PEM); enables client-certificate verification',
  },
  {
    key: 'clientAuth',
    flag: 'tls-client-auth',
    env: 'FLOWLINE_TLS_CLIENT_AUTH',
    description: 'none | optional | require (default: require when a CA is given, else none)',
  },
  {
    key: 'httpPort',
    flag: 'http-listen',
    env: 'FLOWLINE_HTTP_LISTEN',
    description: 'host:port for /metrics, /healthz, /readyz (set 0.0.0.0:9090 for in-cluster probes)',
    defaultValue: '127.0.0.1:9090',
  },
  {
    key: 'batchTargetBytes',
    flag: 'batch-target-bytes',
    env: 'FLOWLINE_BATCH_TARGET_BYTES',
    description: 'target Kinesis record size; 25000 fills one 25 KB PUT payload unit',
    defaultValue: '25000',
  },
  {
    key: 'batchLingerMs',
    flag: 'batch-linger-ms',
    env: 'FLOWLINE_BATCH_LINGER_MS',
    description: 'longest time a record waits for its Kinesis record to fill',
    defaultValue: '500',
  },
  {
    key: 'flowBuckets',
    flag: 'flow-buckets',
    env: 'FLOWLINE_FLOW_BUCKETS',
    description:
      "the flow store's bucket count (its FLOW_BUCKETS; 0 for one item per flow): a bucket's flows share a Kinesis lane",
    defaultValue: '0',
  },
  {
    key: 'memoryQueueBytes',
    flag: 'memory-queue-bytes',
    env: 'FLOWLINE_MEMORY_QUEUE_BYTES',
    description: 'payload bytes kept in memory; beyond it batches are read back from the spool',
    defaultValue: String(64 * 1024 * 1024),
  },
  {
    key: 'spoolDir',
    flag: 'spool-dir',
    env: 'FLOWLINE_SPOOL_DIR',
    description: 'directory of the disk spool',
    defaultValue: '.flowline/spool',
  },
  {
    key: 'spoolMaxBytes',
    flag: 'spool-max-bytes',
    env: 'FLOWLINE_SPOOL_MAX_BYTES',
    description: 'spool size at which TCP/TLS readers pause and UDP datagrams are dropped',
    defaultValue: String(1024 * 1024 * 1024),
  },
  {
    key: 'spoolSegmentBytes',
    flag: 'spool-segment-bytes',
    env: 'FLOWLINE_SPOOL_SEGMENT_BYTES',
    description: 'size at which a spool segment file is closed',
    defaultValue: String(16 * 1024 * 1024),
  },
  {
    key: 'spoolFsyncMs',
    flag: 'spool-fsync-ms',
    env: 'FLOWLINE_SPOOL_FSYNC_MS',
    description: 'fdatasync interval of the spool (0 = every append)',
    defaultValue: '1000',
  },
  {
    key: 'spoolGroupCommitMs',
    flag: 'spool-group-commit-ms',
    env: 'FLOWLINE_SPOOL_GROUP_COMMIT_MS',
    description:
      'how long the spool writer gathers batches and acknowledgements before one write (0 = at once)',
    defaultValue: '5',
  },
  {
    key: 'putConcurrency',
    flag: 'put-concurrency',
    env: 'FLOWLINE_PUT_CONCURRENCY',
    description: 'concurrent PutRecords requests',
    defaultValue: '4',
  },
  {
    key: 'backoffBaseMs',
    flag: 'backoff-base-ms',
    env: 'FLOWLINE_BACKOFF_BASE_MS',
    description: 'first retry delay cap (full jitter)',
    defaultValue: '100',
  },
  {
    key: 'backoffCapMs',
    flag: 'backoff-cap-ms',
    env: 'FLOWLINE_BACKOFF_CAP_MS',
    description: 'largest retry delay cap',
    defaultValue: '20000',
  },
  {
    key: 'shardRefreshMs',
    flag: 'shard-refresh-ms',
    env: 'FLOWLINE_SHARD_REFRESH_MS',
    description: 'ListShards refresh interval (also refreshed when Kinesis reports another shard)',
    defaultValue: '60000',
  },
  {
    key: 'drainTimeoutMs',
    flag: 'drain-timeout-ms',
    env: 'FLOWLINE_DRAIN_TIMEOUT_MS',
    description: 'on SIGTERM, how long to keep sending before leaving the rest in the spool',
    defaultValue: '20000',
  },
  {
    key: 'udpReceiveBufferBytes',
    flag: 'udp-rcvbuf-bytes',
    env: 'FLOWLINE_UDP_RCVBUF_BYTES',
    description: 'UDP socket receive buffer (the kernel caps it at net.core.rmem_max)',
    defaultValue: String(8 * 1024 * 1024),
  },
  {
    key: 'maxTemplatesPerSession',
    flag: 'max-templates-per-session',
    env: 'FLOWLINE_MAX_TEMPLATES_PER_SESSION',
    description: 'templates one exporter session may define (template flood guard)',
    defaultValue: '256',
  },
  {
    key: 'udpSessionIdleMs',
    flag: 'udp-session-idle-ms',
    env: 'FLOWLINE_UDP_SESSION_IDLE_MS',
    description: 'UDP exporter sessions idle this long are forgotten (go-ipfix template TTL: 1800 s)',
    defaultValue: '1800000',
  },
  {
    key: 'maxTemplates',
    flag: 'max-templates',
    env: 'FLOWLINE_MAX_TEMPLATES',
    description: 'templates kept across all exporter sessions (least recently used evicted beyond it)',
    defaultValue: '4096',
  },
  {
    key: 'maxTemplateBytes',
    flag: 'max-template-bytes',
    env: 'FLOWLINE_MAX_TEMPLATE_BYTES',
    description: 'estimated memory of the templates kept across all sessions (evicted beyond it)',
    defaultValue: String(32 * 1024 * 1024),
  },
  {
    key: 'templateCompileFieldsPerSecond',
    flag: 'template-compile-fields-per-second',
    env: 'FLOWLINE_TEMPLATE_COMPILE_FIELDS_PER_SECOND',
    description: 'template fields compiled per second; data of templates beyond it waits (up to 30 s)',
    defaultValue: '50000',
  },
  {
    key: 'maxUdpSessions',
    flag: 'max-udp-sessions',
    env: 'FLOWLINE_MAX_UDP_SESSIONS',
    description: 'UDP exporter sessions (address + port) kept; beyond it the least recently seen is closed',
    defaultValue: '4096',
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    env: 'FLOWLINE_MAX_CONNECTIONS',
    description: 'TCP/TLS connections open at once (further ones are refused)',
    defaultValue: '1024',
  },
  {
    key: 'maxConnectionsPerSource',
    flag: 'max-connections-per-source',
    env: 'FLOWLINE_MAX_CONNECTIONS_PER_SOURCE',
    description: 'TCP/TLS connections open at once from one source address (an Antrea agent uses 1)',
    defaultValue: '16',
  },
  {
    key: 'connectionIdleMs',
    flag: 'connection-idle-ms',
    env: 'FLOWLINE_CONNECTION_IDLE_MS',
    description: 'a TCP/TLS connection silent this long is closed (exporters reconnect)',
    defaultValue: '300000',
  },
  {
    key: 'partialMessageMs',
    flag: 'partial-message-ms',
    env: 'FLOWLINE_PARTIAL_MESSAGE_MS',
    description: 'a TCP/TLS connection whose incomplete IPFIX message is older than this is closed',
    defaultValue: '30000',
  },
  {
    key: 'deliveryStallMs',
    flag: 'delivery-stall-ms',
    env: 'FLOWLINE_DELIVERY_STALL_MS',
    description: '/readyz is unready when records have waited this long without any Kinesis delivery',
    defaultValue: '120000',
  },
  {
    key: 'k8sMetadata',
    flag: 'k8s-metadata',
    env: 'FLOWLINE_K8S_METADATA',
    description:
      'auto | on | off: watch Pods to fill deny flows\u2019 missing Pod/Node and Pod labels (auto: on in a cluster)',
    defaultValue: 'auto',
  },
  {
    key: 'podLabels',
    flag: 'pod-labels',
    env: 'FLOWLINE_POD_LABELS',
    description: 'true | false: fill the Pod label columns (Antrea recordContents.podLabels)',
    defaultValue: 'false',
  },
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
    description: 'kubeconfig for the Pod informer (default: the in-cluster ServiceAccount)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'FLOWLINE_LOG_LEVEL',
    description: LOG_LEVELS.join(' | '),
    defaultValue: 'info',
  },
];

const DEFAULT_TLS_LISTEN = 'tls://0.0.0.0:4739';
const DEFAULT_LOOPBACK_LISTEN = 'udp://127.0.0.1:4739,tcp://127.0.0.1:4739';

/** 127.0.0.0/8, ::1 and localhost: only this machine can reach a listener there. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid collector configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Flag values by flag name (commander's camelCase keys are accepted too). */
export type FlagValues = Record<string, string | undefined>;

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function parseListenSpec(text: string): ListenSpec {
  const match = /^(udp|tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not proto://host:port with proto udp, tcp or tls`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`"${text}": port ${port} is above 65535`);
  return { protocol: match[1] as ListenProtocol, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(text.trim());
  if (!match || Number(match[2]) > 65535) throw new Error(`"${text}" is not host:port`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

/**
 * Builds the configuration from the environment and flags (flags win). Throws ConfigError listing every
 * problem. `fileExists` is injectable so the TLS checks are testable without files.
 */
export function loadCollectorConfig(
  env: NodeJS.ProcessEnv,
  flags: FlagValues = {},
  fileExists: (path: string) => boolean = () => true,
): CollectorConfig {
  const problems: string[] = [];
  const raw = (setting: Setting): { value: string | undefined; source: string } => {
    const fromFlag = flags[setting.flag] ?? flags[camel(setting.flag)];
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${setting.flag}` };
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: setting.env };
    return { value: setting.defaultValue, source: `--${setting.flag} / ${setting.env}` };
  };
  const byKey = (key: Setting['key']) => COLLECTOR_SETTINGS.find((s) => s.key === key)!;
  const text = (key: Setting['key']) => raw(byKey(key));
  const integer = (key: Setting['key'], min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const { value, source } = text(key);
    const n = Number(value);
    if (value === undefined || !/^\d+$/.test(value.trim()) || n < min || n > max) {
      problems.push(
        `${source}: must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`}, got "${value}"`,
      );
      return min;
    }
    return n;
  };
  const boolean = (key: Setting['key']): boolean => {
    const { value, source } = text(key);
    if (value === undefined || value === 'false') return false;
    if (value === 'true') return true;
    problems.push(`${source}: must be true or false, got "${value}"`);
    return false;
  };

  const stream = text('streamName');
  if (!stream.value) problems.push(`${stream.source}: the Kinesis stream name is required`);
  else if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(stream.value))
    problems.push(
      `${stream.source}: "${stream.value}" is not a valid Kinesis stream name ([a-zA-Z0-9_.-]{1,128})`,
    );

  const listen: ListenSpec[] = [];
  const listenText = text('listen');
  const certificatesGiven = text('tlsDir').value !== undefined || text('tlsCert').value !== undefined;
  // Secure by default: TLS where certificates are given, otherwise plain listeners on loopback only.
  const listenValue = listenText.value ?? (certificatesGiven ? DEFAULT_TLS_LISTEN : DEFAULT_LOOPBACK_LISTEN);
  for (const part of listenValue.split(',').filter((p) => p.trim() !== '')) {
    try {
      listen.push(parseListenSpec(part));
    } catch (error) {
      problems.push(`${listenText.source}: ${(error as Error).message}`);
    }
  }
  if (listen.length === 0 && problems.every((p) => !p.startsWith(listenText.source)))
    problems.push(`${listenText.source}: at least one listener is required`);
  const seen = new Set<string>();
  for (const spec of listen) {
    const socketKind = spec.protocol === 'udp' ? 'udp' : 'tcp';
    const id = `${socketKind}:${spec.host}:${spec.port}`;
    if (spec.port !== 0 && seen.has(id))
      problems.push(`${listenText.source}: two listeners share ${socketKind} port ${spec.host}:${spec.port}`);
    seen.add(id);
  }
  const allowPlaintext = boolean('allowPlaintext');
  const exposed = listen.filter((spec) => spec.protocol !== 'tls' && !isLoopbackHost(spec.host));
  if (exposed.length > 0 && !allowPlaintext)
    problems.push(
      `${listenText.source}: ${exposed.map((l) => `${l.protocol}://${l.host}:${l.port}`).join(', ')} would accept ` +
        'unauthenticated IPFIX from the network: use tls:// with certificates, a loopback address, or ' +
        '--allow-plaintext true (FLOWLINE_ALLOW_PLAINTEXT) to accept it knowingly',
    );

  let tls: TlsFiles | undefined;
  if (listen.some((l) => l.protocol === 'tls')) {
    const dir = text('tlsDir').value;
    const cert = text('tlsCert').value ?? (dir ? `${dir}/tls.crt` : undefined);
    const key = text('tlsKey').value ?? (dir ? `${dir}/tls.key` : undefined);
    let ca = text('tlsCa').value;
    if (ca === undefined && dir && fileExists(`${dir}/ca.crt`)) ca = `${dir}/ca.crt`;
    if (!cert || !key)
      problems.push('a tls:// listener needs --tls-cert and --tls-key (FLOWLINE_TLS_CERT/KEY) or --tls-dir');
    for (const [label, path] of [
      ['certificate', cert],
      ['key', key],
      ['CA bundle', ca],
    ] as const) {
      if (path && !fileExists(path)) problems.push(`TLS ${label} file "${path}" does not exist`);
    }
    const authText = text('clientAuth');
    const clientAuth = (authText.value ?? (ca ? 'require' : 'none')) as ClientAuth;
    if (!ca && authText.value === undefined)
      problems.push(
        'a tls:// listener without --tls-ca (FLOWLINE_TLS_CA, or ca.crt in --tls-dir) would not authenticate ' +
          'exporters: give the CA that signed their client certificates, or --tls-client-auth none to accept any client',
      );
    else if (!['none', 'optional', 'require'].includes(clientAuth))
      problems.push(`${authText.source}: must be none, optional or require, got "${authText.value}"`);
    else if (clientAuth !== 'none' && !ca)
      problems.push(`${authText.source}: client-certificate verification "${clientAuth}" needs --tls-ca`);
    if (cert && key) tls = { certFile: cert, keyFile: key, clientAuth, ...(ca ? { caFile: ca } : {}) };
  }

  let http = { host: '127.0.0.1', port: 9090 };
  const httpText = text('httpPort');
  try {
    http = parseHostPort(httpText.value ?? '');
  } catch (error) {
    problems.push(`${httpText.source}: ${(error as Error).message}`);
  }

  const logText = text('logLevel');
  const logLevel = (logText.value ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`${logText.source}: must be one of ${LOG_LEVELS.join(', ')}, got "${logText.value}"`);

  const spoolDir = text('spoolDir').value ?? '';
  if (spoolDir === '') problems.push('--spool-dir / FLOWLINE_SPOOL_DIR: must not be empty');

  const k8s = k8sMetadataSettings(text('k8sMetadata'), text('podLabels'), env, problems);
  const kubeconfig = text('kubeconfig').value;

  const config: CollectorConfig = {
    streamName: stream.value ?? '',
    ...(text('region').value ? { region: text('region').value } : {}),
    listen,
    ...(tls ? { tls } : {}),
    httpHost: http.host,
    httpPort: http.port,
    // 1 MiB is the Kinesis per-record limit; below 1 KiB a batch holds too few records to be worth it.
    batchTargetBytes: integer('batchTargetBytes', 1024, 1024 * 1024),
    batchLingerMs: integer('batchLingerMs', 1, 60_000),
    flowBuckets: integer('flowBuckets', 0, 1_000_000),
    memoryQueueBytes: integer('memoryQueueBytes', 0),
    spoolDir,
    spoolMaxBytes: integer('spoolMaxBytes', 1024 * 1024),
    spoolSegmentBytes: integer('spoolSegmentBytes', 64 * 1024, 1024 * 1024 * 1024),
    spoolFsyncMs: integer('spoolFsyncMs', 0, 60_000),
    spoolGroupCommitMs: integer('spoolGroupCommitMs', 0, 1000),
    putConcurrency: integer('putConcurrency', 1, 64),
    backoffBaseMs: integer('backoffBaseMs', 1, 60_000),
    backoffCapMs: integer('backoffCapMs', 1, 600_000),
    shardRefreshMs: integer('shardRefreshMs', 1000),
    drainTimeoutMs: integer('drainTimeoutMs', 0, 600_000),
    udpReceiveBufferBytes: integer('udpReceiveBufferBytes', 65_536),
    maxTemplatesPerSession: integer('maxTemplatesPerSession', 1, 65_535),
    udpSessionIdleMs: integer('udpSessionIdleMs', 1000),
    maxTemplates: integer('maxTemplates', 16),
    maxTemplateBytes: integer('maxTemplateBytes', 64 * 1024),
    templateCompileFieldsPerSecond: integer('templateCompileFieldsPerSecond', 1000),
    maxUdpSessions: integer('maxUdpSessions', 1),
    maxConnections: integer('maxConnections', 1),
    maxConnectionsPerSource: integer('maxConnectionsPerSource', 1),
    connectionIdleMs: integer('connectionIdleMs', 1000),
    partialMessageMs: integer('partialMessageMs', 100),
    deliveryStallMs: integer('deliveryStallMs', 1000),
    allowPlaintext,
    logLevel,
    ...k8s,
    ...(k8s.k8sMetadata && kubeconfig ? { kubeconfig } : {}),
  };
  if (config.backoffCapMs < config.backoffBaseMs)
    problems.push('FLOWLINE_BACKOFF_CAP_MS must be at least FLOWLINE_BACKOFF_BASE_MS');
  if (config.maxConnectionsPerSource > config.maxConnections)
    problems.push('FLOWLINE_MAX_CONNECTIONS_PER_SOURCE must not exceed FLOWLINE_MAX_CONNECTIONS');
  if (config.spoolSegmentBytes > config.spoolMaxBytes)
    problems.push('FLOWLINE_SPOOL_SEGMENT_BYTES must not exceed FLOWLINE_SPOOL_MAX_BYTES');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** auto = on where the in-cluster configuration exists (KUBERNETES_SERVICE_HOST), so local runs stay off. */
function k8sMetadataSettings(
  mode: { value: string | undefined; source: string },
  labels: { value: string | undefined; source: string },
  env: NodeJS.ProcessEnv,
  problems: string[],
): { k8sMetadata: boolean; podLabels: boolean } {
  const modeValue = (mode.value ?? 'auto').toLowerCase();
  if (!['auto', 'on', 'off'].includes(modeValue))
    problems.push(`${mode.source}: must be auto, on or off, got "${mode.value}"`);
  const k8sMetadata = modeValue === 'on' || (modeValue === 'auto' && Boolean(env.KUBERNETES_SERVICE_HOST));
  const labelsValue = (labels.value ?? 'false').toLowerCase();
  if (!['true', 'false'].includes(labelsValue))
    problems.push(`${labels.source}: must be true or false, got "${labels.value}"`);
  const podLabels = labelsValue === 'true';
  if (podLabels && !k8sMetadata)
    problems.push(
      `${labels.source}: Pod labels come from the Pod informer, which is off (--k8s-metadata ${modeValue}); ` +
        'run in the cluster or pass --k8s-metadata on with a --kubeconfig',
    );
  return { k8sMetadata, podLabels };
}
