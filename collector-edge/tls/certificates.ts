// The certificates Antrea's Flow Aggregator makes for itself and its agents, made the same way (Antrea v2.7.0,
// pkg/flowaggregator/certificate/provider.go): a self-signed CA, a server certificate for the Service's DNS
// name (plus an optional extra address), and one client certificate that every agent shares. RSA 2048, a
// random 128-bit serial, valid one year from an hour ago (clock skew between Nodes), rotated when less than
// 90 days remain. Keys are PKCS#1 PEM ("RSA PRIVATE KEY"), as Go's keyutil writes them.
//
// Libraries: node-forge builds and signs the X.509 certificates (Node's crypto can verify certificates but
// not issue them); the RSA keys come from Node's own crypto (native, off the event loop).
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsa = promisify(generateKeyPair);

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** One year, Antrea's maxAge. */
export const CERTIFICATE_LIFETIME_MS = 365 * DAY_MS;
/** Rotate when less than this remains (Antrea's minValidDuration, 90 days). */
export const MIN_REMAINING_VALIDITY_MS = 90 * DAY_MS;
/** Certificates start an hour in the past, for Nodes whose clocks run behind. */
export const BACKDATE_MS = HOUR_MS;

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

export interface CertificateAndKey {
  /** PEM "CERTIFICATE". */
  cert: string;
  /** PEM "RSA PRIVATE KEY" (PKCS#1). */
  key: string;
}

export type CertificateRole = 'ca' | 'server' | 'client';

export interface CertificateRequest {
  role: CertificateRole;
  now: number;
  /** Signer; absent for the self-signed CA. */
  issuer?: CertificateAndKey;
  /** Server only: DNS names and IP addresses for the subjectAltName. */
  subjectAltNames?: string[];
}

const COMMON_NAME_PREFIX: Record<CertificateRole, string> = {
  ca: 'flow-aggregator-ca',
  server: 'flow-aggregator-server-certificate',
  client: 'flow-aggregator-client-certificate',
};

/** 128 random bits, as a positive DER integer (leading byte below 0x80). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function extensionsFor(request: CertificateRequest): object[] {
  if (request.role === 'ca')
    return [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    ];
  const usage =
    request.role === 'server'
      ? { name: 'extKeyUsage', serverAuth: true }
      : { name: 'extKeyUsage', clientAuth: true };
  const extensions: object[] = [{ name: 'keyUsage', digitalSignature: true, critical: true }, usage];
  if (request.role === 'server')
    extensions.push({
      name: 'subjectAltName',
      // type 2 = dNSName, 7 = iPAddress
      altNames: (request.subjectAltNames ?? []).map((name) =>
        isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
      ),
    });
  return extensions;
}

/** Issues one certificate with a fresh RSA 2048 key; the CA signs itself. */
export async function issueCertificate(request: CertificateRequest): Promise<CertificateAndKey> {
  if (request.role !== 'ca' && !request.issuer)
    throw new Error(`a ${request.role} certificate needs an issuer`);
  const { privateKey } = await generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(request.now - BACKDATE_MS);
  cert.validity.notAfter = new Date(request.now - BACKDATE_MS + CERTIFICATE_LIFETIME_MS);
  const subject = [
    { name: 'commonName', value: `${COMMON_NAME_PREFIX[request.role]}@${Math.floor(request.now / 1000)}` },
  ];
  cert.setSubject(subject);
  cert.setExtensions(extensionsFor(request));
  if (request.issuer) {
    const issuerCert = forge.pki.certificateFromPem(request.issuer.cert);
    cert.setIssuer(issuerCert.subject.attributes);
    cert.sign(forge.pki.privateKeyFromPem(request.issuer.key), forge.md.sha256.create());
  } else {
    cert.setIssuer(subject);
    cert.sign(key, forge.md.sha256.create());
  }
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

/** The server certificate's names: the Service's DNS name and the configured extra address (IP or DNS). */
export function serverNames(service: string, namespace: string, extraAddress?: string): string[] {
  const names = [`${service}.${namespace}.svc`];
  if (extraAddress) names.push(extraAddress);
  return names;
}

function parsePair(pair: Partial<CertificateAndKey> | undefined): X509Certificate | undefined {
  if (!pair?.cert || !pair.key) return undefined;
  try {
    const cert = new X509Certificate(pair.cert);
    return cert.checkPrivateKey(createPrivateKey(pair.key)) ? cert : undefined;
  } catch {
    return undefined;
  }
}

/** The certificate's expiry, in epoch milliseconds. */
export function notAfterMs(pem: string): number {
  return Date.parse(new X509Certificate(pem).validTo);
}

function remainingMs(cert: X509Certificate, now: number): number {
  return Date.parse(cert.validTo) - now;
}

/** Why a stored CA must be replaced, or undefined when it is good (Antrea's shouldUpdateCACertificate). */
export function caReplacementReason(
  pair: Partial<CertificateAndKey> | undefined,
  now: number,
): string | undefined {
  if (!pair?.cert && !pair?.key) return 'missing';
  const cert = parsePair(pair);
  if (!cert) return 'unreadable or key does not match';
  if (!cert.ca) return 'not a CA certificate';
  if (remainingMs(cert, now) < MIN_REMAINING_VALIDITY_MS) return 'expires within 90 days';
  return undefined;
}

/**
 * Why a stored client certificate must be reissued, or undefined when it is good: it must chain to the CA,
 * allow client authentication, be valid now and for at least 90 more days (Antrea's shouldUpdateClientCertificate).
 */
export function clientReplacementReason(
  pair: Partial<CertificateAndKey> | undefined,
  caCert: string,
  now: number,
): string | undefined {
  if (!pair?.cert && !pair?.key) return 'missing';
  const cert = parsePair(pair);
  if (!cert) return 'unreadable or key does not match';
  const verdict = verifyIssued(cert, new X509Certificate(caCert), now);
  if (verdict) return verdict;
  if (remainingMs(cert, now) < MIN_REMAINING_VALIDITY_MS) return 'expires within 90 days';
  return undefined;
}

function verifyIssued(cert: X509Certificate, ca: X509Certificate, now: number): string | undefined {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the current CA';
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) <= now) return 'not valid now';
  if (!(cert.keyUsage ?? []).includes(CLIENT_AUTH_OID)) return 'not for client authentication';
  return undefined;
}
