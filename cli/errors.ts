// How the `flowline` command fails: one line on stderr that says what went wrong and what to do, and a
// documented exit code (docs/cli.md "Exit codes"); `--verbose` adds the stack. Commands throw; cli/main.ts
// catches everything here, so no command prints a raw stack trace.

/** Exit codes of every command. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: an endpoint down, a missing table, a busy port, a failed check. */
  runtime: 1,
  /** The command line is wrong: an unknown flag, a bad value, a missing argument. */
  usage: 2,
} as const;

/** A failure with its one-line message (already saying what to do) and exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.runtime,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A wrong flag value or combination: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  address?: string;
  port?: number;
  cause?: unknown;
  errors?: unknown[];
  $metadata?: unknown;
}

/** The error and its causes (Error.cause, AggregateError.errors), outermost first. */
function chain(error: unknown): ErrorShape[] {
  const seen: ErrorShape[] = [];
  const visit = (value: unknown) => {
    if (!value || typeof value !== 'object' || seen.includes(value as ErrorShape) || seen.length > 8) return;
    const shape = value as ErrorShape;
    seen.push(shape);
    visit(shape.cause);
    for (const inner of shape.errors ?? []) visit(inner);
  };
  visit(error);
  return seen;
}

const firstLine = (text: string) =>
  text
    .split('\n')
    .find((line) => line.trim() !== '')
    ?.trim() ?? text;

/**
 * One line for any error a command can end with: a CliError's own message, or a translation of the usual
 * system and AWS SDK failures into what to do about them.
 */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: firstLine(error.message), exitCode: error.exitCode };
  const errors = chain(error);
  const find = (test: (e: ErrorShape) => boolean) => errors.find(test);
  const refused = find((e) => e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET');
  if (refused) {
    const where = refused.address ? `${refused.address}:${refused.port}` : 'the endpoint';
    return {
      message: `cannot connect to ${where} (${refused.code}): is the service running and the URL or port right?`,
      exitCode: EXIT.runtime,
    };
  }
  const unknownHost = find((e) => e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN');
  if (unknownHost) {
    return {
      message: `cannot resolve the host name in the endpoint (${unknownHost.code}): check the URL`,
      exitCode: EXIT.runtime,
    };
  }
  const busy = find((e) => e.code === 'EADDRINUSE');
  if (busy) {
    const where = busy.port !== undefined ? `${busy.address ?? ''}:${busy.port}` : 'a port it needs';
    return {
      message: `${where} is already in use: stop what listens there or choose another port (see --help)`,
      exitCode: EXIT.runtime,
    };
  }
  const denied = find((e) => e.code === 'EACCES' || e.code === 'EPERM');
  if (denied) {
    return {
      message: `permission denied (${denied.code}): ${firstLine(denied.message ?? '')}; use a port above 1023 or a writable path`,
      exitCode: EXIT.runtime,
    };
  }
  const credentials = find((e) => e.name === 'CredentialsProviderError');
  if (credentials) {
    return {
      message:
        'no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and AWS_REGION',
      exitCode: EXIT.runtime,
    };
  }
  if (find((e) => /region is missing/i.test(e.message ?? ''))) {
    return { message: 'no AWS region: set AWS_REGION (or a profile with a region)', exitCode: EXIT.runtime };
  }
  const timeout = find((e) => e.name === 'TimeoutError' || e.code === 'ETIMEDOUT');
  if (timeout) {
    return {
      message: `the endpoint did not answer in time (${timeout.name ?? timeout.code}): is it reachable from here?`,
      exitCode: EXIT.runtime,
    };
  }
  const aws = find((e) => e.$metadata !== undefined);
  if (aws) {
    return { message: `${aws.name}: ${firstLine(aws.message ?? '')}`, exitCode: EXIT.runtime };
  }
  const top = errors[0];
  const text = top?.message ? firstLine(top.message) : String(error);
  return { message: text, exitCode: EXIT.runtime };
}
