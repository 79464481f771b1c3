// Generates and publishes the certificates exactly where Antrea agents look for the Flow Aggregator's, as the
// Flow Aggregator does at start-up (Antrea v2.7.0, pkg/flowaggregator/certificate/provider.go):
//   Secret    flow-aggregator-ca-tls      (type kubernetes.io/tls: tls.crt, tls.key)  the CA; read by us only
//   Secret    flow-aggregator-client-tls  (type kubernetes.io/tls: tls.crt, tls.key)  the agents' client cert
//   ConfigMap flow-aggregator-ca          (ca.crt, label app=flow-aggregator)          the CA the agents trust
// all in the collector's namespace (flow-aggregator: the agents' namespace is fixed in their code). The server
// certificate is issued in memory whenever the CA changes and written to the TLS directory the listener reads
// (tls.crt, tls.key, ca.crt); the listener reloads it when the files change. A sync runs at start-up and every
// hour; the CA and the client certificate are replaced when less than 90 days remain, so agents (which read
// the Secret and ConfigMap again on every reconnect) and the collector move to the new CA together.
//
// Library: @kubernetes/client-node (CoreV1Api). API use, matching the chart's Role: get and update of the
// three named objects, create of ConfigMaps and Secrets (Kubernetes cannot limit create by name).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, type CoreV1Api, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import {
  type CertificateAndKey,
  caReplacementReason,
  clientReplacementReason,
  issueCertificate,
  notAfterMs,
  serverNames,
} from './certificates.ts';

export const CA_SECRET_NAME = 'flow-aggregator-ca-tls';
export const CLIENT_SECRET_NAME = 'flow-aggregator-client-tls';
export const CA_CONFIGMAP_NAME = 'flow-aggregator-ca';
export const CA_CONFIGMAP_KEY = 'ca.crt';
const SECRET_TYPE_TLS = 'kubernetes.io/tls';

export interface FlowAggregatorCertificatesOptions {
  api: CoreV1Api;
  namespace: string;
  /** The Service agents connect to; the server certificate names `<service>.<namespace>.svc`. */
  serviceName: string;
  /** Antrea's flowAggregatorAddress: one more DNS name or IP address for the server certificate. */
  extraAddress?: string;
  /** Where the server certificate, its key and the CA are written for the listener. */
  tlsDir: string;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}

export interface SyncOutcome {
  caIssued: boolean;
  clientIssued: boolean;
  configMapWritten: boolean;
  serverIssued: boolean;
}

/** Raised when another writer changed an object between our read and our write; the sync starts over. */
class WriteConflict extends Error {}

const SYNC_ATTEMPTS = 5;

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function write<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    // 409: AlreadyExists on create, Conflict (stale resourceVersion) on update.
    if (statusOf(error) === 409) throw new WriteConflict(String((error as Error).message));
    throw error;
  }
}

function pairOf(secret: V1Secret | undefined): Partial<CertificateAndKey> | undefined {
  if (!secret?.data) return undefined;
  const decode = (value: string | undefined) =>
    value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  return { cert: decode(secret.data['tls.crt']), key: decode(secret.data['tls.key']) };
}

function writeFileAtomically(path: string, content: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, path);
}

export class FlowAggregatorCertificates {
  private readonly now: () => number;
  /** The CA the current server certificate was issued by. */
  private servingCa: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly expiry: Gauge<'certificate'> | undefined;
  private readonly failures: Counter | undefined;
  private readonly issued: Counter<'certificate'> | undefined;

  constructor(private readonly options: FlowAggregatorCertificatesOptions) {
    this.now = options.now ?? Date.now;
    const registers = options.registry ? [options.registry] : [];
    if (options.registry) {
      this.expiry = new Gauge({
        name: 'flowline_collector_tls_certificate_expiry_timestamp_seconds',
        help: 'When the generated certificates expire (they are replaced 90 days before), by certificate',
        labelNames: ['certificate'] as const,
        registers,
      });
      this.issued = new Counter({
        name: 'flowline_collector_tls_certificates_issued_total',
        help: 'Certificates generated (first issue and rotations), by certificate',
        labelNames: ['certificate'] as const,
        registers,
      });
      this.failures = new Counter({
        name: 'flowline_collector_tls_certificate_sync_failures_total',
        help: 'Certificate syncs with the Kubernetes API that failed (retried with backoff)',
        registers,
      });
    }
  }

