// Entry point of the bundled collector image (deploy/collector/Dockerfile): `flowline collect` alone, so the
// bundle does not pull in the other commands' dependencies (CDK, chDB, local engines).
import { runCollectorProcess } from './main.ts';

const flags: Record<string, string> = {};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(args[i]!);
  if (!match) {
    process.stderr.write(
      `flowline collector: unexpected argument "${args[i]}" (use --flag value or environment variables)\n`,
    );
    process.exit(2);
  }
  flags[match[1]!] = match[2] ?? args[++i] ?? '';
}
process.exitCode = await runCollectorProcess(process.env, flags);
