// /metrics (Prometheus text format), /healthz (the process and its event loop answer) and /readyz (ready
// for new exporters: listening, not draining, spool below its limit) for Kubernetes probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CollectorMetrics } from './metrics.ts';

export interface Readiness {
  ready(): { ready: boolean; reason: string };
}

export async function startHttpServer(
  host: string,
  port: number,
  metrics: CollectorMetrics,
  readiness: Readiness,
): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ready, reason } = readiness.ready();
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /healthz, /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
