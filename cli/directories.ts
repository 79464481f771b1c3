// Fail fast on a --data-dir that cannot be a directory of ours: local mode and the engines create it only
// after slower work, and Node 22's recursive mkdirSync never returns under a pseudo-filesystem such as
// /proc (it retries the parent forever). Each missing component is created on its own instead, so such a
// path fails at once with the system's answer, in one line.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError } from './errors.ts';

function missingComponents(path: string): string[] {
  const missing: string[] = [];
  for (let at = path; ; at = dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) throw new CliError(`${at} is not a directory`);
      return missing.reverse();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (dirname(at) === at) return missing.reverse();
      missing.push(at);
    }
  }
}

/** Creates `dir` (and its missing parents) and checks it is writable; a one-line CliError otherwise. */
export function ensureWritableDirectory(dir: string, flag: string): string {
  const path = resolve(dir);
  try {
    for (const component of missingComponents(path)) mkdirSync(component);
    accessSync(path, constants.W_OK | constants.X_OK);
    return path;
  } catch (error) {
    const reason =
      error instanceof CliError ? error.message : ((error as NodeJS.ErrnoException).code ?? String(error));
    throw new CliError(
      `${flag} ${dir}: cannot use it as a data directory (${reason}): choose a writable one`,
    );
  }
}
