// The IPFIX export's TLS settings: environment and Secrets Manager material (Antrea's caSecretName and
// clientSecretName keys), how they combine, and errors that name the setting but never quote a PEM.
import { describe, expect, it } from 'vitest';
import { EnvConfigError } from '../../../functions/flow-store/config.ts';
import { collectorTlsOf, parseTlsSecret, TlsMaterialError } from '../../../functions/sinks/collector-tls.ts';
import { sinksConfigFromEnv } from '../../../functions/sinks/config.ts';

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
const CA = pem('CERTIFICATE', 'Q0E=');
const CERT = pem('CERTIFICATE', 'Y2xpZW50');
const KEY = pem('PRIVATE KEY', 'c2VjcmV0LWtleS1ieXRlcw==');
const CERT_2 = pem('CERTIFICATE', 'cm90YXRlZA==');

const TLS_ADDRESS = { IPFIX_EXPORT_ADDRESS: 'tls://collector.example.com:4739' };

describe('parseTlsSecret', () => {
  it('takes the keys of Antrea\u2019s Secrets, any of them', () => {
    expect(parseTlsSecret(JSON.stringify({ 'ca.crt': CA, 'tls.crt': CERT, 'tls.key': KEY }), 's')).toEqual({
      ca: CA,
      cert: CERT,
      key: KEY,
    });
    expect(parseTlsSecret(JSON.stringify({ 'ca.crt': CA, other: 1 }), 's')).toEqual({ ca: CA });
  });

  it.each([
    ['not JSON', KEY, /not JSON/],
    ['an array', '[]', /JSON object/],
    ['no known key', '{"cert": "x"}', /none of/],
    ['a number', '{"tls.crt": 5}', /"tls.crt" is not a string/],
    ['a path instead of PEM', '{"tls.key": "/etc/flowline/tls.key"}', /"tls.key": expected PEM text/],
  ])('refuses %s without quoting the secret', (_what, text, message) => {
    const attempt = () => parseTlsSecret(text, 'flowline/ipfix');
    expect(attempt).toThrow(TlsMaterialError);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(/secret flowline\/ipfix/);
    expect(attempt).not.toThrow(/c2VjcmV0|\/etc\/flowline/);
  });
});

describe('collectorTlsOf', () => {
  it('reads the secret on each connection, so a rotated certificate is used from the next one on', async () => {
    let current = { 'tls.crt': CERT, 'tls.key': KEY };
    const reads: string[] = [];
    const resolve = collectorTlsOf(
      { secretId: 'ipfix', ca: CA, serverName: 'c', minVersion: 'TLSv1.3' },
      async (id) => {
        reads.push(id);
        return JSON.stringify(current);
      },
    );
    expect(await resolve()).toEqual({ ca: CA, cert: CERT, key: KEY, serverName: 'c', minVersion: 'TLSv1.3' });
    current = { 'tls.crt': CERT_2, 'tls.key': KEY };
    expect((await resolve()).cert).toBe(CERT_2);
    expect(reads).toEqual(['ipfix', 'ipfix']);
  });

  it('refuses a PEM given twice, or a certificate without its key', async () => {
    const twice = collectorTlsOf(
      { secretId: 'ipfix', cert: CERT, key: KEY, minVersion: 'TLSv1.2' },
      async () => JSON.stringify({ 'tls.crt': CERT, 'tls.key': KEY }),
    );
    await expect(twice()).rejects.toThrow(/cert given twice/);
    const half = collectorTlsOf({ secretId: 'ipfix', minVersion: 'TLSv1.2' }, async () =>
      JSON.stringify({ 'tls.crt': CERT }),
    );
    await expect(half()).rejects.toThrow(/certificate and its key go together/);
  });

  it('needs a secret reader when the material is in a secret', () => {
    expect(() => collectorTlsOf({ secretId: 'ipfix', minVersion: 'TLSv1.2' }, undefined)).toThrow(
      /no Secrets Manager here/,
    );
  });

  it('without a secret: the environment\u2019s material as it is, the system roots when no CA', async () => {
    expect(await collectorTlsOf({ minVersion: 'TLSv1.2' }, undefined)()).toEqual({
      serverName: undefined,
      minVersion: 'TLSv1.2',
    });
  });
});

describe('sinksConfigFromEnv: IPFIX_EXPORT_TLS_*', () => {
  it('reads PEMs, the secret, the server name and Antrea\u2019s minVersion spelling', () => {
    const config = sinksConfigFromEnv({
      ...TLS_ADDRESS,
      IPFIX_EXPORT_TLS_CA: CA,
      IPFIX_EXPORT_TLS_CERT: CERT,
      IPFIX_EXPORT_TLS_KEY: KEY,
      IPFIX_EXPORT_TLS_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
      IPFIX_EXPORT_TLS_SERVER_NAME: 'ipfix.example.com',
      IPFIX_EXPORT_TLS_MIN_VERSION: 'VersionTLS13',
    });
    expect(config.ipfix?.tls).toEqual({
      ca: CA,
      cert: CERT,
      key: KEY,
      secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
      serverName: 'ipfix.example.com',
      minVersion: 'TLSv1.3',
    });
  });

  it('defaults to TLS 1.2 and the system roots', () => {
    expect(sinksConfigFromEnv(TLS_ADDRESS).ipfix?.tls).toEqual({
      secretId: undefined,
      serverName: undefined,
      minVersion: 'TLSv1.2',
    });
  });

  it.each([
    [{ IPFIX_EXPORT_ADDRESS: 'tcp://c:4739', IPFIX_EXPORT_TLS_CA: CA }, /only with a tls:\/\//],
    [{ ...TLS_ADDRESS, IPFIX_EXPORT_TLS_CERT: CERT }, /go together/],
    [{ ...TLS_ADDRESS, IPFIX_EXPORT_TLS_KEY: 'secret-key-bytes' }, /IPFIX_EXPORT_TLS_KEY: expected PEM text/],
    [{ ...TLS_ADDRESS, IPFIX_EXPORT_TLS_MIN_VERSION: 'TLSv1.1' }, /IPFIX_EXPORT_TLS_MIN_VERSION=TLSv1.1/],
  ])('refuses %j', (env, message) => {
    expect(() => sinksConfigFromEnv(env)).toThrow(EnvConfigError);
    expect(() => sinksConfigFromEnv(env)).toThrow(message);
    expect(() => sinksConfigFromEnv(env)).not.toThrow(/secret-key-bytes|c2VjcmV0/);
  });

  it('leaves the other half of the pair to the secret', () => {
    const env = { ...TLS_ADDRESS, IPFIX_EXPORT_TLS_CERT: CERT, IPFIX_EXPORT_TLS_SECRET_ID: 'ipfix' };
    expect(sinksConfigFromEnv(env).ipfix?.tls?.cert).toBe(CERT);
  });
});
