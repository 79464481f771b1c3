// The exporter's ClickHouse sink, connected on its first insert (handler.ts and local mode's event-time
// wiring both use it). Connecting costs a Secrets Manager read and a schema query on ClickHouse; done at
// every cold start, the query would wake an idle ClickHouse Cloud service a few times a day although the
// exporter has nothing to write. So a container that never inserts never reaches ClickHouse.
import type { Logger } from '@aws-lambda-powertools/logger';
import { createClickHouseClient, executorFor } from '../../clickhouse/client.ts';
import { checkFlowsSchema } from '../../clickhouse/schema-check.ts';
import { ClickHouseRowSink, type RowSink } from './clickhouse-sink.ts';
import type { ClickHouseTarget } from './clickhouse-target.ts';
import { clickHouseCredentials } from './credentials.ts';

export interface ClickHouseConnection {
  sink: RowSink;
  close(): Promise<void>;
}

/**
 * Credentials, client, and the schema check (one clear error naming a missing column, instead of an
 * insert failing on it), then the sink.
 */
export async function connectClickHouse(
  config: ClickHouseTarget,
  logger: Logger,
): Promise<ClickHouseConnection> {
  const credentials = await clickHouseCredentials(config);
  const client = createClickHouseClient({ ...config.clickhouse, ...credentials });
  try {
    const schema = await checkFlowsSchema(executorFor(client), config.clickhouse.database);
    logger.info('ClickHouse schema ok', { ...schema });
  } catch (error) {
    await client.close();
    throw error;
  }
  const sink = new ClickHouseRowSink(client, {
    insertQuorum: config.clickhouse.insertQuorum,
    gzipLevel: config.clickhouse.compression ? undefined : false,
  });
  return { sink, close: () => client.close() };
}

/**
 * A connection made by the first insert that has rows, shared by the later ones; a failed attempt (the
 * insert fails, counted as an insert failure) is made again by the next insert.
 */
export function connectOnFirstInsert(connect: () => Promise<ClickHouseConnection>): ClickHouseConnection {
  let connecting: Promise<ClickHouseConnection> | undefined;
  const connection = () => {
    connecting ??= connect().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };
  return {
    sink: {
      async insert(rows, dedupToken) {
        if (rows.length === 0) return [];
        return (await connection()).sink.insert(rows, dedupToken);
      },
    },
    async close() {
      const opened = connecting;
      connecting = undefined;
      if (opened) await (await opened.catch(() => undefined))?.close();
    },
  };
}
