// The local engines harness: DynamoDB Local, kinesis-mock and ClickHouse (chDB) on free loopback ports.
// One module for tests (test/support), `npm start`, `flowline engines` and the benchmarks.
import { type ClickHouseOptions, type RunningClickHouse, startClickHouse } from './clickhouse.ts';
import { type DynamoDbOptions, startDynamoDb } from './dynamodb.ts';
import { type KinesisOptions, startKinesis } from './kinesis.ts';
import type { RunningEngine } from './process.ts';

export { type ClickHouseOptions, type RunningClickHouse, startClickHouse } from './clickhouse.ts';
export { type DynamoDbOptions, startDynamoDb } from './dynamodb.ts';
export { JavaMissingError } from './java.ts';
export { type KinesisOptions, startKinesis } from './kinesis.ts';
export { PortInUseError } from './ports.ts';
export { EngineStartError, type RunningEngine } from './process.ts';

export interface LocalEnginesOptions {
  /** Each engine starts unless set to false; an object passes options to it. */
  dynamodb?: boolean | DynamoDbOptions;
  kinesis?: boolean | KinesisOptions;
  clickhouse?: boolean | ClickHouseOptions;
  /** Region the AWS clients are told to use (engines accept any). */
  region?: string;
  /** Wraps each engine's start (local mode names the engines still starting in its progress lines). */
  track?: <T>(name: string, start: Promise<T>) => Promise<T>;
}

export interface LocalEngines {
  readonly endpoints: { dynamodb?: string; kinesis?: string; clickhouse?: string };
  readonly dynamodb?: RunningEngine;
  readonly kinesis?: RunningEngine;
  readonly clickhouse?: RunningClickHouse;
  /** Spawn-to-ready wall time of each engine started, in ms. */
  readonly startupMs: Record<string, number>;
  /**
   * Variables that point the project's code at these engines: the AWS SDK's own per-service endpoint
   * variables (no global AWS_ENDPOINT_URL, so a service without an engine fails instead of reaching AWS),
   * dummy credentials, and CLICKHOUSE_URL/USER/PASSWORD.
   */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

function optionsOf<T extends object>(value: boolean | T | undefined): T | undefined {
  if (value === false) return undefined;
  return value === true || value === undefined ? ({} as T) : value;
}

export async function startLocalEngines(options: LocalEnginesOptions = {}): Promise<LocalEngines> {
  const dynamoOptions = optionsOf(options.dynamodb);
  const kinesisOptions = optionsOf(options.kinesis);
  const clickhouseOptions = optionsOf(options.clickhouse);
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  // Started together: the JVM dominates, the others finish within its start-up.
  const track = options.track ?? (<T>(_name: string, start: Promise<T>) => start);
  const results = await Promise.allSettled([
    dynamoOptions ? track('DynamoDB Local', startDynamoDb(dynamoOptions)) : undefined,
    kinesisOptions ? track('kinesis-mock', startKinesis({ region, ...kinesisOptions })) : undefined,
    clickhouseOptions ? track('ClickHouse (chDB)', startClickHouse(clickhouseOptions)) : undefined,
  ]);
  const [dynamoResult, kinesisResult, clickhouseResult] = results;
  const started = results.flatMap((result) =>
    result.status === 'fulfilled' && result.value ? [result.value] : [],
  );
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(started.map((engine) => engine.stop()));
    throw failure.reason;
  }
  const dynamodb = dynamoResult.status === 'fulfilled' ? dynamoResult.value : undefined;
  const kinesis = kinesisResult.status === 'fulfilled' ? kinesisResult.value : undefined;
  const clickhouse = clickhouseResult.status === 'fulfilled' ? clickhouseResult.value : undefined;

  return {
    endpoints: { dynamodb: dynamodb?.endpoint, kinesis: kinesis?.endpoint, clickhouse: clickhouse?.endpoint },
    dynamodb,
    kinesis,
    clickhouse,
    startupMs: Object.fromEntries(started.map((engine) => [engine.name, engine.startupMs])),
    env() {
      const env: Record<string, string> = {
        AWS_REGION: region,
        // Letters and digits only: DynamoDB Local rejects other access key characters.
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      };
      if (dynamodb) {
        env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
        // DynamoDB Local also serves the DynamoDB Streams API (local/esm/dynamodb-stream-reader.ts).
        env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS = dynamodb.endpoint;
      }
      if (kinesis) env.AWS_ENDPOINT_URL_KINESIS = kinesis.endpoint;
      if (clickhouse) {
        env.CLICKHOUSE_URL = clickhouse.endpoint;
        env.CLICKHOUSE_USER = clickhouse.user;
        env.CLICKHOUSE_PASSWORD = clickhouse.password;
      }
      return env;
    },
    async stop() {
      await Promise.all(started.map((engine) => engine.stop()));
    },
  };
}
