// Migration files and their parameters, the exporter's ClickHouse settings, secret format and insert
// settings, and its connection on the first insert.
import { describe, expect, it } from 'vitest';
import { createClickHouseClient } from '../../../clickhouse/client.ts';
import { ANTREA_INSERT_COLUMNS, DEFAULTED_COLUMNS, FLOWLINE_COLUMNS } from '../../../clickhouse/columns.ts';
import {
  loadMigrations,
  parseRetention,
  renderMigration,
  splitStatements,
} from '../../../clickhouse/migrations.ts';
import { loadDashboardQueries } from '../../../clickhouse/queries.ts';
import { ClickHouseRowSink, insertSettings } from '../../../functions/exporter/clickhouse-sink.ts';
import { clickHouseTargetFromEnv } from '../../../functions/exporter/clickhouse-target.ts';
import { connectOnFirstInsert } from '../../../functions/exporter/connect.ts';
import { parseClickHouseSecret } from '../../../functions/exporter/credentials.ts';
import type { FlowRow } from '../../../functions/exporter/rows.ts';

describe('migrations', () => {
  it('flows declares timeInserted, Antrea 51 columns (trusted between clusterUUID and egressName), then Flowline', () => {
    const [first] = loadMigrations();
    const create = splitStatements(renderMigration(first!.sql, parseRetention('12 HOUR')))[0]!;
    const body = create.slice(create.indexOf('(') + 1, create.lastIndexOf(') ENGINE'));
    const names = body
      .split('\n')
      .map((line) => /^\s*(\w+)\s+\w/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
    const antrea = [...ANTREA_INSERT_COLUMNS];
    const expected = [
      'timeInserted',
      ...antrea.slice(0, antrea.indexOf('clusterUUID') + 1),
      'trusted',
      ...antrea.slice(antrea.indexOf('clusterUUID') + 1),
      ...FLOWLINE_COLUMNS,
    ];
    expect(names).toEqual(expected);
    expect(DEFAULTED_COLUMNS).toEqual(['timeInserted', 'trusted']);
  });

  it('TTL parameter: validated, rendered, normalised as ClickHouse prints it', () => {
    expect(parseRetention('12 HOUR')).toEqual({
      interval: '12 HOUR',
      seconds: 43_200,
      normalized: 'toIntervalHour(12)',
      mergeWithTtlTimeout: 14_400,
    });
    expect(parseRetention('30 days').normalized).toBe('toIntervalDay(30)');
    expect(parseRetention('1 HOUR').mergeWithTtlTimeout).toBe(3600);
    expect(() => parseRetention('1 HOUR; DROP TABLE flows')).toThrow(/invalid TTL/);
    expect(() => parseRetention('0 DAY')).toThrow(/invalid TTL/);
    expect(() => renderMigration('{{nope}}', parseRetention('1 DAY'))).toThrow(
      /unknown migration placeholder/,
    );
    for (const m of loadMigrations())
      expect(renderMigration(m.sql, parseRetention('2 DAY'))).not.toContain('{{');
  });

  it('versions are increasing and every dashboard has its queries', () => {
    const versions = loadMigrations().map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    const dashboards = new Set(loadDashboardQueries().map((q) => q.dashboard));
    expect([...dashboards].sort()).toEqual([
      'flow-records',
      'network-policy',
      'node-to-node',
      'pod-to-external',
      'pod-to-pod',
      'pod-to-service',
    ]);
  });
});

describe('exporter ClickHouse settings', () => {
  const base = {
    CLICKHOUSE_URL: 'https://example.clickhouse.cloud:8443',
    CLUSTER_UUID: '4f2c1b0e-8a4d-4d8e-9f6a-2b1c3d4e5f60',
    CLICKHOUSE_SECRET_ID: 'flowline/clickhouse',
  };
  it('defaults: database default, credentials from the secret', () => {
    const config = clickHouseTargetFromEnv(base);
    expect(config.clickhouse.database).toBe('default');
    expect(config.clickhouse.password).toBeUndefined();
  });
  it('rejects a missing URL, a non-UUID cluster id, no credentials source', () => {
    expect(() => clickHouseTargetFromEnv({ ...base, CLICKHOUSE_URL: '' })).toThrow(/CLICKHOUSE_URL/);
    expect(() => clickHouseTargetFromEnv({ ...base, CLUSTER_UUID: 'my-cluster' })).toThrow(/CLUSTER_UUID/);
    expect(() => clickHouseTargetFromEnv({ ...base, CLICKHOUSE_SECRET_ID: '' })).toThrow(
      /CLICKHOUSE_PASSWORD/,
    );
  });
  it('compression: auto compresses unless ClickHouse is on a loopback address; true/false force it', () => {
    const compression = (url: string, setting?: string) =>
      clickHouseTargetFromEnv({ ...base, CLICKHOUSE_URL: url, CLICKHOUSE_COMPRESSION: setting }).clickhouse
        .compression;
    expect(compression('https://example.clickhouse.cloud:8443')).toBe(true);
    expect(compression('http://10.0.0.7:8123', 'auto')).toBe(true);
    for (const local of [
      'http://127.0.0.1:8123',
      'http://127.8.0.1:8123',
      'http://localhost:8123',
      'http://[::1]:8123',
    ])
      expect(compression(local)).toBe(false);
    expect(compression('http://127.0.0.1:8123', 'true')).toBe(true);
    expect(compression('https://example.clickhouse.cloud:8443', ' FALSE ')).toBe(false);
    expect(() => compression('https://example.clickhouse.cloud:8443', 'gzip')).toThrow(
      /CLICKHOUSE_COMPRESSION=gzip: expected true, false or auto/,
    );
    expect(() => compression('not a url')).toThrow(/CLICKHOUSE_URL=not a url: not a URL/);
  });
  it('secret: JSON with password (and username) or the bare password', () => {
    expect(parseClickHouseSecret('{"username":"writer","password":"p"}', 'default')).toEqual({
      username: 'writer',
      password: 'p',
    });
    expect(parseClickHouseSecret('{"password":"p"}', 'u')).toEqual({ username: 'u', password: 'p' });
    expect(parseClickHouseSecret('s3cret', 'u')).toEqual({ username: 'u', password: 's3cret' });
    expect(() => parseClickHouseSecret('{"user":"x"}', 'u')).toThrow(/password/);
  });
  it('insert settings: synchronous, deduplicated by the token down to the views, no summing pass', () => {
    expect(insertSettings('tok')).toEqual({
      async_insert: 0,
      insert_deduplicate: 1,
      insert_deduplication_token: 'tok',
      deduplicate_blocks_in_dependent_materialized_views: 1,
      optimize_on_insert: 0,
    });
    expect(insertSettings('tok', { insertQuorum: '2' })).toMatchObject({ insert_quorum: '2' });
  });
  it('insert gzip level: 1-9 or false only', () => {
    const client = createClickHouseClient({
      url: 'http://127.0.0.1:8123',
      username: 'u',
      password: 'p',
      database: 'd',
    });
    for (const gzipLevel of [0, 10, 1.5]) {
      expect(() => new ClickHouseRowSink(client, { gzipLevel })).toThrow(/level must be/);
    }
    for (const gzipLevel of [9, false, undefined] as const)
      expect(() => new ClickHouseRowSink(client, { gzipLevel })).not.toThrow();
  });
});

describe('connectOnFirstInsert', () => {
  const row = {} as FlowRow;
  it('connects on the first insert with rows, once, and again after a failed attempt', async () => {
    const attempts: string[] = [];
    const inserted: string[] = [];
    let closed = 0;
    const connection = connectOnFirstInsert(async () => {
      attempts.push('connect');
      if (attempts.length === 1) throw new Error('ClickHouse unreachable');
      return {
        sink: {
          insert: async (_rows, token) => {
            inserted.push(token);
            return [];
          },
        },
        close: async () => {
          closed += 1;
        },
      };
    });
    expect(await connection.sink.insert([], 'empty')).toEqual([]);
    expect(attempts).toEqual([]); // nothing to write: ClickHouse is not reached
    await expect(connection.sink.insert([row], 'a')).rejects.toThrow('ClickHouse unreachable');
    await connection.sink.insert([row], 'b');
    await connection.sink.insert([row], 'c');
    expect(attempts).toEqual(['connect', 'connect']);
    expect(inserted).toEqual(['b', 'c']);
    await connection.close();
    expect(closed).toBe(1);
  });
});
