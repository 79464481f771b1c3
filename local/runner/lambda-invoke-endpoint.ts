// The part of the Lambda API local mode needs: asynchronous Invoke of the flusher, which the correlator's
// bundle sends (functions/correlator/wake-flusher.ts) through the AWS SDK to AWS_ENDPOINT_URL_LAMBDA. An
// Event invocation is answered 202 at once and handed to `onInvoke`, as Lambda queues it; the flusher's
// scheduler (live.ts) runs it unless an invocation is already running, as reserved concurrency 1 does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface LambdaInvokeEndpoint {
  url: string;
  close(): Promise<void>;
}

export async function startLambdaInvokeEndpoint(
  functions: Record<string, () => void>,
): Promise<LambdaInvokeEndpoint> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const match = INVOKE_PATH.exec(request.url?.split('?')[0] ?? '');
      const name = match ? decodeURIComponent(match[1]!) : undefined;
      const invoke = name === undefined ? undefined : functions[name];
      const type = request.headers['x-amz-invocation-type'];
      if (request.method !== 'POST' || !invoke) {
        response.writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        });
        response.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name ?? request.url}` }));
        return;
      }
      if (type !== 'Event') {
        response.writeHead(400, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'InvalidParameterValueException',
        });
        response.end(
          JSON.stringify({
            Type: 'User',
            message: 'local mode serves asynchronous (Event) invocations only',
          }),
        );
        return;
      }
      response.writeHead(202);
      response.end();
      invoke();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
