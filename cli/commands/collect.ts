// `flowline collect`: the edge collector (collector-edge/main.ts) with its settings as flags.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { COLLECTOR_SETTINGS, ConfigError, loadCollectorConfig } from '../../collector-edge/config.ts';
import { UsageError } from '../errors.ts';
import { assertBindable } from '../ports.ts';

export function register(program: Command): void {
  const command = program
    .command('collect')
    .description(
      'run the edge collector: receive Antrea IPFIX over UDP/TCP/TLS, forward packed records to Kinesis ' +
        '(every flag also has an environment variable, shown in brackets; flags win)',
    );
  for (const setting of COLLECTOR_SETTINGS) {
    const fallback = setting.defaultValue === undefined ? '' : `, default ${setting.defaultValue}`;
    command.option(`--${setting.flag} <value>`, `${setting.description} [${setting.env}${fallback}]`);
  }
  command.action(async (flags: Record<string, string | undefined>) => {
    let config: ReturnType<typeof loadCollectorConfig>;
    try {
      config = loadCollectorConfig(process.env, flags, existsSync);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.problems.join('; '));
      throw error;
    }
    await assertBindable(config.listen, '--listen');
    await assertBindable(
      [{ protocol: 'tcp', host: config.httpHost, port: config.httpPort }],
      '--http-listen',
    );
    const { runCollectorProcess } = await import('../../collector-edge/main.ts');
    process.exitCode = await runCollectorProcess(process.env, flags);
  });
}
