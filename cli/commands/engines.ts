// `flowline engines`: starts DynamoDB Local, kinesis-mock and ClickHouse (chDB) on loopback ports, prints
// their endpoints as environment variables, and stops them on Ctrl-C.
import { join } from 'node:path';
import type { Command } from 'commander';
import { ensureWritableDirectory } from '../directories.ts';
import { UsageError } from '../errors.ts';
import { assertBindable } from '../ports.ts';

interface EnginesCommandOptions {
  dynamodb: boolean;
  kinesis: boolean;
  clickhouse: boolean;
  dynamodbPort?: string;
  kinesisPort?: string;
  clickhousePort?: string;
  dataDir?: string;
  clickhouseUser?: string;
  clickhousePassword?: string;
  logs: boolean;
}

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535)
    throw new UsageError(`--${name}-port must be a port from 1 to 65535, got "${value}"`);
  return parsed;
}

export function register(program: Command): void {
  program
    .command('engines')
    .description('start the local engines (DynamoDB Local, kinesis-mock, ClickHouse via chDB) until Ctrl-C')
    .option('--no-dynamodb', 'do not start DynamoDB Local')
    .option('--no-kinesis', 'do not start kinesis-mock')
    .option('--no-clickhouse', 'do not start ClickHouse')
    .option('--dynamodb-port <port>', 'DynamoDB Local port (default: a free one)')
    .option('--kinesis-port <port>', 'kinesis-mock port (default: a free one)')
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port (default: a free one)')
    .option(
      '--data-dir <dir>',
      'keep data in <dir>/{dynamodb,kinesis,clickhouse} across restarts (default: in memory / temporary)',
    )
    .option('--clickhouse-user <user>', 'ClickHouse user the HTTP interface accepts')
    .option('--clickhouse-password <password>', 'its password')
    .option('--logs', 'copy the engines\u2019 own logs to stderr', false)
    .action(async (options: EnginesCommandOptions) => {
      const ports = {
        dynamodb: port(options.dynamodbPort, 'dynamodb'),
        kinesis: port(options.kinesisPort, 'kinesis'),
        clickhouse: port(options.clickhousePort, 'clickhouse'),
      };
      if (options.dataDir) ensureWritableDirectory(options.dataDir, '--data-dir');
      // Busy fixed ports fail now, in one line, before any engine starts.
      for (const [name, value] of Object.entries(ports)) {
        const wanted = options[name as keyof typeof ports];
        if (value !== undefined && wanted) {
          await assertBindable([{ protocol: 'tcp', host: '127.0.0.1', port: value }], `--${name}-port`);
        }
      }
      const { startupProgressOffThread } = await import('../../local/runner/progress.ts');
      const progress = startupProgressOffThread('starting the local engines');
      const { startLocalEngines } = await import('../../local/engines/index.ts');
      const dataDir = (name: string) => (options.dataDir ? join(options.dataDir, name) : undefined);
      const engines = await startLocalEngines({
        track: progress.track,
        dynamodb: options.dynamodb && {
          port: ports.dynamodb,
          dataDir: dataDir('dynamodb'),
          echoOutput: options.logs,
        },
        kinesis: options.kinesis && {
          port: ports.kinesis,
          dataDir: dataDir('kinesis'),
          echoOutput: options.logs,
        },
        clickhouse: options.clickhouse && {
          port: ports.clickhouse,
          dataDir: dataDir('clickhouse'),
          user: options.clickhouseUser,
          password: options.clickhousePassword,
          echoOutput: options.logs,
        },
      });
      progress.stop();
      for (const [name, ms] of Object.entries(engines.startupMs)) {
        process.stderr.write(`${name} ready in ${(ms / 1000).toFixed(1)} s\n`);
      }
      process.stdout.write('# Point Flowline (or any AWS SDK / ClickHouse client) at the engines:\n');
      for (const [name, value] of Object.entries(engines.env()))
        process.stdout.write(`export ${name}=${value}\n`);
      process.stderr.write('Press Ctrl-C to stop.\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stderr.write('stopping the engines\u2026\n');
      await engines.stop();
    });
}
