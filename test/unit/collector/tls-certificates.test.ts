// The generated certificates match what Antrea's Flow Aggregator makes (v2.7.0 provider.go): names, usages,
// SANs, validity, key type; and the replacement rules (missing, foreign, mismatched, expiring).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  BACKDATE_MS,
  CERTIFICATE_LIFETIME_MS,
  type CertificateAndKey,
  caReplacementReason,
  clientReplacementReason,
  issueCertificate,
  MIN_REMAINING_VALIDITY_MS,
  serverNames,
} from '../../../collector-edge/tls/certificates.ts';

const NOW = Date.UTC(2026, 11, 3, 6, 0, 0);
const DAY = 86_400_000;
let ca: CertificateAndKey;
let otherCa: CertificateAndKey;
let server: CertificateAndKey;
let client: CertificateAndKey;

beforeAll(async () => {
  ca = await issueCertificate({ role: 'ca', now: NOW });
  otherCa = await issueCertificate({ role: 'ca', now: NOW });
  server = await issueCertificate({
    role: 'server',
    now: NOW,
    issuer: ca,
    subjectAltNames: serverNames('flow-aggregator', 'flow-aggregator', '10.96.7.7'),
  });
  client = await issueCertificate({ role: 'client', now: NOW, issuer: ca });
});

describe('issued certificates', () => {
  test('the CA: self-signed, CA:TRUE, one year from an hour ago, RSA 2048 in PKCS#1', () => {
    const cert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.subject).toBe(`CN=flow-aggregator-ca@${Math.floor(NOW / 1000)}`);
    expect(Date.parse(cert.validFrom)).toBe(NOW - BACKDATE_MS);
    expect(Date.parse(cert.validTo)).toBe(NOW - BACKDATE_MS + CERTIFICATE_LIFETIME_MS);
    expect(ca.key.startsWith('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    expect(createPrivateKey(ca.key).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.serialNumber.length).toBeGreaterThanOrEqual(30); // 128 random bits
  });

  test('the server certificate: the Service DNS name plus the extra address, server auth only, signed by the CA', () => {
    const cert = new X509Certificate(server.cert);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:flow-aggregator.flow-aggregator.svc, IP Address:10.96.7.7');
    expect(cert.checkHost('flow-aggregator.flow-aggregator.svc')).toBe('flow-aggregator.flow-aggregator.svc');
    expect(cert.checkIP('10.96.7.7')).toBe('10.96.7.7');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.subject).toMatch(/^CN=flow-aggregator-server-certificate@\d+$/);
  });

  test('an extra address that is a name becomes a DNS SAN', async () => {
    const named = await issueCertificate({
      role: 'server',
      now: NOW,
      issuer: ca,
      subjectAltNames: serverNames('flowline', 'flow-aggregator', 'collector.example.com'),
    });
    expect(new X509Certificate(named.cert).subjectAltName).toBe(
      'DNS:flowline.flow-aggregator.svc, DNS:collector.example.com',
    );
  });

  test('the client certificate: client auth only, no SAN, signed by the CA', () => {
    const cert = new X509Certificate(client.cert);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBeUndefined();
    expect(cert.subject).toMatch(/^CN=flow-aggregator-client-certificate@\d+$/);
    expect(clientReplacementReason(client, ca.cert, NOW)).toBeUndefined();
  });
});

describe('replacement rules', () => {
  test('a CA is kept until 90 days before it expires, then replaced', () => {
    const expires = NOW - BACKDATE_MS + CERTIFICATE_LIFETIME_MS;
    expect(caReplacementReason(ca, NOW)).toBeUndefined();
    expect(caReplacementReason(ca, expires - MIN_REMAINING_VALIDITY_MS)).toBeUndefined();
    expect(caReplacementReason(ca, expires - MIN_REMAINING_VALIDITY_MS + 1)).toBe('expires within 90 days');
  });

  test('a missing, unreadable, mismatched or non-CA pair is replaced', () => {
    expect(caReplacementReason(undefined, NOW)).toBe('missing');
    expect(caReplacementReason({ cert: 'garbage', key: ca.key }, NOW)).toBe(
      'unreadable or key does not match',
    );
    expect(caReplacementReason({ cert: ca.cert, key: otherCa.key }, NOW)).toBe(
      'unreadable or key does not match',
    );
    expect(caReplacementReason(client, NOW)).toBe('not a CA certificate');
  });

  test('a client certificate from another CA, for the server, or expiring is reissued', async () => {
    expect(clientReplacementReason(client, otherCa.cert, NOW)).toBe('not signed by the current CA');
    expect(clientReplacementReason(server, ca.cert, NOW)).toBe('not for client authentication');
    expect(clientReplacementReason(client, ca.cert, NOW + CERTIFICATE_LIFETIME_MS - 80 * DAY)).toBe(
      'expires within 90 days',
    );
    expect(clientReplacementReason(client, ca.cert, NOW + 2 * CERTIFICATE_LIFETIME_MS)).toBe('not valid now');
    expect(clientReplacementReason(undefined, ca.cert, NOW)).toBe('missing');
  });
});
