// `flowline migrate`: applies the ClickHouse migrations (clickhouse/migrations) idempotently.
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

export interface ConnectionOptions {
  url: string;
  user: string;
  password?: string;
  database: string;
}

/** --url/--user/--password/--database, defaulting to the exporter's environment variables. */
export function addConnectionOptions(command: Command): Command {
  return command
    .option('--url <url>', 'ClickHouse HTTP(S) endpoint (env CLICKHOUSE_URL)', process.env.CLICKHOUSE_URL)
    .option(
      '--user <user>',
      'ClickHouse user (env CLICKHOUSE_USER)',
      process.env.CLICKHOUSE_USER ?? 'default',
    )
    .option(
      '--password <password>',
      'ClickHouse password (env CLICKHOUSE_PASSWORD)',
      process.env.CLICKHOUSE_PASSWORD,
    )
    .option(
      '--database <name>',
      'database (env CLICKHOUSE_DATABASE)',
      process.env.CLICKHOUSE_DATABASE ?? 'default',
    );
}

export async function connect(options: ConnectionOptions) {
  if (!options.url)
    throw new UsageError('--url (or CLICKHOUSE_URL) is required, e.g. --url http://127.0.0.1:8123');
  try {
    new URL(options.url);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, e.g. http://127.0.0.1:8123, got "${options.url}"`);
  }
  const { createClickHouseClient } = await import('../../clickhouse/client.ts');
  return createClickHouseClient({
    url: options.url,
    username: options.user,
    password: options.password ?? '',
    database: options.database,
    quiet: true,
  });
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('migrate')
      .description(
        'create or upgrade the ClickHouse schema (flows table, pod/node/policy views), idempotently',
      ),
  )
    .option('--ttl <interval>', 'retention of rows, e.g. "12 HOUR", "30 DAY"; re-run to change it', '12 HOUR')
    .action(async (options: ConnectionOptions & { ttl: string }) => {
      const { executorFor } = await import('../../clickhouse/client.ts');
      const { applyMigrations } = await import('../../clickhouse/migrations.ts');
      const client = await connect(options);
      try {
        const report = await applyMigrations(executorFor(client), { ttl: options.ttl });
        const name = (m: { version: number; name: string }) =>
          `${String(m.version).padStart(4, '0')}_${m.name}`;
        for (const m of report.alreadyApplied) console.log(`already applied ${name(m)}`);
        for (const m of report.applied) console.log(`applied ${name(m)}`);
        if (report.theia) {
          const { localTable, columnsAdded } = report.theia;
          console.log(
            `flows is Theia's (Distributed over ${localTable}): ` +
              (columnsAdded.length > 0 ? `added ${columnsAdded.join(', ')}` : 'nothing to add'),
          );
        }
        for (const m of report.providedByTheia) console.log(`provided by Theia's schema ${name(m)}`);
        if (report.retentionChanged.length > 0) {
          console.log(`retention set to ${options.ttl} on ${report.retentionChanged.join(', ')}`);
        }
        console.log(`schema of ${options.database} is up to date`);
      } finally {
        await client.close();
      }
    });
}
