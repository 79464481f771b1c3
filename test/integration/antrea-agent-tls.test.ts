// An Antrea agent's TLS path end to end, over loopback: the collector generates and publishes its
// certificates through a Kubernetes API server (test/support, the chart's Roles enforced) as it does with
// FLOWLINE_TLS_CERTIFICATES=generate; a client set up exactly as the agent sets itself up (Antrea v2.7.0
// destination.go getExporterTLSConfig + exporter/interface.go AsStdConfig: CA from ConfigMap
// flow-aggregator/flow-aggregator-ca key ca.crt, client certificate and key from Secret
// flow-aggregator/flow-aggregator-client-tls keys tls.crt and tls.key, read with the agent's own RBAC, server
// name flow-aggregator.flow-aggregator.svc, TLS 1.2 at least) sends the simulator's Antrea IPFIX, and every
// record reaches Kinesis (kinesis-mock). A client whose certificate comes from another CA is refused and
// counted, and so is one that expects another server name.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKinesisClient } from '../../adapters/aws-clients.ts';
import { Collector } from '../../collector-edge/collector.ts';
import { loadCollectorConfig } from '../../collector-edge/config.ts';
import { KinesisStreamSink } from '../../collector-edge/kinesis-sink.ts';
import { createLogger } from '../../collector-edge/log.ts';
import { CollectorMetrics } from '../../collector-edge/metrics.ts';
import { issueCertificate } from '../../collector-edge/tls/certificates.ts';
import type { FlowAggregatorCertificates } from '../../collector-edge/tls/flow-aggregator-certificates.ts';
import { startGeneratedCertificates } from '../../collector-edge/tls/generated-certificates.ts';
import { findFreePort } from '../../local/engines/ports.ts';
import { exportSimulation } from '../../simulator/exporter.ts';
import { ClusterSimulation } from '../../simulator/model.ts';
import { useEngines } from '../support/engines.ts';
import { KubernetesObjectsApi, renderedRoleRules } from '../support/kubernetes-objects-api.ts';
import { createStream, expectExactlyOnce, metricValue, readStream, waitFor } from './collector-support.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const tmp = mkdtempSync(join(tmpdir(), 'flowline-agent-tls-'));
const STREAM = 'agent-tls-it';
const SERVER_NAME = 'flow-aggregator.flow-aggregator.svc';
const api = new KubernetesObjectsApi();
let certificates: FlowAggregatorCertificates | undefined;
let collector: Collector;
let metrics: CollectorMetrics;

/** What the agent reads, with the agent's ServiceAccount and Role, before it connects. */
async function agentCredentials(token: string) {
  const agent = api.client(token);
  const configMap = await agent.readNamespacedConfigMap({
    name: 'flow-aggregator-ca',
    namespace: 'flow-aggregator',
  });
  const secret = await agent.readNamespacedSecret({
    name: 'flow-aggregator-client-tls',
    namespace: 'flow-aggregator',
  });
  const decode = (key: string) => Buffer.from(secret.data![key]!, 'base64');
  return { ca: Buffer.from(configMap.data!['ca.crt']!), cert: decode('tls.crt'), key: decode('tls.key') };
}

/** Resolves with how the connection ended: 'refused' when the collector aborted the handshake. */
function attempt(options: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTls({
      host: '127.0.0.1',
      port: collector.portOf('tls'),
      minVersion: 'TLSv1.2',
      ...options,
    });
    // TLS 1.3: the server's verdict on the client certificate arrives after the client's handshake completes.
    socket.on('secureConnect', () => socket.write(Buffer.alloc(16)));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.on('close', () => resolve('closed'));
  });
}

beforeAll(async () => {
  const collectorToken = api.addIdentity(
    'flowline-collector',
    renderedRoleRules('flowline-collector-certificates'),
  );
  await api.start();
  const tlsDir = join(tmp, 'tls');
  metrics = new CollectorMetrics();
  certificates = await startGeneratedCertificates(
    {
      FLOWLINE_TLS_CERTIFICATES: 'generate',
      POD_NAMESPACE: 'flow-aggregator',
      FLOWLINE_TLS_DIR: tlsDir,
    },
    {
      logger: createLogger('silent'),
      registry: metrics.registry,
      kubeConfig: api.kubeConfig(collectorToken),
    },
  );
  await createStream(engines().kinesis, STREAM);
  // The chart's settings (deploy/k8s/collector.yaml), on a free loopback port.
  const config = loadCollectorConfig({
    FLOWLINE_STREAM_NAME: STREAM,
    FLOWLINE_LISTEN: 'tls://127.0.0.1:0',
    FLOWLINE_TLS_DIR: tlsDir,
    FLOWLINE_TLS_CLIENT_AUTH: 'require',
    FLOWLINE_HTTP_LISTEN: '127.0.0.1:0',
    FLOWLINE_SPOOL_DIR: join(tmp, 'spool'),
    FLOWLINE_BATCH_LINGER_MS: '10000',
  });
  collector = await Collector.start(config, {
    sink: new KinesisStreamSink(createKinesisClient({ maxAttempts: 1 }), STREAM),
    metrics,
    logger: createLogger('error'),
  });
});

