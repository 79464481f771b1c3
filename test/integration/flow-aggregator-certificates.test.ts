// The certificate publisher against a Kubernetes API server on a loopback port (test/support), with the
// chart's own Roles enforced (from the rendered deploy/k8s/collector.yaml): first publication, what an agent
// can and cannot read, reuse of a Flow Aggregator's existing CA, rotation before expiry, and two replicas
// racing to create the CA.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createLogger } from '../../collector-edge/log.ts';
import {
  BACKDATE_MS,
  CERTIFICATE_LIFETIME_MS,
  issueCertificate,
  MIN_REMAINING_VALIDITY_MS,
} from '../../collector-edge/tls/certificates.ts';
import {
  CA_CONFIGMAP_NAME,
  CA_SECRET_NAME,
  CLIENT_SECRET_NAME,
  FlowAggregatorCertificates,
} from '../../collector-edge/tls/flow-aggregator-certificates.ts';
import { KubernetesObjectsApi, renderedRoleRules } from '../support/kubernetes-objects-api.ts';

const NAMESPACE = 'flow-aggregator';
const tmp = mkdtempSync(join(tmpdir(), 'flowline-certs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let api: KubernetesObjectsApi;
let collectorToken: string;
let agentToken: string;
let dirs = 0;

beforeEach(async () => {
  api = new KubernetesObjectsApi();
  collectorToken = api.addIdentity(
    'flowline-collector',
    renderedRoleRules('flowline-collector-certificates'),
  );
  agentToken = api.addIdentity('antrea-agent', renderedRoleRules('flow-aggregator-exporter-role'));
  await api.start();
});
afterEach(async () => {
  await api.stop();
});

function provider(now: () => number, extraAddress?: string) {
  const tlsDir = join(tmp, `tls-${++dirs}`);
  const certificates = new FlowAggregatorCertificates({
    api: api.client(collectorToken),
    namespace: NAMESPACE,
    serviceName: 'flow-aggregator',
    ...(extraAddress ? { extraAddress } : {}),
    tlsDir,
    logger: createLogger('silent'),
    now,
  });
  return { certificates, tlsDir };
}

function secretPem(name: string, key: 'tls.crt' | 'tls.key'): string {
  const secret = api.get('secrets', NAMESPACE, name) as { data: Record<string, string> };
  return Buffer.from(secret.data[key]!, 'base64').toString('utf8');
}

function configMapCa(): string {
  return (api.get('configmaps', NAMESPACE, CA_CONFIGMAP_NAME) as { data: Record<string, string> }).data[
    'ca.crt'
  ]!;
}

const NOW = Date.UTC(2026, 11, 3, 6, 0, 0);

describe('publishing where Antrea agents look', () => {
  test('first sync: CA Secret, client Secret, CA ConfigMap and the serving files, all from one CA', async () => {
    const { certificates, tlsDir } = provider(() => NOW, 'collector.example.com');
    const outcome = await certificates.sync();
    expect(outcome).toEqual({
      caIssued: true,
      clientIssued: true,
      configMapWritten: true,
      serverIssued: true,
    });

    const caSecret = api.get('secrets', NAMESPACE, CA_SECRET_NAME) as { type: string };
    const clientSecret = api.get('secrets', NAMESPACE, CLIENT_SECRET_NAME) as { type: string };
    expect(caSecret.type).toBe('kubernetes.io/tls');
    expect(clientSecret.type).toBe('kubernetes.io/tls');
    const configMap = api.get('configmaps', NAMESPACE, CA_CONFIGMAP_NAME) as { metadata: { labels: object } };
    expect(configMap.metadata.labels).toEqual({ app: 'flow-aggregator' });

    const ca = new X509Certificate(configMapCa());
    expect(configMapCa()).toBe(secretPem(CA_SECRET_NAME, 'tls.crt'));
    expect(readFileSync(join(tlsDir, 'ca.crt'), 'utf8')).toBe(configMapCa());
    const client = new X509Certificate(secretPem(CLIENT_SECRET_NAME, 'tls.crt'));
    expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
    const server = new X509Certificate(readFileSync(join(tlsDir, 'tls.crt')));
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe('DNS:flow-aggregator.flow-aggregator.svc, DNS:collector.example.com');

    // Every request the chart's Role allowed; the collector never lists, watches or deletes.
    expect(api.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(new Set(api.requests.map((r) => r.verb))).toEqual(new Set(['get', 'create']));
  });

  test('an agent reads the CA and its client certificate, and nothing else (not the CA key)', async () => {
    await provider(() => NOW).certificates.sync();
    const agent = api.client(agentToken);
    const configMap = await agent.readNamespacedConfigMap({
      name: 'flow-aggregator-ca',
      namespace: NAMESPACE,
    });
    expect(configMap.data?.['ca.crt']).toBe(configMapCa());
    const secret = await agent.readNamespacedSecret({
      name: 'flow-aggregator-client-tls',
      namespace: NAMESPACE,
    });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['tls.crt', 'tls.key']);
    await expect(
      agent.readNamespacedSecret({ name: CA_SECRET_NAME, namespace: NAMESPACE }),
    ).rejects.toMatchObject({
      code: 403,
    });
  });

  test('a second sync changes nothing; a restarted collector reuses the stored CA and client certificate', async () => {
    const first = provider(() => NOW);
    await first.certificates.sync();
    const writes = () => api.requests.filter((r) => r.verb !== 'get').length;
    const before = writes();
    expect(await first.certificates.sync()).toEqual({
      caIssued: false,
      clientIssued: false,
      configMapWritten: false,
      serverIssued: false,
    });
    const restarted = provider(() => NOW + 3_600_000);
    const outcome = await restarted.certificates.sync();
    expect(outcome).toEqual({
      caIssued: false,
      clientIssued: false,
      configMapWritten: false,
      serverIssued: true,
    });
    expect(writes()).toBe(before);
    expect(readFileSync(join(restarted.tlsDir, 'ca.crt'), 'utf8')).toBe(configMapCa());
  });

  test("a Flow Aggregator's existing CA and client certificate are kept, so agents switch without new credentials", async () => {
    const ca = await issueCertificate({ role: 'ca', now: NOW - 100 * 86_400_000 });
    const client = await issueCertificate({ role: 'client', now: NOW - 100 * 86_400_000, issuer: ca });
    const tls = (pair: { cert: string; key: string }) => ({
      'tls.crt': Buffer.from(pair.cert).toString('base64'),
      'tls.key': Buffer.from(pair.key).toString('base64'),
    });
    api.put('secrets', {
      metadata: { name: CA_SECRET_NAME, namespace: NAMESPACE },
      type: 'kubernetes.io/tls',
      data: tls(ca),
    });
    api.put('secrets', {
      metadata: { name: CLIENT_SECRET_NAME, namespace: NAMESPACE },
      type: 'kubernetes.io/tls',
      data: tls(client),
    });
    api.put('configmaps', {
      metadata: { name: CA_CONFIGMAP_NAME, namespace: NAMESPACE },
      data: { 'ca.crt': ca.cert },
    });
    const { certificates, tlsDir } = provider(() => NOW);
    expect(await certificates.sync()).toEqual({
      caIssued: false,
      clientIssued: false,
      configMapWritten: false,
      serverIssued: true,
    });
    expect(secretPem(CLIENT_SECRET_NAME, 'tls.crt')).toBe(client.cert);
    expect(readFileSync(join(tlsDir, 'ca.crt'), 'utf8')).toBe(ca.cert);
  });
});

describe('rotation before expiry', () => {
  test('90 days before the CA expires: new CA, client certificate, ConfigMap and server certificate', async () => {
    let now = NOW;
    const { certificates, tlsDir } = provider(() => now);
    await certificates.sync();
    const oldCa = configMapCa();
    const oldClient = secretPem(CLIENT_SECRET_NAME, 'tls.crt');

    now = NOW - BACKDATE_MS + CERTIFICATE_LIFETIME_MS - MIN_REMAINING_VALIDITY_MS; // exactly 90 days left
    expect((await certificates.sync()).caIssued).toBe(false);
    now += 1;
    expect(await certificates.sync()).toEqual({
      caIssued: true,
      clientIssued: true,
      configMapWritten: true,
      serverIssued: true,
    });
    const newCa = new X509Certificate(configMapCa());
    expect(configMapCa()).not.toBe(oldCa);
    expect(Date.parse(newCa.validFrom)).toBe(Math.floor((now - BACKDATE_MS) / 1000) * 1000); // whole seconds
    const client = new X509Certificate(secretPem(CLIENT_SECRET_NAME, 'tls.crt'));
    expect(secretPem(CLIENT_SECRET_NAME, 'tls.crt')).not.toBe(oldClient);
    expect(client.verify(newCa.publicKey)).toBe(true);
    expect(new X509Certificate(readFileSync(join(tlsDir, 'tls.crt'))).verify(newCa.publicKey)).toBe(true);
    expect(readFileSync(join(tlsDir, 'ca.crt'), 'utf8')).toBe(configMapCa());
    expect(api.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(api.requests.some((r) => r.verb === 'update' && r.name === CA_SECRET_NAME)).toBe(true);
  });

  test('a client certificate replaced by hand with one from another CA is reissued from ours', async () => {
    const { certificates } = provider(() => NOW);
    await certificates.sync();
    const foreignCa = await issueCertificate({ role: 'ca', now: NOW });
    const foreign = await issueCertificate({ role: 'client', now: NOW, issuer: foreignCa });
    const current = api.get('secrets', NAMESPACE, CLIENT_SECRET_NAME)!;
    api.put('secrets', {
      ...current,
      data: {
        'tls.crt': Buffer.from(foreign.cert).toString('base64'),
        'tls.key': Buffer.from(foreign.key).toString('base64'),
      },
    });
    expect((await certificates.sync()).clientIssued).toBe(true);
    const client = new X509Certificate(secretPem(CLIENT_SECRET_NAME, 'tls.crt'));
    expect(client.verify(new X509Certificate(configMapCa()).publicKey)).toBe(true);
  });
});

describe('replicas racing', () => {
  test('two collectors starting together end up serving and publishing one CA', async () => {
    const a = provider(() => NOW);
    const b = provider(() => NOW);
    await Promise.all([a.certificates.sync(), b.certificates.sync()]);
    // Both read "not found", then both created: one create was refused with 409 and that sync started over.
    expect(api.requests.filter((r) => r.verb === 'create' && r.status === 409).length).toBeGreaterThan(0);
    const published = configMapCa();
    expect(published).toBe(secretPem(CA_SECRET_NAME, 'tls.crt'));
    // The loser of a create race re-reads and adopts the winner's CA; the next sync settles any leftover.
    await Promise.all([a.certificates.sync(), b.certificates.sync()]);
    expect(readFileSync(join(a.tlsDir, 'ca.crt'), 'utf8')).toBe(configMapCa());
    expect(readFileSync(join(b.tlsDir, 'ca.crt'), 'utf8')).toBe(configMapCa());
    const client = new X509Certificate(secretPem(CLIENT_SECRET_NAME, 'tls.crt'));
    expect(client.verify(new X509Certificate(configMapCa()).publicKey)).toBe(true);
  });
});
