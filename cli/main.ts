// The `flowline` command line: one sub-command per module under cli/commands (commander). Every failure ends
// here: one line on stderr, `flowline <command>: what went wrong and what to do`, and exit code 2 for a wrong
// command line or 1 for a failure at run time (cli/errors.ts, docs/cli.md); `--verbose` adds the stack.
import { Command, CommanderError } from 'commander';
import { describeError, EXIT } from './errors.ts';

const program = new Command()
  .name('flowline')
  .description('Network flow visibility for Antrea clusters, serverless on AWS')
  .version('0.1.0')
  .option(
    '--verbose',
    'on failure, also print the stack trace (and, for local, keep the functions\u2019 logs)',
  )
  .exitOverride()
  // Commander's own error text is replaced by the one line below (no help dump after an error).
  .configureOutput({ outputError: () => {} });

// Each command module registers itself, by command name; keep this list sorted. Commands inherit the
// settings above. Only the named command's module loads (the others cost start-up time); help loads all.
const commandModules: Record<string, () => Promise<{ register(program: Command): void }>> = {
  bench: () => import('./commands/bench.ts'),
  'clickhouse-check': () => import('./commands/clickhouse.ts'),
  collect: () => import('./commands/collect.ts'),
  cost: () => import('./commands/cost.ts'),
  decode: () => import('./commands/decode.ts'),
  engines: () => import('./commands/engines.ts'),
  flows: () => import('./commands/flows.ts'),
  'grafana-import': () => import('./commands/grafana-import.ts'),
  local: () => import('./commands/local.ts'),
  migrate: () => import('./commands/migrate.ts'),
  simulate: () => import('./commands/simulate.ts'),
};

const named = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
const wanted = named && named in commandModules ? [commandModules[named]!] : Object.values(commandModules);
for (const load of wanted) (await load()).register(program);

const verbose = process.argv.includes('--verbose');
const commandName = named && named in commandModules ? named : undefined;
const prefix = commandName ? `flowline ${commandName}` : 'flowline';

/** Prints the one line (and with --verbose the stack and causes) and ends the process with `code`. */
function fail(message: string, code: number, error?: unknown): never {
  process.stderr.write(`${prefix}: ${message}\n`);
  if (verbose && error instanceof Error) {
    let current: unknown = error;
    for (let depth = 0; current instanceof Error && depth < 8; depth++) {
      process.stderr.write(`${depth === 0 ? '' : 'caused by: '}${current.stack ?? current.message}\n`);
      current = current.cause;
    }
  }
  process.exit(code);
}

/** Commander's parse errors ("error: unknown option '--x'") as usage errors, help and version as success. */
function failFromCommander(error: CommanderError): never {
  if (
    error.code === 'commander.helpDisplayed' ||
    error.code === 'commander.version' ||
    error.exitCode === 0
  ) {
    process.exit(EXIT.ok);
  }
  if (error.code === 'commander.help') process.exit(EXIT.usage); // `flowline` alone: help was printed
  const text = error.message.replace(/^error:\s*/, '');
  const help = commandName ? `flowline ${commandName} --help` : 'flowline --help';
  fail(`${text} (see ${help})`, EXIT.usage, error);
}

// Anything that escapes a command later (a background task of local mode, a stream error) ends the same way.
process.on('uncaughtException', (error) => {
  const { message, exitCode } = describeError(error);
  fail(message, exitCode, error);
});
process.on('unhandledRejection', (reason) => {
  const { message, exitCode } = describeError(reason);
  fail(message, exitCode, reason);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) failFromCommander(error);
  const { message, exitCode } = describeError(error);
  fail(message, exitCode, error);
}
