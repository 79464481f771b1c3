// Proves each local engine is the real thing, through the same clients the project uses.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { describe, expect, test } from 'vitest';
import { createSecretsManagerClient, createSqsClient } from '../../adapters/aws-clients.ts';
import {
  JavaMissingError,
  PortInUseError,
  startClickHouse,
  startDynamoDb,
} from '../../local/engines/index.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines();

async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('DynamoDB Local', () => {
  const table = 'engines-test-flows';

  test('conditional writes are enforced and TTL is configured', async () => {
    const { dynamodb } = engines();
    await dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    expect(['ENABLED', 'ENABLING']).toContain(ttl.TimeToLiveDescription?.TimeToLiveStatus);

    const put = (packets: string) =>
      dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: '10.0.0.1|10.0.0.2|6|1234|80' }, packets: { N: packets } },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    await put('10');
    const failed = await put('20').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(ConditionalCheckFailedException);
    expect((failed as ConditionalCheckFailedException).Item?.packets).toEqual({ N: '10' });
  });

  test('one shared database whatever the credentials and region', async () => {
    if (engines().target !== 'local') return; // a LocalStack property, not ours to assert
    const other = new DynamoDBClient({
      region: 'eu-west-3',
      credentials: { accessKeyId: 'someoneelse', secretAccessKey: 'x' },
    });
    const tables = await other.send(new ListTablesCommand({}));
    other.destroy();
    expect(tables.TableNames).toContain(table);
  });
});

describe('kinesis-mock', () => {
  test('PutRecords lands each record on the shard its hash key selects; GetRecords reads them back', async () => {
    const { kinesis } = engines();
    const stream = 'engines-test-stream';
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    await pollUntil('stream ACTIVE', async () => {
      const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE' ? true : undefined;
    });
    const { Shards: shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    expect(shards).toHaveLength(2);

    const records = Array.from({ length: 200 }, (_, i) => ({
      PartitionKey: `10.0.${i % 256}.${i}|flow-${i}`,
      Data: Buffer.from(`record-${i}`),
    }));
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: records }));
    expect(put.FailedRecordCount).toBe(0);

    // Kinesis maps a partition key to the 128-bit integer MD5(key) and picks the shard whose range holds it.
    const expectedShard = (partitionKey: string) => {
      const hash = BigInt(`0x${createHash('md5').update(partitionKey).digest('hex')}`);
      return shards.find(
        (shard) =>
          BigInt(shard.HashKeyRange?.StartingHashKey ?? '-1') <= hash &&
          hash <= BigInt(shard.HashKeyRange?.EndingHashKey ?? '-1'),
      )?.ShardId;
    };
    put.Records?.forEach((result, i) => {
      expect(result.ShardId).toBe(expectedShard(records[i]!.PartitionKey));
    });

    const readBack = new Map<string, string>();
    for (const shard of shards) {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const { Records: got = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
      for (const record of got) {
        expect(expectedShard(record.PartitionKey ?? '')).toBe(shard.ShardId);
        readBack.set(record.PartitionKey ?? '', Buffer.from(record.Data ?? []).toString());
      }
    }
    expect(readBack.size).toBe(records.length);
    for (const record of records) expect(readBack.get(record.PartitionKey)).toBe(record.Data.toString());
    // Both shards were used, so the routing above was really exercised.
    expect(new Set(put.Records?.map((r) => r.ShardId)).size).toBe(2);
  });
});

