import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

export function register(program: Command): void {
  program
    .command('bench')
    .description('run every benchmark (fixed seeds), print one table and write the results as JSON')
    .option('--quick', 'smaller workloads, for a smoke run', false)
    .option('--only <group>', 'run only the benchmark modules whose name contains this text')
    .option('--out <file>', 'where to write the JSON results', 'bench-results.json')
    .option('--no-docs', 'leave docs/benchmarks.md and docs/bench-results.json as they are')
    .action(async (options: { quick: boolean; only?: string; out: string; docs: boolean }) => {
      const [{ runBenchmarks }, { modulesMatching }] = await Promise.all([
        import('../../bench/main.ts'),
        import('../../bench/modules.ts'),
      ]);
      if (modulesMatching(options.only).length === 0) {
        throw new UsageError(
          `--only ${options.only}: no benchmark module's name contains it (${modulesMatching(undefined).join(', ')})`,
        );
      }
      await runBenchmarks(options);
    });
}
