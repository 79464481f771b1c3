// Local mode's extra sinks (docs/sinks.md): the exporter environment the CDK app sets when a sink is opted
// in by context, and for the archive a real S3 implementation on loopback (s3rver, npm) with the bucket,
// its files under the work folder. `flowline local --ipfix-export URL [--ipfix-export-format JSON]
// [--ipfix-export-tls-ca FILE --ipfix-export-tls-cert FILE --ipfix-export-tls-key FILE]
// [--archive [--archive-format csv]] [--flow-log FILE [--flow-log-filters JSON]]`.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import S3rver from 's3rver';
import S3rverAccount from 's3rver/lib/models/account.js';
import { sinksConfigFromEnv } from '../../functions/sinks/config.ts';

export const LOCAL_ARCHIVE_BUCKET = 'flowline-archive';

export interface LocalSinkOptions {
  /** tcp://, tls:// or udp://host:port of an external IPFIX collector. */
  ipfixExport?: string;
  ipfixExportFormat?: 'IPFIX' | 'JSON';
  /** PEM files and server name for a tls:// export (Antrea's flowCollector.tls). */
  ipfixExportTls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  /** Start a local S3 and archive every exported row there (Parquet, or Antrea's CSV). */
  archive?: boolean;
  archiveFormat?: 'parquet' | 'csv';
  /** Loopback port of the local S3 (0: any free port). */
  archivePort?: number;
  /** Append Antrea flow logger lines of every exported row to this file (deployed: a CloudWatch Logs group). */
  flowLogFile?: string;
  /** flowLogger.filters as JSON. */
  flowLogFilters?: string;
}

export interface LocalSinks {
  /** Variables for the exporter (process.env, before its bundle is loaded). */
  env: Record<string, string>;
  /** Lines for the startup banner. */
  banner: string[];
  stop(): Promise<void>;
}

/** The exporter's TLS variables from PEM files (the variables hold PEM text, as a Secret's keys would). */
function tlsEnvOf(tls: NonNullable<LocalSinkOptions['ipfixExportTls']>): Record<string, string> {
  const env: Record<string, string> = {};
  const files = [
    ['IPFIX_EXPORT_TLS_CA', '--ipfix-export-tls-ca', tls.caFile],
    ['IPFIX_EXPORT_TLS_CERT', '--ipfix-export-tls-cert', tls.certFile],
    ['IPFIX_EXPORT_TLS_KEY', '--ipfix-export-tls-key', tls.keyFile],
  ] as const;
  for (const [name, flag, file] of files) {
    if (file === undefined) continue;
    try {
      env[name] = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (tls.serverName) env.IPFIX_EXPORT_TLS_SERVER_NAME = tls.serverName;
  return env;
}

export async function startLocalSinks(options: LocalSinkOptions, workDir: string): Promise<LocalSinks> {
  const env: Record<string, string> = {};
  const banner: string[] = [];
  if (options.ipfixExport) {
    env.IPFIX_EXPORT_ADDRESS = options.ipfixExport;
    env.IPFIX_EXPORT_FORMAT = options.ipfixExportFormat ?? 'IPFIX';
    Object.assign(env, tlsEnvOf(options.ipfixExportTls ?? {}));
    sinksConfigFromEnv(env); // one clear error before anything starts
    banner.push(`  IPFIX export      ${env.IPFIX_EXPORT_FORMAT} to ${options.ipfixExport} (at least once)`);
  }
  let server: S3rver | undefined;
  if (options.archive) {
    const directory = join(workDir, 's3');
    mkdirSync(directory, { recursive: true });
    server = new S3rver({
      address: '127.0.0.1',
      port: options.archivePort ?? 0,
      silent: true,
      directory,
      configureBuckets: [{ name: LOCAL_ARCHIVE_BUCKET }],
    });
    // s3rver checks request signatures against its own key pairs (S3RVER/S3RVER): add local mode's
    // credentials (AWS_ACCESS_KEY_ID, the same for every local engine) so the exporter's requests pass.
    const { AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: secret } = process.env;
    if (keyId && secret) S3rverAccount.DUMMY_ACCOUNT.createKeyPair(keyId, secret);
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    Object.assign(env, {
      ARCHIVE_BUCKET: LOCAL_ARCHIVE_BUCKET,
      ARCHIVE_PREFIX: 'flows/',
      ARCHIVE_FORMAT: options.archiveFormat ?? 'parquet',
      AWS_ENDPOINT_URL_S3: endpoint,
    });
    banner.push(
      `  S3 archive        ${endpoint}/${LOCAL_ARCHIVE_BUCKET}/flows/ (${env.ARCHIVE_FORMAT}; s3rver, files under ${directory})`,
    );
  }
  if (options.flowLogFile) {
    env.FLOW_LOG_FILE = resolve(options.flowLogFile);
    if (options.flowLogFilters) env.FLOW_LOG_FILTERS = options.flowLogFilters;
    sinksConfigFromEnv(env); // one clear error before anything starts
    const filtered = options.flowLogFilters ? `, filters ${options.flowLogFilters}` : '';
    banner.push(`  flow log          ${env.FLOW_LOG_FILE} (Antrea's flow logger lines${filtered})`);
  }
  return { env, banner, stop: async () => server?.close() };
}