describe('ClickHouse (chDB behind the HTTP interface)', () => {
  const rows = Array.from({ length: 100_000 }, (_, i) => ({
    timeInserted: 1_760_000_000 + (i % 3600),
    sourcePodNamespace: `ns-${i % 7}`,
    octetDeltaCount: (i * 37) % 1500,
  }));

  test('MergeTree with LowCardinality and TTL: 100k JSONEachRow rows in, aggregates out', async () => {
    const { clickhouse } = engines();
    await clickhouse.command({
      query: `CREATE TABLE flows_test (
        timeInserted DateTime,
        sourcePodNamespace LowCardinality(String),
        octetDeltaCount UInt64
      ) ENGINE = MergeTree ORDER BY (sourcePodNamespace, timeInserted)
      TTL timeInserted + INTERVAL 3650 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
    });
    const inserted = await clickhouse.insert({ table: 'flows_test', values: rows, format: 'JSONEachRow' });
    expect(inserted.summary?.written_rows).toBe(String(rows.length));

    const expected = new Map<string, { rows: number; octets: number }>();
    for (const row of rows) {
      const entry = expected.get(row.sourcePodNamespace) ?? { rows: 0, octets: 0 };
      entry.rows += 1;
      entry.octets += row.octetDeltaCount;
      expected.set(row.sourcePodNamespace, entry);
    }
    const result = await clickhouse.query({
      query: `SELECT sourcePodNamespace AS ns, count() AS rows, sum(octetDeltaCount) AS octets
              FROM flows_test GROUP BY ns ORDER BY ns`,
      format: 'JSONEachRow',
    });
    const got = await result.json<{ ns: string; rows: string; octets: string }>();
    expect(got.map((r) => [r.ns, Number(r.rows), Number(r.octets)])).toEqual(
      [...expected].sort(([a], [b]) => a.localeCompare(b)).map(([ns, e]) => [ns, e.rows, e.octets]),
    );

    const schema = await clickhouse.query({
      query: "SELECT type FROM system.columns WHERE table = 'flows_test' AND name = 'sourcePodNamespace'",
      format: 'JSONEachRow',
    });
    expect(await schema.json()).toEqual([{ type: 'LowCardinality(String)' }]);
    const ddl = await clickhouse.query({ query: 'SHOW CREATE TABLE flows_test', format: 'TabSeparatedRaw' });
    expect(await ddl.text()).toMatch(/TTL timeInserted \+ toIntervalDay\(3650\)/);
  });

  test('a repeated insert with the same insert_deduplication_token adds no rows', async () => {
    const { clickhouse } = engines();
    const count = async () => {
      const result = await clickhouse.query({
        query: 'SELECT count() AS n FROM flows_test',
        format: 'JSONEachRow',
      });
      return Number((await result.json<{ n: string }>())[0]?.n);
    };
    const before = await count();
    const batch = rows.slice(0, 500);
    const insert = (token: string) =>
      clickhouse.insert({
        table: 'flows_test',
        values: batch,
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token },
      });
    await insert('flow-key-A:export-7');
    expect(await count()).toBe(before + batch.length);
    await insert('flow-key-A:export-7');
    expect(await count()).toBe(before + batch.length);
    await insert('flow-key-A:export-8');
    expect(await count()).toBe(before + 2 * batch.length);
  });

  test('errors carry ClickHouse codes; wrong credentials are refused', async () => {
    const { clickhouse, clickhouseConnection } = engines();
    const syntax = await clickhouse.query({ query: 'SELEC 1' }).catch((error: unknown) => error);
    expect(syntax).toBeInstanceOf(ClickHouseError);
    expect((syntax as ClickHouseError).code).toBe('62');
    expect((syntax as ClickHouseError).type).toBe('SYNTAX_ERROR');
    const unknown = await clickhouse
      .query({ query: 'SELECT * FROM no_such_table' })
      .catch((error: unknown) => error);
    expect((unknown as ClickHouseError).code).toBe('60');

    const intruder = createClient({
      ...clickhouseConnection,
      password: `${clickhouseConnection.password}-wrong`,
      log: { level: ClickHouseLogLevel.OFF }, // the refusal is the expected outcome
    });
    const refused = await intruder.query({ query: 'SELECT 1' }).catch((error: unknown) => error);
    await intruder.close();
    expect((refused as ClickHouseError).code).toBe('516');
    expect((refused as ClickHouseError).type).toBe('AUTHENTICATION_FAILED');
  });

  test('query parameters are bound by the engine, not pasted into the SQL', async () => {
    const { clickhouse } = engines();
    const tricky = "x'); DROP TABLE flows_test; --\\ \t end";
    const result = await clickhouse.query({
      query: 'SELECT {s:String} AS s, {list:Array(String)} AS list, {n:UInt32} + 1 AS n',
      query_params: { s: tricky, list: ["it's", 'back\\slash'], n: 41 },
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ s: tricky, list: ["it's", 'back\\slash'], n: 42 }]);
    const typed = await clickhouse
      .query({ query: 'SELECT {n:UInt8}', query_params: { n: 'nope' } })
      .catch((e) => e);
    expect((typed as ClickHouseError).type).toBe('BAD_QUERY_PARAMETER');
  });

  test('settings, database and query_id travel as URL parameters and stay per request', async () => {
    const { clickhouse, clickhouseConnection } = engines();
    const setting = await clickhouse.query({
      query: "SELECT getSetting('max_threads') AS t",
      format: 'JSONEachRow',
      clickhouse_settings: { max_threads: 3 },
      query_id: 'engines-test-query-1',
    });
    expect(setting.query_id).toBe('engines-test-query-1');
    expect(setting.response_headers['x-clickhouse-query-id']).toBe('engines-test-query-1');
    expect(await setting.json()).toEqual([{ t: 3 }]);
    const unset = await clickhouse.query({
      query: "SELECT getSetting('max_threads') != 3 AS d",
      format: 'JSONEachRow',
    });
    expect(await unset.json()).toEqual([{ d: 1 }]);

    await clickhouse.command({ query: 'CREATE DATABASE IF NOT EXISTS flowline_other' });
    const inOther = createClient({ ...clickhouseConnection, database: 'flowline_other' });
    const db = await inOther.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' });
    await inOther.close();
    expect(await db.json()).toEqual([{ db: 'flowline_other' }]);
  });

  test('formats, compressed requests and responses', async () => {
    const { clickhouseConnection } = engines();
    const compressed = createClient({
      ...clickhouseConnection,
      compression: { request: true, response: true },
    });
    await compressed.command({
      query: 'CREATE TABLE fmt_test (a UInt32, b String) ENGINE = MergeTree ORDER BY a',
    });
    await compressed.insert({
      table: 'fmt_test',
      values: [
        { a: 1, b: 'x\ty' },
        { a: 2, b: 'z' },
      ],
      format: 'JSONEachRow',
    });
    await compressed.insert({ table: 'fmt_test', values: [[3, 'w']], format: 'JSONCompactEachRow' });
    const read = async (format: 'JSON' | 'TabSeparated' | 'CSV' | 'JSONCompactEachRow') =>
      (await compressed.query({ query: 'SELECT a, b FROM fmt_test ORDER BY a', format })).text();
    expect(JSON.parse(await read('JSON')).data).toEqual([
      { a: 1, b: 'x\ty' },
      { a: 2, b: 'z' },
      { a: 3, b: 'w' },
    ]);
    expect(await read('TabSeparated')).toBe('1\tx\\ty\n2\tz\n3\tw\n');
    expect(await read('CSV')).toBe('1,"x\ty"\n2,"z"\n3,"w"\n');
    const compact = (await read('JSONCompactEachRow')).trimEnd().split('\n');
    expect(compact.map((line) => JSON.parse(line))).toEqual([
      [1, 'x\ty'],
      [2, 'z'],
      [3, 'w'],
    ]);
    await compressed.close();
  });

  test('the engine keeps MergeTree parts Compact up to 256 MiB (local/engines/chdb-engine.xml)', async () => {
    const { clickhouse } = engines();
    await clickhouse.command({
      query: 'CREATE TABLE part_test (n UInt64, s String) ENGINE = MergeTree ORDER BY n',
    });
    // About 14 MiB uncompressed: a Wide part (two files per column) under ClickHouse's default 10 MiB.
    await clickhouse.command({
      query: "INSERT INTO part_test SELECT number, repeat('x', 60) FROM numbers(200000)",
    });
    const parts = await clickhouse.query({
      query: `SELECT part_type AS type, data_uncompressed_bytes AS bytes FROM system.parts
               WHERE database = currentDatabase() AND table = 'part_test' AND active`,
      format: 'JSONEachRow',
    });
    const rows = await parts.json<{ type: string; bytes: string }>();
    expect(rows.map((p) => p.type)).toEqual(['Compact']);
    expect(Number(rows[0]!.bytes)).toBeGreaterThan(10 * 1024 * 1024);
  });

  test('binary inserts: RowBinaryWithNamesAndTypes arrives byte for byte; a format without types is refused clearly', async () => {
    const { clickhouse, local } = engines();
    await clickhouse.command({
      query: 'CREATE TABLE bin_test (a UInt64, b String) ENGINE = MergeTree ORDER BY a',
    });
    // Values whose bytes include newlines and NULs, which a text-only path would cut or corrupt.
    const rows: Array<[bigint, string]> = [
      [0x0a0a0a0a0a0an, 'line\nbreak'],
      [10n, '\u0000nul'],
      [2n ** 64n - 1n, 'é'.repeat(100)],
    ];
    const columns = [
      ['a', 'UInt64'],
      ['b', 'String'],
    ];
    const text = (value: string) => {
      const bytes = Buffer.from(value, 'utf8');
      return Buffer.concat([
        Buffer.from([bytes.length < 0x80 ? bytes.length : (bytes.length & 0x7f) | 0x80]),
        ...(bytes.length < 0x80 ? [] : [Buffer.from([bytes.length >> 7])]),
        bytes,
      ]);
    };
    const body = Buffer.concat([
      Buffer.from([columns.length]),
      ...columns.map(([name]) => text(name!)),
      ...columns.map(([, type]) => text(type!)),
      ...rows.flatMap(([a, b]) => {
        const number = Buffer.alloc(8);
        number.writeBigUInt64LE(a);
        return [number, text(b)];
      }),
    ]);
    const insert = (format: string) =>
      clickhouse.exec({
        query: `INSERT INTO bin_test (a, b) FORMAT ${format}`,
        values: Readable.from([body]),
      });
    await (await insert('RowBinaryWithNamesAndTypes')).stream.resume();
    const read = await clickhouse.query({
      query: 'SELECT toString(a) AS a, b FROM bin_test ORDER BY a',
      format: 'JSONEachRow',
    });
    expect(await read.json()).toEqual(
      rows.map(([a, b]) => ({ a: a.toString(), b })).sort((x, y) => (x.a < y.a ? -1 : 1)),
    );
    if (local?.clickhouse) {
      // The local front cannot read binary data without its types; a server could (it knows the table).
      const refused = await insert('RowBinary').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ClickHouseError);
      expect((refused as Error).message).toMatch(
        /only in formats that carry their column types.*not RowBinary/,
      );
    }
  });

  test('concurrent requests are answered correctly', async () => {
    const { clickhouse } = engines();
    const slow = clickhouse.query({ query: 'SELECT sleep(0.3) AS s, 1 AS x', format: 'JSONEachRow' });
    const bound = Array.from({ length: 8 }, (_, i) =>
      clickhouse.query({ query: 'SELECT {i:UInt32} * 2 AS y', query_params: { i }, format: 'JSONEachRow' }),
    );
    const results = await Promise.all([slow, ...bound].map(async (r) => (await r).json()));
    expect(results[0]).toEqual([{ s: 0, x: 1 }]);
    expect(results.slice(1)).toEqual(bound.map((_, i) => [{ y: i * 2 }]));
  });

  test('an outage refuses connections; the restarted server keeps its port and data', async () => {
    const { clickhouse, local } = engines();
    if (!local?.clickhouse) return; // only the local engine can be stopped by the test
    await local.clickhouse.simulateOutage();
    expect((await clickhouse.ping()).success).toBe(false);
    await local.clickhouse.endOutage();
    const result = await clickhouse.query({
      query: 'SELECT count() AS n FROM fmt_test',
      format: 'JSONEachRow',
    });
    expect((await result.json<{ n: number | string }>()).map((r) => Number(r.n))).toEqual([3]);
  });
});

describe('harness', () => {
  test('a requested port that is taken gives a clear error', async () => {
    const holder = createTcpServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as { port: number }).port;
    const error = await startClickHouse({ port }).catch((e: unknown) => e);
    holder.close();
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toContain(`port ${port} is already in use`);
  });

  test('missing Java says what to install', async () => {
    const saved = process.env.JAVA_HOME;
    process.env.JAVA_HOME = '/nonexistent/java';
    const error = await startDynamoDb().catch((e: unknown) => e);
    if (saved === undefined) delete process.env.JAVA_HOME;
    else process.env.JAVA_HOME = saved;
    expect(error).toBeInstanceOf(JavaMissingError);
    expect((error as Error).message).toMatch(/apt-get install openjdk-17-jre-headless/);
  });

  test('engines do not outlive a parent killed with SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/engines-child.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { pids } = JSON.parse(line) as { pids: number[] };
    expect(pids).toHaveLength(2);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.every(alive)).toBe(true);
    child.kill('SIGKILL');
    await pollUntil('engines to exit', async () => (pids.some(alive) ? undefined : true), 15_000);
  });

  test('SQS and Secrets Manager clients take their endpoint from AWS_ENDPOINT_URL_<SERVICE>', async () => {
    const seen: string[] = [];
    const recorder = createServer((req: IncomingMessage, res) => {
      seen.push(String(req.headers['x-amz-target'] ?? `${req.method} ${req.url}`));
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"Recorded"}');
    }).listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    const endpoint = `http://127.0.0.1:${(recorder.address() as { port: number }).port}`;
    process.env.AWS_ENDPOINT_URL_SQS = endpoint;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = endpoint;
    const sqs = createSqsClient({ maxAttempts: 1 });
    const secrets = createSecretsManagerClient({ maxAttempts: 1 });
    await sqs.send(new ListQueuesCommand({})).catch(() => undefined);
    await secrets.send(new GetSecretValueCommand({ SecretId: 'clickhouse' })).catch(() => undefined);
    sqs.destroy();
    secrets.destroy();
    delete process.env.AWS_ENDPOINT_URL_SQS;
    delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    recorder.close();
    expect(seen).toEqual(['AmazonSQS.ListQueues', 'secretsmanager.GetSecretValue']);
  });
});

/** Local addresses of the listening TCP sockets on `port` (Linux /proc/net/tcp{,6}, hex little-endian). */
function listenAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A: LISTEN
      const [hex, portHex] = local.split(':') as [string, string];
      if (Number.parseInt(portHex, 16) !== port) continue;
      if (hex.length === 8)
        out.push(
          hex
            .match(/../g)!
            .reverse()
            .map((b) => Number.parseInt(b, 16))
            .join('.'),
        );
      else out.push(hex === '0'.repeat(32) ? '::' : hex === '00000000000000000000000001000000' ? '::1' : hex);
    }
  }
  return out;
}

describe.runIf(process.platform === 'linux')('every engine listens on loopback only', () => {
  test('DynamoDB Local, kinesis-mock and the ClickHouse front: 127.0.0.1, never a wildcard address', () => {
    const local = engines().local;
    if (!local) return; // LocalStack target: not our engines
    for (const [name, endpoint] of Object.entries(local.endpoints)) {
      const port = Number(new URL(endpoint!).port);
      const addresses = listenAddresses(port);
      expect(addresses.length, `${name} listens on ${port}`).toBeGreaterThan(0);
      for (const address of addresses)
        expect(['127.0.0.1', '0000000000000000FFFF00000100007F'], `${name}`).toContain(address);
    }
  });
});
