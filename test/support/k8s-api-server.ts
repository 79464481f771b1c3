// A Kubernetes API server for tests, on a free loopback port, speaking the list/watch protocol the way
// kube-apiserver does for Pods: GET /api/v1/pods returns a PodList (paged with limit/continue, with the
// list's resourceVersion); GET /api/v1/pods?watch=true&resourceVersion=N streams the events after N as
// JSON lines ({"type":"ADDED|MODIFIED|DELETED","object":Pod}) over a chunked 200 response and keeps it open;
// a resourceVersion older than the compaction point gets kube-apiserver's answer to an expired watch: one
// ERROR event carrying a Status with code 410 ("too old resource version"), then the end of the stream.
// Tests change Pods (each change is an event with the next resourceVersion), drop watch connections
// abruptly, compact history, and read the request log.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

// biome-ignore lint/suspicious/noExplicitAny: Pod objects are free-form JSON here, as on the wire.
export type PodJson = Record<string, any>;

export interface PodSpec {
  name: string;
  namespace: string;
  uid?: string;
  ip?: string;
  ips?: string[];
  nodeName?: string;
  labels?: Record<string, string>;
  phase?: string;
  hostNetwork?: boolean;
  createdAt?: string;
}

/** A Pod as the API server returns it (the fields a real one has around the ones Flowline reads). */
export function podJson(spec: PodSpec): PodJson {
  const ips = spec.ips ?? (spec.ip ? [spec.ip] : []);
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      uid: spec.uid ?? `uid-${spec.namespace}-${spec.name}`,
      creationTimestamp: spec.createdAt ?? '2026-01-01T00:00:00Z',
      ...(spec.labels ? { labels: spec.labels } : {}),
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1' },
      ],
    },
    spec: {
      nodeName: spec.nodeName ?? 'k8s-node-0',
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'app', image: 'registry.k8s.io/e2e-test-images/agnhost:2.45' }],
      serviceAccountName: 'default',
    },
    status: {
      phase: spec.phase ?? 'Running',
      ...(ips[0] ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
      hostIP: '172.18.0.2',
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

interface RequestRecord {
  watch: boolean;
  resourceVersion: string | null;
  limit: string | null;
  continueToken: string | null;
}

export class KubeApiServer {
  readonly requests: RequestRecord[] = [];
  private resourceVersion = 1000;
  /** Events older than this resourceVersion are gone (etcd compaction). */
  private compactedBefore = 0;
  private readonly pods = new Map<string, PodJson>();
  private readonly events: Array<{ rv: number; type: WatchEventType; object: PodJson }> = [];
  private readonly watchers = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<KubeApiServer> {
    const server = createServer();
    const api = new KubeApiServer(server);
    server.on('request', (req, res) => api.handle(req, res));
    server.on('connection', (socket) => {
      api.sockets.add(socket);
      socket.on('close', () => api.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  get latestResourceVersion(): string {
    return String(this.resourceVersion);
  }

  /** Creates or replaces a Pod (ADDED / MODIFIED event). */
  put(pod: PodJson): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.record(this.pods.has(key) ? 'MODIFIED' : 'ADDED', key, pod);
  }

  remove(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (pod) this.record('DELETED', key, pod);
  }

  /** Ends every open watch abruptly (the connection is reset, as when an API server restarts). */
  dropWatches(): void {
    for (const res of this.watchers) res.socket?.destroy();
    this.watchers.clear();
  }

  /** Forgets the event history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedBefore = this.resourceVersion + 1;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private record(type: WatchEventType, key: string, pod: PodJson): void {
    this.resourceVersion++;
    const object = structuredClone(pod);
    object.metadata.resourceVersion = String(this.resourceVersion);
    if (type === 'DELETED') this.pods.delete(key);
    else this.pods.set(key, object);
    this.events.push({ rv: this.resourceVersion, type, object });
    const line = `${JSON.stringify({ type, object })}\n`;
    for (const res of this.watchers) res.write(line);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = url.searchParams;
    if (url.pathname !== '/api/v1/pods' || req.method !== 'GET') {
      this.status(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
      return;
    }
    const watch = query.get('watch') === 'true' || query.get('watch') === '1';
    this.requests.push({
      watch,
      resourceVersion: query.get('resourceVersion'),
      limit: query.get('limit'),
      continueToken: query.get('continue'),
    });
    if (watch) this.watch(res, Number(query.get('resourceVersion') ?? '0'));
    else this.list(res, Number(query.get('limit') ?? '0'), query.get('continue'));
  }

  private list(res: ServerResponse, limit: number, continueToken: string | null): void {
    const all = [...this.pods.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, pod]) => pod);
    const offset = continueToken ? Number(Buffer.from(continueToken, 'base64url').toString()) : 0;
    const end = limit > 0 ? Math.min(offset + limit, all.length) : all.length;
    const more = end < all.length;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: {
          resourceVersion: String(this.resourceVersion),
          ...(more ? { continue: Buffer.from(String(end)).toString('base64url') } : {}),
        },
        items: all.slice(offset, end),
      }),
    );
  }

  private watch(res: ServerResponse, from: number): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.compactedBefore - 1) {
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${this.compactedBefore - 1})`,
        reason: 'Expired',
        code: 410,
      };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    for (const event of this.events) {
      if (event.rv > from) res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
    this.watchers.add(res);
    res.on('close', () => this.watchers.delete(res));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
  }
}

/** A client configuration pointing at `server` (what a kubeconfig file or the in-cluster config gives). */
export function kubeConfigFor(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return config;
}
