// `flowline clickhouse-check`: can the exporter reach ClickHouse, log in, and insert into `flows`?
import type { Command } from 'commander';
import { addConnectionOptions, type ConnectionOptions, connect } from './migrate.ts';

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('clickhouse-check')
      .description(
        'test the ClickHouse connection, credentials and schema (every column the exporter writes)',
      ),
  ).action(async (options: ConnectionOptions) => {
    const { executorFor } = await import('../../clickhouse/client.ts');
    const { checkFlowsSchema } = await import('../../clickhouse/schema-check.ts');
    const client = await connect(options);
    try {
      const ping = await client.ping();
      if (!ping.success) throw ping.error;
      const executor = executorFor(client);
      const [server] = await executor.queryRows<{ version: string; user: string }>(
        'SELECT version() AS version, currentUser() AS user',
      );
      console.log(`connected to ClickHouse ${server?.version} at ${options.url} as ${server?.user}`);
      const report = await checkFlowsSchema(executor, options.database, { requireViews: true });
      console.log(
        `schema ok: ${options.database}.flows has ${report.columns} columns, views ${report.views.join(', ')}`,
      );
    } finally {
      await client.close();
    }
  });
}
