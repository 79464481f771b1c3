// Finds a usable Java runtime for DynamoDB Local, or says exactly what to install.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const MIN_JAVA_MAJOR = 17;

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(
      `DynamoDB Local needs Java ${MIN_JAVA_MAJOR} or newer: ${detail}. Install a JRE, e.g. \`sudo apt-get install openjdk-17-jre-headless\` (Debian/Ubuntu), \`brew install openjdk@17\` (macOS), or set JAVA_HOME to an existing one.`,
    );
    this.name = 'JavaMissingError';
  }
}

const checked = new Set<string>();

/** The java command to run (JAVA_HOME first, then PATH); throws JavaMissingError if absent or too old. */
export function requireJava(): string {
  const command = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  if (checked.has(command)) return command;
  const result = spawnSync(command, ['-version'], { encoding: 'utf8' });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new JavaMissingError(
      code === 'ENOENT'
        ? `\`${command}\` was not found`
        : `\`${command} -version\` failed (${result.error.message})`,
    );
  }
  const output = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match)
    throw new JavaMissingError(`could not read the version from \`${command} -version\`: ${output.trim()}`);
  // Java 8 and older report "1.8.0_…".
  const major = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  if (major < MIN_JAVA_MAJOR) throw new JavaMissingError(`\`${command}\` is Java ${major}`);
  checked.add(command);
  return command;
}