  /** Brings the Secrets, the ConfigMap and the serving files up to date; retries on write conflicts. */
  async sync(): Promise<SyncOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.syncOnce();
      } catch (error) {
        if (!(error instanceof WriteConflict) || attempt >= SYNC_ATTEMPTS) throw error;
        this.options.logger.info('certificate objects changed while syncing; reading them again', {
          attempt,
          error: error.message,
        });
      }
    }
  }

  /** Antrea's order: the CA, then the client certificate it signs, then the ConfigMap, then the server. */
  private async syncOnce(): Promise<SyncOutcome> {
    const now = this.now();
    const ca = await this.syncCa(now);
    const clientIssued = await this.syncClient(ca.pair, now);
    const configMapWritten = await this.publishCa(ca.pair.cert);
    const serverIssued = await this.syncServer(ca.pair, now);
    return { caIssued: ca.issued, clientIssued, configMapWritten, serverIssued };
  }

  /** The stored CA, or a new one when it is missing, unreadable or within 90 days of expiry. */
  private async syncCa(now: number): Promise<{ pair: CertificateAndKey; issued: boolean }> {
    const { api, namespace, logger } = this.options;
    const secret = await orUndefined(api.readNamespacedSecret({ name: CA_SECRET_NAME, namespace }));
    const stored = pairOf(secret);
    const reason = caReplacementReason(stored, now);
    let pair = stored as CertificateAndKey;
    if (reason) {
      logger.info('issuing the CA certificate', { reason, secret: `${namespace}/${CA_SECRET_NAME}` });
      pair = await issueCertificate({ role: 'ca', now });
      await this.writeSecret(CA_SECRET_NAME, pair, secret);
    }
    this.recordExpiry('ca', pair.cert);
    return { pair, issued: reason !== undefined };
  }

  /** Reissues the agents' client certificate unless the stored one is the CA's and far from expiry. */
  private async syncClient(ca: CertificateAndKey, now: number): Promise<boolean> {
    const { api, namespace, logger } = this.options;
    const secret = await orUndefined(api.readNamespacedSecret({ name: CLIENT_SECRET_NAME, namespace }));
    const stored = pairOf(secret);
    const reason = clientReplacementReason(stored, ca.cert, now);
    if (!reason) {
      this.recordExpiry('client', stored!.cert!);
      return false;
    }
    logger.info('issuing the agents’ client certificate', {
      reason,
      secret: `${namespace}/${CLIENT_SECRET_NAME}`,
    });
    const client = await issueCertificate({ role: 'client', now, issuer: ca });
    await this.writeSecret(CLIENT_SECRET_NAME, client, secret);
    this.recordExpiry('client', client.cert);
    return true;
  }

  /** A new server certificate whenever the CA differs from the one serving (it outlives the CA otherwise). */
  private async syncServer(ca: CertificateAndKey, now: number): Promise<boolean> {
    if (this.servingCa === ca.cert) return false;
    const { serviceName, namespace, extraAddress } = this.options;
    const names = serverNames(serviceName, namespace, extraAddress);
    const server = await issueCertificate({ role: 'server', now, issuer: ca, subjectAltNames: names });
    this.writeServingFiles(server, ca.cert);
    this.servingCa = ca.cert;
    this.recordExpiry('server', server.cert);
    this.options.logger.info('server certificate issued', { names });
    return true;
  }

  private async writeSecret(
    name: string,
    pair: CertificateAndKey,
    current: V1Secret | undefined,
  ): Promise<void> {
    const { api, namespace } = this.options;
    const data = {
      'tls.crt': Buffer.from(pair.cert).toString('base64'),
      'tls.key': Buffer.from(pair.key).toString('base64'),
    };
    if (current) await write(api.replaceNamespacedSecret({ name, namespace, body: { ...current, data } }));
    else
      await write(
        api.createNamespacedSecret({
          namespace,
          body: { metadata: { name, namespace }, type: SECRET_TYPE_TLS, data },
        }),
      );
    this.issued?.labels(name === CA_SECRET_NAME ? 'ca' : 'client').inc();
  }

  /** The CA in ConfigMap flow-aggregator-ca, key ca.crt; written only when it differs. */
  private async publishCa(caCert: string): Promise<boolean> {
    const { api, namespace } = this.options;
    const current = await orUndefined(api.readNamespacedConfigMap({ name: CA_CONFIGMAP_NAME, namespace }));
    if (current?.data?.[CA_CONFIGMAP_KEY] === caCert) return false;
    const data = { [CA_CONFIGMAP_KEY]: caCert };
    if (current)
      await write(
        api.replaceNamespacedConfigMap({ name: CA_CONFIGMAP_NAME, namespace, body: { ...current, data } }),
      );
    else {
      const body: V1ConfigMap = {
        metadata: { name: CA_CONFIGMAP_NAME, namespace, labels: { app: 'flow-aggregator' } },
        data,
      };
      await write(api.createNamespacedConfigMap({ namespace, body }));
    }
    return true;
  }

  private writeServingFiles(server: CertificateAndKey, caCert: string): void {
    const dir = this.options.tlsDir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomically(join(dir, 'ca.crt'), caCert);
    writeFileAtomically(join(dir, 'tls.key'), server.key);
    writeFileAtomically(join(dir, 'tls.crt'), server.cert);
  }

  private recordExpiry(certificate: 'ca' | 'server' | 'client', pem: string): void {
    if (!this.expiry) return;
    this.expiry.labels(certificate).set(Math.floor(notAfterMs(pem) / 1000));
  }

  /**
   * Syncs until the first success (the listener needs the files), then every `resyncMs` (Antrea: hourly).
   * A failed sync is logged, counted and retried with capped exponential backoff.
   */
  async start(resyncMs = 3_600_000, retry = { baseMs: 1000, capMs: 60_000 }): Promise<void> {
    let delay = retry.baseMs;
    for (;;) {
      try {
        await this.sync();
        break;
      } catch (error) {
        this.failures?.inc();
        if (this.stopped) throw error;
        this.options.logger.error('certificate sync with the Kubernetes API failed; retrying', {
          error,
          delayMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, retry.capMs);
      }
    }
    const schedule = (ms: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.sync().then(
          () => schedule(resyncMs),
          (error: unknown) => {
            this.failures?.inc();
            this.options.logger.error('certificate sync with the Kubernetes API failed; retrying', { error });
            schedule(Math.min(resyncMs, retry.capMs));
          },
        );
      }, ms);
      this.timer.unref();
    };
    schedule(resyncMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
