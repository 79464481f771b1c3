// Where and how the exporter reaches ClickHouse, from its environment (README "Configuration").

import { EnvConfigError, positiveIntFromEnv } from '../flow-store/config.ts';

type Env = Record<string, string | undefined>;

/** Where and how rows reach ClickHouse. */
export interface ClickHouseTarget {
  clusterUUID: string;
  clickhouse: {
    url: string;
    database: string;
    /** Used when the secret carries no username. */
    username: string;
    /** Secrets Manager secret (name or ARN): JSON {"password", optional "username"} or the bare password. */
    secretId: string | undefined;
    /** Only without secretId (local mode, tests). */
    password: string | undefined;
    requestTimeoutMs: number;
    compression: boolean;
    insertQuorum: string | undefined;
  };
  /** How long fetched credentials are reused by a warm container. */
  secretMaxAgeSeconds: number;
}

/**
 * CLICKHOUSE_COMPRESSION: true, false or auto (the default). Compression pays where bytes cost, over the
 * internet to ClickHouse Cloud (data transfer, NAT); to a ClickHouse on this host it only costs CPU on
 * both ends, so auto compresses unless the URL's host is a loopback address.
 */
export function compressionFor(setting: string | undefined, url: string): boolean {
  const value = (setting ?? 'auto').trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value !== 'auto') {
    throw new EnvConfigError(`CLICKHOUSE_COMPRESSION=${setting}: expected true, false or auto`);
  }
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new EnvConfigError(`CLICKHOUSE_URL=${url}: not a URL`);
  }
  return !(host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * CLUSTER_UUID, CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_SECRET_ID (or, locally,
 * CLICKHOUSE_PASSWORD), CLICKHOUSE_REQUEST_TIMEOUT_MS, CLICKHOUSE_COMPRESSION, CLICKHOUSE_INSERT_QUORUM,
 * CLICKHOUSE_SECRET_MAX_AGE_SECONDS.
 */
export function clickHouseTargetFromEnv(env: Env = process.env): ClickHouseTarget {
  const url = env.CLICKHOUSE_URL?.trim();
  if (!url) throw new EnvConfigError('CLICKHOUSE_URL is required (https://<host>:8443 for ClickHouse Cloud)');
  const clusterUUID = env.CLUSTER_UUID?.trim() ?? '';
  if (!UUID.test(clusterUUID)) {
    throw new EnvConfigError(
      `CLUSTER_UUID=${clusterUUID}: expected the cluster's UUID (Antrea writes it in every row)`,
    );
  }
  const secretId = env.CLICKHOUSE_SECRET_ID?.trim() || undefined;
  const password = env.CLICKHOUSE_PASSWORD;
  if (!secretId && password === undefined) {
    throw new EnvConfigError('set CLICKHOUSE_SECRET_ID (Secrets Manager) or, locally, CLICKHOUSE_PASSWORD');
  }
  return {
    clusterUUID,
    clickhouse: {
      url,
      database: env.CLICKHOUSE_DATABASE?.trim() || 'default',
      username: env.CLICKHOUSE_USER?.trim() || 'default',
      secretId,
      password: secretId ? undefined : password,
      requestTimeoutMs: positiveIntFromEnv(env, 'CLICKHOUSE_REQUEST_TIMEOUT_MS', 30_000),
      compression: compressionFor(env.CLICKHOUSE_COMPRESSION, url),
      insertQuorum: env.CLICKHOUSE_INSERT_QUORUM?.trim() || undefined,
    },
    secretMaxAgeSeconds: positiveIntFromEnv(env, 'CLICKHOUSE_SECRET_MAX_AGE_SECONDS', 300),
  };
}
