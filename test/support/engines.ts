// The fixture every integration test uses. Call it at the top of a test file:
//
//   const engines = useEngines();                      // or useEngines({ kinesis: false }) etc.
//   test('…', async () => { await engines().dynamodb.send(…) });
//
// By default it starts the local engines for the file (beforeAll) and stops them (afterAll). With
// FLOWLINE_TEST_TARGET=localstack it starts no DynamoDB/Kinesis and uses the AWS endpoints already in the
// environment (AWS_ENDPOINT_URL…); ClickHouse then comes from CLICKHOUSE_URL/USER/PASSWORD if set.
// Either way the AWS endpoints reach the code under test only through the SDK's standard variables.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { afterAll, beforeAll } from 'vitest';
import { createDynamoDbClient, createKinesisClient } from '../../adapters/aws-clients.ts';
import { type ClickHouseOptions, type LocalEngines, startLocalEngines } from '../../local/engines/index.ts';

export interface TestEngines {
  target: 'local' | 'localstack';
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  clickhouse: ClickHouseClient;
  clickhouseConnection: { url: string; username: string; password: string };
  /** The local engine handles (e.g. clickhouse.simulateOutage()); undefined against LocalStack. */
  local?: LocalEngines;
}

export interface UseEnginesOptions {
  dynamodb?: boolean;
  kinesis?: boolean;
  /** An object starts the local ClickHouse with these options (e.g. a request log). */
  clickhouse?: boolean | ClickHouseOptions;
}

export function useEngines(options: UseEnginesOptions = {}): () => TestEngines {
  const wanted = { dynamodb: true, kinesis: true, clickhouse: true, ...options };
  const target = process.env.FLOWLINE_TEST_TARGET === 'localstack' ? 'localstack' : 'local';
  let engines: TestEngines | undefined;
  let local: LocalEngines | undefined;
  let clients: { dynamodb?: DynamoDBClient; kinesis?: KinesisClient; clickhouse?: ClickHouseClient } = {};

  beforeAll(async () => {
    if (target === 'localstack' && (wanted.dynamodb || wanted.kinesis) && !process.env.AWS_ENDPOINT_URL) {
      throw new Error(
        'FLOWLINE_TEST_TARGET=localstack needs AWS_ENDPOINT_URL, e.g. http://localhost.localstack.cloud:4566',
      );
    }
    const clickhouseFromEnv = target === 'localstack' && process.env.CLICKHOUSE_URL !== undefined;
    const startHere = {
      dynamodb: target === 'local' && wanted.dynamodb,
      kinesis: target === 'local' && wanted.kinesis,
      clickhouse: wanted.clickhouse !== false && !clickhouseFromEnv,
    };
    if (startHere.dynamodb || startHere.kinesis || startHere.clickhouse) {
      local = await startLocalEngines({
        ...startHere,
        clickhouse:
          startHere.clickhouse && (typeof wanted.clickhouse === 'object' ? wanted.clickhouse : true),
      });
      // Against LocalStack only the ClickHouse variables are ours; its AWS credentials and region stay.
      const env = Object.entries(local.env()).filter(
        ([name]) => target === 'local' || name.startsWith('CLICKHOUSE_'),
      );
      Object.assign(process.env, Object.fromEntries(env));
    }
    const clickhouseConnection = {
      url: process.env.CLICKHOUSE_URL ?? '',
      username: process.env.CLICKHOUSE_USER ?? 'default',
      password: process.env.CLICKHOUSE_PASSWORD ?? '',
    };
    const dynamodb = wanted.dynamodb ? createDynamoDbClient() : undefined;
    const kinesis = wanted.kinesis ? createKinesisClient() : undefined;
    const clickhouse = wanted.clickhouse ? createClient(clickhouseConnection) : undefined;
    clients = { dynamodb, kinesis, clickhouse };
    engines = {
      target,
      get dynamodb() {
        return required('dynamodb', dynamodb);
      },
      get kinesis() {
        return required('kinesis', kinesis);
      },
      get clickhouse() {
        return required('clickhouse', clickhouse);
      },
      clickhouseConnection,
      local,
    };
  });

  afterAll(async () => {
    clients.dynamodb?.destroy();
    clients.kinesis?.destroy();
    await clients.clickhouse?.close();
    await local?.stop();
  });

  return () => {
    if (!engines)
      throw new Error('useEngines(): the engines start in beforeAll; use them inside tests or hooks');
    return engines;
  };
}

function required<T>(name: string, client: T | undefined): T {
  if (!client) throw new Error(`useEngines(): ${name} was not requested for this test file`);
  return client;
}
