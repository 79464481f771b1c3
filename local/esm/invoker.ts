// Invoking a function the way Lambda's RequestResponse invoke does: the handler gets a Lambda-like context, its
// result crosses a JSON boundary, and a throw, rejection or timeout becomes a function error ("Unhandled").
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { InvokeResult } from './batch-response.ts';

export type LambdaHandler = (
  event: unknown,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

export interface FunctionInvoker {
  readonly functionName: string;
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvokeResult>;
}

export interface InProcessFunctionOptions {
  readonly handler: LambdaHandler;
  readonly functionName: string;
  readonly region: string;
  readonly accountId: string;
  /** The function's Timeout; the handler's promise is abandoned after it, as Lambda ends the sandbox. */
  readonly timeoutSeconds?: number;
  readonly memorySizeMb?: number;
}

/** Runs the handler in this process. Execution time is real time: the handler does real I/O. */
export class InProcessFunctionInvoker implements FunctionInvoker {
  readonly functionName: string;
  readonly functionArn: string;
  readonly #options: InProcessFunctionOptions;

  constructor(options: InProcessFunctionOptions) {
    this.#options = options;
    this.functionName = options.functionName;
    this.functionArn = `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`;
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    const timeoutMs = (this.#options.timeoutSeconds ?? 3) * 1000;
    const deadline = Date.now() + timeoutMs;
    const context = this.#context(deadline);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<InvokeResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            errorType: 'Sandbox.Timedout',
            errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          }),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#run(event, context), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(event: unknown, context: Context): Promise<InvokeResult> {
    try {
      const handler = this.#options.handler;
      // Lambda's Node runtime passes a callback to three-argument handlers that do not return a promise.
      const result =
        handler.length >= 3
          ? await new Promise<unknown>((resolve, reject) => {
              const returned = handler(event, context, (error, value) =>
                error ? reject(error) : resolve(value),
              );
              if (returned instanceof Promise) returned.then(resolve, reject);
            })
          : await handler(event, context, () => {});
      return { ok: true, payload: result === undefined ? null : JSON.parse(JSON.stringify(result)) };
    } catch (error) {
      return { ok: false, ...describeError(error) };
    }
  }

  #context(deadline: number): Context {
    const { functionName, memorySizeMb } = this.#options;
    const fail = (): never => {
      throw new Error('context.done/fail/succeed are not supported: return a value or a promise');
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.functionArn,
      memoryLimitInMB: String(memorySizeMb ?? 128),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: fail,
      fail,
      succeed: fail,
    };
  }
}

export function describeError(error: unknown): { errorType: string; errorMessage: string } {
  if (error instanceof Error) return { errorType: error.name || 'Error', errorMessage: error.message };
  return { errorType: 'Error', errorMessage: String(error) };
}
