// The flusher's settings, from its environment (documented in README "Configuration").

import type { FlusherPartition } from '../../core/flow-state/ports.ts';
import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { EnvConfigError, positiveIntFromEnv, scheduleConfigFromEnv } from '../flow-store/config.ts';
import { DEFAULT_TABLE_NAME } from '../flow-store/schema.ts';

type Env = Record<string, string | undefined>;

/** Where and how rows reach ClickHouse (the exporter's, and the flusher's before it). */
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

export interface FlusherConfig extends ClickHouseTarget {
  tableName: string;
  schedule: ScheduleConfig;
  /** FLUSHER_INDEX of FLUSHER_COUNT (default 0 of 1): the due shards and manifest slots it owns. */
  partition: FlusherPartition;
  commitIntervalMs: number;
  runForMs: number;
  maxBackoffMs: number;
  maxRowsPerInsert: number;
  maxInsertsPerRound: number;
  /** Inserts of one round in flight at once (one is encoded while another is written). */
  insertConcurrency: number;
  writeConcurrency: number;
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

/** FLUSHER_COUNT flushers (at most one per due shard), this one FLUSHER_INDEX (0-based). */
export function partitionFromEnv(env: Env, dueShardCount: number): FlusherPartition {
  const count = positiveIntFromEnv(env, 'FLUSHER_COUNT', 1);
  const raw = env.FLUSHER_INDEX?.trim() || '0';
  const index = Number(raw);
  if (count > dueShardCount) {
    throw new EnvConfigError(`FLUSHER_COUNT=${count}: at most DUE_SHARD_COUNT (${dueShardCount}) flushers`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new EnvConfigError(
      `FLUSHER_INDEX=${raw}: expected an integer from 0 to FLUSHER_COUNT - 1 (${count - 1})`,
    );
  }
  return { index, count };
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

export function flusherConfigFromEnv(env: Env = process.env): FlusherConfig {
  const commitSeconds = positiveIntFromEnv(env, 'COMMIT_INTERVAL_SECONDS', 8);
  const schedule = scheduleConfigFromEnv(env);
  return {
    ...clickHouseTargetFromEnv(env),
    tableName: env.TABLE_NAME?.trim() || DEFAULT_TABLE_NAME,
    schedule,
    partition: partitionFromEnv(env, schedule.dueShardCount),
    commitIntervalMs: commitSeconds * 1000,
    runForMs: positiveIntFromEnv(env, 'RUN_FOR_SECONDS', 55) * 1000,
    maxBackoffMs: positiveIntFromEnv(env, 'MAX_BACKOFF_SECONDS', 60) * 1000,
    maxRowsPerInsert: positiveIntFromEnv(env, 'MAX_ROWS_PER_INSERT', 50_000),
    maxInsertsPerRound: positiveIntFromEnv(env, 'MAX_INSERTS_PER_ROUND', 4),
    insertConcurrency: positiveIntFromEnv(env, 'INSERT_CONCURRENCY', 2),
    writeConcurrency: positiveIntFromEnv(env, 'WRITE_CONCURRENCY', 8),
  };
}
