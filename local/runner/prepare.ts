// Brings a set of endpoints (local engines, LocalStack) to what the template describes: the stream, the table
// with its stream, the ClickHouse schema (the migrations `flowline migrate` applies), and the functions'
// environment.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { applyMigrations, type MigrationReport } from '../../clickhouse/migrations.ts';
import { ensureStream, ensureTable } from './provision.ts';
import { type LocalTopology, mergedFunctionEnvironment } from './template.ts';

export interface ClickHouseConnection {
  url: string;
  username: string;
  password: string;
  database: string;
}

export interface PrepareOptions {
  topology: LocalTopology;
  kinesis: KinesisClient;
  dynamodb: DynamoDBClient;
  clickhouse: ClickHouseConnection;
  clusterUUID: string;
  enableTtl: boolean;
}

export interface PreparedStack {
  topology: LocalTopology;
  /** The ingest stream (Kinesis). */
  streamArn: string;
  /** The flow table's stream, which the exporter's mapping reads. */
  tableStreamArn: string;
  /** The functions' environment (already applied to process.env). */
  functionEnv: Record<string, string>;
  migrations: MigrationReport;
}

/** The topology with other resource names (tests give every run its own stream and table). */
export function renameResources(topology: LocalTopology, suffix: string): LocalTopology {
  return {
    ...topology,
    stream: { ...topology.stream, name: `${topology.stream.name}-${suffix}` },
    table: { ...topology.table, name: `${topology.table.name}-${suffix}` },
  };
}

export async function prepareLocalStack(options: PrepareOptions): Promise<PreparedStack> {
  const { topology, clickhouse } = options;
  const admin = createClickHouseClient({ ...clickhouse, database: 'default' });
  const schemaClient = createClickHouseClient(clickhouse);
  try {
    if (clickhouse.database !== 'default') {
      await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${clickhouse.database}` });
    }
    const [streamArn, tableStreamArn, migrations] = await Promise.all([
      ensureStream(options.kinesis, topology.stream),
      ensureTable(options.dynamodb, topology.table, { enableTtl: options.enableTtl }),
      applyMigrations(executorFor(schemaClient)),
    ]);
    if (!tableStreamArn) {
      throw new Error(`table ${topology.table.name} has no stream: the template's flow table must have one`);
    }
    const functionEnv = mergedFunctionEnvironment(topology, {
      clickhouseUrl: clickhouse.url,
      clickhouseUser: clickhouse.username,
      clickhousePassword: clickhouse.password,
      clusterUUID: options.clusterUUID,
    });
    functionEnv.CLICKHOUSE_DATABASE = clickhouse.database;
    Object.assign(process.env, functionEnv);
    return { topology, streamArn, tableStreamArn, functionEnv, migrations };
  } finally {
    await Promise.all([admin.close(), schemaClient.close()]);
  }
}
