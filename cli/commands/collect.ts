import type { Command } from 'commander';
import { COLLECTOR_SETTINGS } from '../../collector-edge/config.ts';

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
    const { runCollectorProcess } = await import('../../collector-edge/main.ts');
    process.exitCode = await runCollectorProcess(process.env, flags);
  });
}