afterAll(async () => {
  certificates?.stop();
  await collector?.drain();
  await api.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('an Antrea agent over TLS, credentials from where the Flow Aggregator publishes them', () => {
  test('records sent with the published CA and client certificate reach Kinesis exactly once', async () => {
    const agentToken = api.addIdentity('antrea-agent', renderedRoleRules('flow-aggregator-exporter-role'));
    const tls = { ...(await agentCredentials(agentToken)), serverName: SERVER_NAME };
    const sim = new ClusterSimulation({ seed: 17, nodes: 3, connections: 80, polls: 3 });
    const report = await exportSimulation(sim, {
      collector: { host: '127.0.0.1', port: collector.portOf('tls'), protocol: 'tls' },
      tls,
      keepSent: true,
    });
    const sent = report.sent!;
    expect(sent.length).toBeGreaterThan(0);
    await waitFor(
      'every record accepted',
      async () => (await metrics.total('flowline_collector_flow_records_total')) >= sent.length,
    );
    await collector.whenDelivered();
    const { records } = await readStream(engines().kinesis, STREAM);
    expectExactlyOnce(records, sent);
    expect(await metrics.total('flowline_collector_connections_total', { outcome: 'handshake-failed' })).toBe(
      0,
    );
    expect(await metrics.total('flowline_collector_tls_certificates_issued_total')).toBe(2); // CA + client
    expect(
      await metrics.total('flowline_collector_tls_certificate_expiry_timestamp_seconds', {
        certificate: 'server',
      }),
    ).toBeGreaterThan(Date.now() / 1000);
  });

  test('a client certificate from another CA is refused and counted; no record is taken from it', async () => {
    const agentToken = api.addIdentity('antrea-agent', renderedRoleRules('flow-aggregator-exporter-role'));
    const { ca } = await agentCredentials(agentToken);
    const otherCa = await issueCertificate({ role: 'ca', now: Date.now() });
    const impostor = await issueCertificate({ role: 'client', now: Date.now(), issuer: otherCa });
    const failedBefore = await metrics.total('flowline_collector_connections_total', {
      outcome: 'handshake-failed',
    });
    const recordsBefore = await metrics.total('flowline_collector_flow_records_total');
    // Resolves only once the collector has ended the connection (an accepted one would stay open).
    await attempt({ ca, cert: impostor.cert, key: impostor.key, servername: SERVER_NAME });
    await waitFor(
      'refused handshake counted',
      async () =>
        (await metrics.total('flowline_collector_connections_total', { outcome: 'handshake-failed' })) ===
        failedBefore + 1,
    );
    expect(await metrics.total('flowline_collector_flow_records_total')).toBe(recordsBefore);
  });

  test('the server certificate names flow-aggregator.flow-aggregator.svc and nothing the agent did not ask for', async () => {
    const agentToken = api.addIdentity('antrea-agent', renderedRoleRules('flow-aggregator-exporter-role'));
    const credentials = await agentCredentials(agentToken);
    // The agent checks the name it connected by: another Service name fails verification on the client.
    const outcome = await attempt({ ...credentials, servername: 'flowline-collector.flowline.svc' });
    expect(outcome).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});

describe('the collector process (`flowline collect`) in generated-certificate mode, as the chart runs it', () => {
  test('makes its certificates through $KUBECONFIG before listening, serves agents with them, exits 0 on SIGTERM', async () => {
    const collectorToken = api.addIdentity(
      'flowline-collector',
      renderedRoleRules('flowline-collector-certificates'),
    );
    const kubeconfig = join(tmp, 'kubeconfig.json');
    writeFileSync(kubeconfig, api.kubeConfig(collectorToken).exportConfig());
    const stream = 'agent-tls-process-it';
    await createStream(engines().kinesis, stream);
    const [tlsPort, httpPort] = [await findFreePort(), await findFreePort()];
    const child = spawn(process.execPath, ['bin/flowline.js', 'collect'], {
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        POD_NAMESPACE: 'flow-aggregator',
        FLOWLINE_TLS_CERTIFICATES: 'generate',
        FLOWLINE_TLS_DIR: join(tmp, 'process-tls'),
        FLOWLINE_TLS_CLIENT_AUTH: 'require',
        FLOWLINE_LISTEN: `tls://127.0.0.1:${tlsPort}`,
        FLOWLINE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        FLOWLINE_STREAM_NAME: stream,
        FLOWLINE_SPOOL_DIR: join(tmp, 'process-spool'),
        FLOWLINE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      await waitFor('the collector serving /metrics', async () => {
        try {
          return (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok;
        } catch {
          return false;
        }
      });
      const agentToken = api.addIdentity('antrea-agent', renderedRoleRules('flow-aggregator-exporter-role'));
      const sim = new ClusterSimulation({ seed: 7, nodes: 2, connections: 40, polls: 2 });
      const report = await exportSimulation(sim, {
        collector: { host: '127.0.0.1', port: tlsPort, protocol: 'tls' },
        tls: { ...(await agentCredentials(agentToken)), serverName: SERVER_NAME },
      });
      await waitFor(
        'every record accepted',
        async () =>
          metricValue(await metrics(), 'flowline_collector_flow_records_total') >= report.truth.records,
      );
      const text = await metrics();
      expect(metricValue(text, 'flowline_collector_tls_certificate_sync_failures_total')).toBe(0);
      expect(text).toContain(
        'flowline_collector_tls_certificate_expiry_timestamp_seconds{certificate="server"}',
      );
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      const { records } = await readStream(engines().kinesis, stream);
      expect(records.length).toBe(report.truth.records);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
