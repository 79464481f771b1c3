// The `flowline` command line: one sub-command per module under cli/commands.
import { Command } from 'commander';

const program = new Command()
  .name('flowline')
  .description('Network flow visibility for Antrea clusters, serverless on AWS')
  .version('0.1.0')
  .showHelpAfterError();

// Each command module registers itself; keep this list sorted.
const commandModules: Array<() => Promise<{ register(program: Command): void }>> = [
  () => import('./commands/bench.ts'),
  () => import('./commands/clickhouse.ts'),
  () => import('./commands/collect.ts'),
  () => import('./commands/cost.ts'),
  () => import('./commands/decode.ts'),
  () => import('./commands/engines.ts'),
  () => import('./commands/flows.ts'),
  () => import('./commands/grafana-import.ts'),
  () => import('./commands/local.ts'),
  () => import('./commands/migrate.ts'),
  () => import('./commands/simulate.ts'),
];

for (const load of commandModules) (await load()).register(program);

await program.parseAsync(process.argv);
