// Turns the generated-certificate mode on from the environment (the chart sets it): with
// FLOWLINE_TLS_CERTIFICATES=generate the collector makes and publishes the Flow Aggregator's certificates
// through the Kubernetes API before its listeners start, writing the server certificate into FLOWLINE_TLS_DIR,
// which the TLS listener then serves (and reloads on rotation). Unset or "files": certificates come from files.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import type { Logger } from '../log.ts';
import { FlowAggregatorCertificates } from './flow-aggregator-certificates.ts';

export interface GeneratedCertificateSettings {
  namespace: string;
  serviceName: string;
  extraAddress?: string;
  tlsDir: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** undefined when the mode is off; throws ConfigError listing every problem otherwise. */
export function generatedCertificateSettings(
  env: NodeJS.ProcessEnv,
): GeneratedCertificateSettings | undefined {
  const mode = env.FLOWLINE_TLS_CERTIFICATES || 'files';
  if (mode === 'files') return undefined;
  const problems: string[] = [];
  if (mode !== 'generate')
    problems.push(`FLOWLINE_TLS_CERTIFICATES: must be files or generate, got "${mode}"`);
  // POD_NAMESPACE from the downward API, as the Flow Aggregator reads it; agents look in flow-aggregator.
  const namespace = env.POD_NAMESPACE || 'flow-aggregator';
  const serviceName = env.FLOWLINE_TLS_SERVICE_NAME || 'flow-aggregator';
  for (const [source, value] of [
    ['POD_NAMESPACE', namespace],
    ['FLOWLINE_TLS_SERVICE_NAME', serviceName],
  ] as const) {
    if (!DNS_LABEL.test(value)) problems.push(`${source}: "${value}" is not a DNS label`);
  }
  const tlsDir = env.FLOWLINE_TLS_DIR ?? '';
  if (tlsDir === '') problems.push('FLOWLINE_TLS_DIR: generated certificates need a writable directory');
  const extraAddress = env.FLOWLINE_TLS_EXTRA_ADDRESS?.trim();
  if (extraAddress && !/^[A-Za-z0-9.:-]{1,253}$/.test(extraAddress))
    problems.push(`FLOWLINE_TLS_EXTRA_ADDRESS: "${extraAddress}" is not a DNS name or IP address`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { namespace, serviceName, tlsDir, ...(extraAddress ? { extraAddress } : {}) };
}

/**
 * Starts the certificate provider when the environment asks for it, after its first successful sync.
 * `kubeConfig` defaults to the in-cluster ServiceAccount (or $KUBECONFIG outside a cluster).
 */
export async function startGeneratedCertificates(
  env: NodeJS.ProcessEnv,
  options: { logger: Logger; registry?: Registry; kubeConfig?: KubeConfig },
): Promise<FlowAggregatorCertificates | undefined> {
  const settings = generatedCertificateSettings(env);
  if (!settings) return undefined;
  let kubeConfig = options.kubeConfig;
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  const certificates = new FlowAggregatorCertificates({
    api: kubeConfig.makeApiClient(CoreV1Api),
    ...settings,
    logger: options.logger,
    ...(options.registry ? { registry: options.registry } : {}),
  });
  await certificates.start();
  return certificates;
}
