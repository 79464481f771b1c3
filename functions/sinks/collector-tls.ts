// The IPFIX export's TLS material, as Antrea's Flow Aggregator takes it for flowCollector.tls: a CA for a
// collector with a private certificate (caSecretName, key ca.crt), a client certificate and key for a
// collector that verifies its exporters (clientSecretName, a kubernetes.io/tls Secret: tls.crt, tls.key),
// the server name and the lowest TLS version. In AWS the PEMs come from one Secrets Manager secret holding
// those same keys as JSON, read (through the Powertools cache the handler passes in) each time the exporter
// connects, so a rotated certificate is used from the next connection on. Containers and local mode may give
// them as PEM text in the environment instead. No message here ever quotes a PEM: one may be a private key.
import type { CollectorTlsOptions } from './ipfix-exporter.ts';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** The PEMs of the export's TLS, where each comes from. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface IpfixTlsConfig extends TlsMaterial {
  /** A Secrets Manager secret (ARN or name) with any of "ca.crt", "tls.crt", "tls.key". */
  secretId?: string;
  serverName?: string;
  minVersion: TlsMinVersion;
}

/** Reads a secret's string value (Powertools getSecret with its cache, in the Lambda handler). */
export type SecretReader = (secretId: string) => Promise<string>;

export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError';
}

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]+?-----END [A-Z0-9 ]+-----/;

/** `value` if it holds a PEM block; else an error naming `where`, never the value. */
export function pemOf(where: string, value: string): string {
  if (!PEM_BLOCK.test(value)) {
    throw new TlsMaterialError(
      `${where}: expected PEM text (-----BEGIN ...-----), got ${value.length} other characters`,
    );
  }
  return value;
}

/** The secret's keys, as the Kubernetes Secrets Antrea reads name them. */
const SECRET_KEYS = { 'ca.crt': 'ca', 'tls.crt': 'cert', 'tls.key': 'key' } as const;

/** A secret's JSON {"ca.crt"?, "tls.crt"?, "tls.key"?} as TLS material. */
export function parseTlsSecret(text: string, secretId: string): TlsMaterial {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TlsMaterialError(`secret ${secretId}: not JSON (expected {"ca.crt", "tls.crt", "tls.key"})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TlsMaterialError(
      `secret ${secretId}: expected a JSON object with "ca.crt", "tls.crt", "tls.key"`,
    );
  }
  const material: TlsMaterial = {};
  for (const [name, field] of Object.entries(SECRET_KEYS)) {
    const value = (parsed as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw new TlsMaterialError(`secret ${secretId}: "${name}" is not a string`);
    material[field] = pemOf(`secret ${secretId} "${name}"`, value);
  }
  if (Object.keys(material).length === 0) {
    throw new TlsMaterialError(`secret ${secretId}: none of "ca.crt", "tls.crt", "tls.key"`);
  }
  return material;
}

/** A client certificate needs its key and the other way round. */
export function checkClientPair(material: TlsMaterial, where: string): void {
  if ((material.cert === undefined) !== (material.key === undefined)) {
    throw new TlsMaterialError(`${where}: a client certificate and its key go together (one is missing)`);
  }
}

/** The material of the environment and of the secret together; a PEM given by both is refused. */
function merged(own: TlsMaterial, fromSecret: TlsMaterial, secretId: string): TlsMaterial {
  const out: TlsMaterial = { ...own };
  for (const field of ['ca', 'cert', 'key'] as const) {
    if (fromSecret[field] === undefined) continue;
    if (own[field] !== undefined) {
      throw new TlsMaterialError(`TLS ${field} given twice: in the environment and in secret ${secretId}`);
    }
    out[field] = fromSecret[field];
  }
  return out;
}

/**
 * What the exporter calls on each connection: the socket options, with the secret read (through the
 * reader's cache) if one is configured. Rejects with TlsMaterialError on bad material, which fails that
 * delivery (retried, logged) rather than the container.
 */
export function collectorTlsOf(
  config: IpfixTlsConfig,
  readSecret: SecretReader | undefined,
): () => Promise<CollectorTlsOptions> {
  const { secretId, serverName, minVersion, ...own } = config;
  if (secretId && !readSecret) {
    throw new TlsMaterialError(`IPFIX_EXPORT_TLS_SECRET_ID=${secretId}: no Secrets Manager here`);
  }
  return async () => {
    let material: TlsMaterial = own;
    if (secretId && readSecret) {
      material = merged(own, parseTlsSecret(await readSecret(secretId), secretId), secretId);
    }
    checkClientPair(material, secretId ? `TLS material (with secret ${secretId})` : 'TLS material');
    return { ...material, serverName, minVersion };
  };
}
