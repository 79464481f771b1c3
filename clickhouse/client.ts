// The one way Flowline talks to ClickHouse: @clickhouse/client over HTTP(S) (ClickHouse Cloud, a
// self-hosted server, or the local chDB front), wrapped as a small executor so the migration runner, the
// schema check and the exporter's sink share it.
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from '@clickhouse/client';

export interface ClickHouseConfig {
  /** http(s)://host:port, e.g. https://abc.eu-west-1.aws.clickhouse.cloud:8443 */
  url: string;
  username: string;
  password: string;
  database: string;
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
  /**
   * gzip responses; on by default, as Antrea's `compress: true`. Request bodies are not compressed by the
   * client: the exporter's sink gzips each insert body itself (ClickHouseRowSink, in one pass).
   */
  compression?: boolean;
  /** No client log lines on stderr (the CLI reports failures itself, in one line). */
  quiet?: boolean;
}

export function createClickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  const url = new URL(config.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`ClickHouse URL must be http:// or https://, got ${url.protocol}//`);
  }
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search) {
    // As Antrea: credentials and database come from their own settings, never from the URL.
    throw new Error('ClickHouse URL must not contain credentials, a path or a query string');
  }
  const compression = config.compression ?? true;
  return createClient({
    url: url.origin,
    username: config.username,
    password: config.password,
    database: config.database,
    request_timeout: config.requestTimeoutMs ?? 30_000,
    compression: {
      request: false,
      response: compression,
    },
    application: 'flowline',
    ...(config.quiet ? { log: { level: ClickHouseLogLevel.OFF } } : {}),
  });
}

/** What the migration runner and the schema check need from ClickHouse. */
export interface ClickHouseExecutor {
  command(sql: string, settings?: ClickHouseSettings): Promise<void>;
  queryRows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
}

export function executorFor(client: ClickHouseClient): ClickHouseExecutor {
  return {
    async command(sql, settings) {
      await client.command({ query: sql, clickhouse_settings: settings });
    },
    async queryRows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
      const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return result.json<T>();
    },
  };
}
