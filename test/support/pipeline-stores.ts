// The correlator's and exporter's stores on the real engines, for integration tests: a fresh flow table in
// DynamoDB and a fresh ClickHouse database with Flowline's migrations, and one correlator batch into them.
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { ClickHouseClient } from '@clickhouse/client';
import { expect } from 'vitest';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { applyMigrations } from '../../clickhouse/migrations.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../core/wire.ts';
import { type CorrelatorSettings, correlateBatch } from '../../functions/correlator/correlate-batch.ts';
import { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import { createTableInput } from '../../functions/flow-store/index.ts';
import type { TestEngines } from './engines.ts';

export interface PipelineStores {
  table: string;
  queue: DynamoExportQueue;
  clickhouse: ClickHouseClient;
}

let created = 0;

/** Table `flows-<prefix>-<id>` and database `<prefix>_<id>`, unique per process and call. */
export async function newPipelineStores(
  engines: TestEngines,
  prefix: string,
  schedule: ScheduleConfig,
): Promise<PipelineStores> {
  const id = `${process.pid}_${++created}`;
  const table = `flows-${prefix}-${id}`;
  await engines.dynamodb.send(new CreateTableCommand(createTableInput(table)));
  await engines.clickhouse.command({ query: `CREATE DATABASE ${prefix}_${id}` });
  const clickhouse = createClickHouseClient({ ...engines.clickhouseConnection, database: `${prefix}_${id}` });
  await applyMigrations(executorFor(clickhouse));
  return { table, clickhouse, queue: new DynamoExportQueue(engines.dynamodb, table, schedule) };
}

/** One Kinesis record of `records` correlated at `nowMs`; none may be poison or fail. */
export async function correlateAt(
  queue: DynamoExportQueue,
  records: FlowRecord[],
  nowMs: number,
  settings: CorrelatorSettings,
): Promise<void> {
  const data = encodeWireBatch(records).toString('base64');
  const outcome = await correlateBatch(
    [{ kinesis: { data, sequenceNumber: String(nowMs) } }],
    { store: queue, now: () => nowMs },
    settings,
  );
  expect(outcome.poison).toEqual([]);
  expect(outcome.keyFailures).toEqual([]);
}
