import { describe, expect, test } from 'vitest';
import { ConfigError, loadCollectorConfig, parseListenSpec } from '../../../collector-edge/config.ts';

const base = { FLOWLINE_STREAM_NAME: 'flows' };

function problems(
  env: Record<string, string>,
  flags = {},
  exists: (path: string) => boolean = () => true,
): string[] {
  try {
    loadCollectorConfig(env, flags, exists);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('collector configuration', () => {
  test('defaults: UDP and TCP on loopback 4739, metrics on loopback, 25,000-byte Kinesis records', () => {
    const config = loadCollectorConfig(base);
    expect(config.listen).toEqual([
      { protocol: 'udp', host: '127.0.0.1', port: 4739 },
      { protocol: 'tcp', host: '127.0.0.1', port: 4739 },
    ]);
    expect([config.httpHost, config.httpPort]).toEqual(['127.0.0.1', 9090]);
    expect(config.batchTargetBytes).toBe(25_000);
    expect(config.tls).toBeUndefined();
    expect(config).toMatchObject({
      maxTemplates: 4096,
      maxTemplateBytes: 32 * 1024 * 1024,
      maxUdpSessions: 4096,
      maxConnections: 1024,
      maxConnectionsPerSource: 16,
      allowPlaintext: false,
    });
  });

  test('secure defaults: TLS when certificates are given; plain listeners off loopback only when allowed', () => {
    const tls = loadCollectorConfig({ ...base, FLOWLINE_TLS_DIR: '/etc/flowline/tls' });
    expect(tls.listen).toEqual([{ protocol: 'tls', host: '0.0.0.0', port: 4739 }]);
    expect(tls.tls?.clientAuth).toBe('require');
    const exposed = problems({ ...base, FLOWLINE_LISTEN: 'udp://0.0.0.0:4739,tcp://[::1]:4739' });
    expect(exposed).toHaveLength(1);
    expect(exposed[0]).toMatch(
      /^FLOWLINE_LISTEN: udp:\/\/0\.0\.0\.0:4739 would accept unauthenticated IPFIX/,
    );
    expect(exposed[0]).toContain('--allow-plaintext true');
    const allowed = loadCollectorConfig(
      { ...base, FLOWLINE_LISTEN: 'udp://0.0.0.0:4739' },
      { 'allow-plaintext': 'true' },
    );
    expect(allowed.allowPlaintext).toBe(true);
    expect(problems(base, { 'allow-plaintext': 'yes' })).toEqual([
      '--allow-plaintext: must be true or false, got "yes"',
    ]);
    // TLS without a CA authenticates nobody: only with an explicit --tls-client-auth none.
    const noCa = { ...base, FLOWLINE_TLS_CERT: '/c.pem', FLOWLINE_TLS_KEY: '/k.pem' };
    expect(problems(noCa, {}, (path) => !path.endsWith('ca.crt'))[0]).toMatch(
      /would not authenticate exporters/,
    );
    expect(loadCollectorConfig({ ...noCa, FLOWLINE_TLS_CLIENT_AUTH: 'none' }).tls?.clientAuth).toBe('none');
  });

  test('flags override environment variables', () => {
    const config = loadCollectorConfig(
      { ...base, FLOWLINE_PUT_CONCURRENCY: '8' },
      { putConcurrency: '2', listen: 'tcp://[::1]:0' },
    );
    expect(config.putConcurrency).toBe(2);
    expect(config.listen).toEqual([{ protocol: 'tcp', host: '::1', port: 0 }]);
  });

  test('every problem is reported at once, naming the variable', () => {
    const found = problems({
      FLOWLINE_LISTEN: 'http://x:1,udp://0.0.0.0:99999',
      FLOWLINE_SPOOL_MAX_BYTES: 'lots',
      FLOWLINE_LOG_LEVEL: 'chatty',
    });
    expect(found.some((p) => p.includes('stream name is required'))).toBe(true);
    expect(found.some((p) => p.includes('"http://x:1" is not proto://host:port'))).toBe(true);
    expect(found.some((p) => p.includes('port 99999 is above 65535'))).toBe(true);
    expect(found.some((p) => p.startsWith('FLOWLINE_SPOOL_MAX_BYTES: must be a whole number'))).toBe(true);
    expect(found.some((p) => p.startsWith('FLOWLINE_LOG_LEVEL: must be one of'))).toBe(true);
  });

  test('TLS from a mounted Secret directory: ca.crt present turns client verification on', () => {
    const config = loadCollectorConfig(
      { ...base, FLOWLINE_LISTEN: 'tls://0.0.0.0:4739', FLOWLINE_TLS_DIR: '/etc/flowline/tls' },
      {},
      () => true,
    );
    expect(config.tls).toEqual({
      certFile: '/etc/flowline/tls/tls.crt',
      keyFile: '/etc/flowline/tls/tls.key',
      caFile: '/etc/flowline/tls/ca.crt',
      clientAuth: 'require',
    });
  });

  test('TLS problems: missing files, client auth without a CA, clashing ports', () => {
    expect(problems({ ...base, FLOWLINE_LISTEN: 'tls://0.0.0.0:4739' })).toContain(
      'a tls:// listener needs --tls-cert and --tls-key (FLOWLINE_TLS_CERT/KEY) or --tls-dir',
    );
    const found = problems(
      {
        ...base,
        FLOWLINE_LISTEN: 'tls://0.0.0.0:4739,tcp://0.0.0.0:4739',
        FLOWLINE_TLS_CERT: '/nope/cert.pem',
        FLOWLINE_TLS_KEY: '/nope/key.pem',
        FLOWLINE_TLS_CLIENT_AUTH: 'require',
      },
      {},
      () => false,
    );
    expect(found).toContain('TLS certificate file "/nope/cert.pem" does not exist');
    expect(found.some((p) => p.includes('"require" needs --tls-ca'))).toBe(true);
    expect(found.some((p) => p.includes('two listeners share tcp port'))).toBe(true);
  });

  test('listen spec parser', () => {
    expect(parseListenSpec('udp://[fd00::1]:4739')).toEqual({ protocol: 'udp', host: 'fd00::1', port: 4739 });
    expect(() => parseListenSpec('udp://host')).toThrow(/proto:\/\/host:port/);
  });
});

describe('Kubernetes metadata settings', () => {
  test('auto: on inside a cluster, off outside; labels off by default', () => {
    expect(loadCollectorConfig(base)).toMatchObject({ k8sMetadata: false, podLabels: false });
    const inCluster = loadCollectorConfig({ ...base, KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    expect(inCluster).toMatchObject({ k8sMetadata: true, podLabels: false });
    expect(inCluster.kubeconfig).toBeUndefined();
  });

  test('on with a kubeconfig and labels; off wins over the cluster', () => {
    expect(
      loadCollectorConfig(base, { 'k8s-metadata': 'on', kubeconfig: '/k/config', 'pod-labels': 'true' }),
    ).toMatchObject({ k8sMetadata: true, kubeconfig: '/k/config', podLabels: true });
    expect(
      loadCollectorConfig({ ...base, KUBERNETES_SERVICE_HOST: 'x', FLOWLINE_K8S_METADATA: 'off' }),
    ).toMatchObject({
      k8sMetadata: false,
    });
  });

  test('labels without the informer, and bad values, are refused with the setting named', () => {
    expect(problems({ ...base, FLOWLINE_POD_LABELS: 'true' })).toEqual([
      expect.stringMatching(/^FLOWLINE_POD_LABELS: Pod labels come from the Pod informer, which is off/),
    ]);
    expect(problems({ ...base, FLOWLINE_K8S_METADATA: 'maybe', FLOWLINE_POD_LABELS: 'yes' })).toEqual([
      'FLOWLINE_K8S_METADATA: must be auto, on or off, got "maybe"',
      'FLOWLINE_POD_LABELS: must be true or false, got "yes"',
    ]);
  });
});
