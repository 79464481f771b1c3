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
      const [{ runBenchmarks }, { BENCH_MODULES }] = await Promise.all([
        import('../../bench/main.ts'),
        import('../../bench/modules.ts'),
      ]);
      const modules = Object.keys(BENCH_MODULES);
      if (options.only !== undefined && !modules.some((name) => name.includes(options.only as string))) {
        throw new UsageError(
          `--only ${options.only}: no benchmark module's name contains it (${modules.join(', ')})`,
        );
      }
      await runBenchmarks(options);
    });
}
