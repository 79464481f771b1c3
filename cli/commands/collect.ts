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
    // In generated-certificate mode (FLOWLINE_TLS_CERTIFICATES=generate, as the Helm chart runs it) the
    // collector writes its TLS files at start-up, after this early check: they count as present here, and
    // collector-edge/main.ts checks them for real once made.
    const generated = process.env.FLOWLINE_TLS_CERTIFICATES?.trim() === 'generate';
    try {
      config = loadCollectorConfig(process.env, flags, generated ? () => true : existsSync);
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
