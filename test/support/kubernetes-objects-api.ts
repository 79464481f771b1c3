// A Kubernetes API server for tests, on a loopback port: the subset the certificate publisher and Antrea's
// agent use (get, create and update of namespaced ConfigMaps and Secrets), with resourceVersion conflicts,
// Status errors as the real API server returns them, and RBAC: each bearer token is bound to Role rules (the
// chart's rendered Roles in the tests), so a request the Role does not allow gets 403 as in a cluster.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export interface PolicyRule {
  apiGroups?: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RecordedRequest {
  identity: string;
  verb: string;
  resource: string;
  namespace: string;
  name?: string;
  status: number;
}

/** The rules of a Role in the committed plain manifests (the chart rendered with its defaults). */
export function renderedRoleRules(name: string): PolicyRule[] {
  const objects = parseAllDocuments(readFileSync('deploy/k8s/collector.yaml', 'utf8')).map((d) => d.toJS());
  const role = objects.find((o) => o?.kind === 'Role' && o.metadata.name === name);
  if (!role) throw new Error(`Role ${name} not in deploy/k8s/collector.yaml`);
  return role.rules as PolicyRule[];
}

type KubeObject = {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
} & Record<string, unknown>;

const KINDS: Record<string, string> = { configmaps: 'ConfigMap', secrets: 'Secret' };

export class KubernetesObjectsApi {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly identities = new Map<string, { name: string; rules: PolicyRule[] }>();
  private version = 1;
  private server: Server | undefined;
  port = 0;

  /** A bearer token for `name`, allowed what `rules` allow (Role semantics: namespaced, by resourceName). */
  addIdentity(name: string, rules: PolicyRule[]): string {
    const token = randomUUID();
    this.identities.set(token, { name, rules });
    return token;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => this.handle(request, body, response));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A CoreV1Api client authenticating with `token`. */
  client(token: string): CoreV1Api {
    return this.kubeConfig(token).makeApiClient(CoreV1Api);
  }

  /** A kubeconfig for this server authenticating with `token`. */
  kubeConfig(token: string): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'test', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'test', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    return config;
  }

  /** The stored object, as the API would return it. */
  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(`${resource}/${namespace}/${name}`);
  }

  /** Stores an object directly (another writer, or state left by an earlier run). */
  put(resource: string, object: KubeObject): void {
    const { name, namespace } = object.metadata!;
    this.objects.set(`${resource}/${namespace}/${name}`, this.stamped(resource, object));
  }

  private stamped(resource: string, object: KubeObject): KubeObject {
    return {
      apiVersion: 'v1',
      kind: KINDS[resource],
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(++this.version), uid: randomUUID() },
    };
  }

  private allowed(rules: PolicyRule[], verb: string, resource: string, name: string | undefined): boolean {
    return rules.some(
      (rule) =>
        (rule.apiGroups ?? ['']).includes('') &&
        rule.resources.includes(resource) &&
        rule.verbs.includes(verb) &&
        (!rule.resourceNames ||
          rule.resourceNames.length === 0 ||
          (name !== undefined && rule.resourceNames.includes(name))),
    );
  }

  private handle(request: IncomingMessage, body: string, response: ServerResponse) {
    const send = (status: number, object: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(object));
    };
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps|secrets)(?:\/([^/?]+))?(?:\?.*)?$/.exec(
      request.url ?? '',
    );
    const identity = this.identities.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!identity) return status(401, 'Unauthorized', 'Unauthorized');
    if (!match)
      return status(404, 'NotFound', `the server could not find the requested resource ${request.url}`);
    const [, namespace, resource, name] = match as unknown as [string, string, string, string | undefined];
    const verb = { GET: 'get', POST: 'create', PUT: 'update' }[request.method ?? ''] ?? 'unsupported';
    const record = (code: number) =>
      this.requests.push({
        identity: identity.name,
        verb,
        resource,
        namespace,
        ...(name ? { name } : {}),
        status: code,
      });
    if (!this.allowed(identity.rules, verb, resource, name)) {
      record(403);
      return status(
        403,
        'Forbidden',
        `${identity.name} cannot ${verb} ${resource} ${name ?? ''} in ${namespace}`,
      );
    }
    const key = (objectName: string) => `${resource}/${namespace}/${objectName}`;
    if (verb === 'get' && name) {
      const found = this.objects.get(key(name));
      record(found ? 200 : 404);
      return found ? send(200, found) : status(404, 'NotFound', `${resource} "${name}" not found`);
    }
    if (verb === 'create' && !name) {
      const object = JSON.parse(body) as KubeObject;
      const objectName = object.metadata?.name ?? '';
      if (this.objects.has(key(objectName))) {
        record(409);
        return status(409, 'AlreadyExists', `${resource} "${objectName}" already exists`);
      }
      const stored = this.stamped(resource, { ...object, metadata: { ...object.metadata, namespace } });
      this.objects.set(key(objectName), stored);
      record(201);
      return send(201, stored);
    }
    if (verb === 'update' && name) {
      const object = JSON.parse(body) as KubeObject;
      const current = this.objects.get(key(name));
      if (!current) {
        record(404);
        return status(404, 'NotFound', `${resource} "${name}" not found`);
      }
      if (object.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
        record(409);
        return status(
          409,
          'Conflict',
          `the object has been modified; please apply your changes to the latest version`,
        );
      }
      const stored = this.stamped(resource, { ...object, metadata: { ...object.metadata, namespace } });
      this.objects.set(key(name), stored);
      record(200);
      return send(200, stored);
    }
    record(405);
    return status(405, 'MethodNotAllowed', `${request.method} is not supported here`);
  }
}
