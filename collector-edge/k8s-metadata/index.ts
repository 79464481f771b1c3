// Kubernetes metadata at the edge, assembled: the Pod informer (informer.ts) feeding the Pod store
// (pod-store.ts), the per-record enricher (enrich.ts) the ingest pipeline calls once per decoded record,
// the deleted-Pod sweep and the Prometheus metrics. Off (undefined, no per-record cost) unless the
// configuration turns it on. Library: @kubernetes/client-node (KubeConfig: kubeconfig file or in-cluster
// ServiceAccount token and CA).
import { KubeConfig } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger, LogThrottle } from '../log.ts';
import { createRecordEnricher, EnrichmentCounts, type RecordEnricher } from './enrich.ts';
import { PodInformer } from './informer.ts';
import { PodStore } from './pod-store.ts';

export interface K8sMetadataSettings {
  k8sMetadata: boolean;
  kubeconfig?: string;
  podLabels: boolean;
}

/** The Flow Aggregator gives its stores 30 s to sync before it starts (flowaggregator.go). */
export const SYNC_TIMEOUT_MS = 30_000;
const SWEEP_INTERVAL_MS = 30_000;

export class K8sMetadata {
  readonly store: PodStore;
  readonly informer: PodInformer;
  readonly enrich: RecordEnricher;
  readonly counts = new EnrichmentCounts();
  private sweepTimer: NodeJS.Timeout | undefined;

  private constructor(
    kubeConfig: KubeConfig,
    settings: K8sMetadataSettings,
    registry: Registry,
    private readonly logger: Logger,
    logThrottle: LogThrottle,
    now: () => number,
  ) {
    this.store = new PodStore(now);
    this.informer = new PodInformer(kubeConfig, this.store, {
      onError: (reason, error) => {
        if (logThrottle.allow(`k8s-informer:${reason}`))
          logger.warn('Pod watch failed; restarting from the last resourceVersion after a backoff', {
            reason,
            error,
          });
      },
    });
    this.enrich = createRecordEnricher(
      this.store,
      { podLabels: settings.podLabels, fillMissingPods: true },
      this.counts,
    );
    this.registerMetrics(registry);
  }

  /** The module when the configuration turns it on, else undefined. */
  static fromSettings(
    settings: K8sMetadataSettings,
    deps: {
      registry: Registry;
      logger: Logger;
      logThrottle: LogThrottle;
      now: () => number;
      kubeConfig?: KubeConfig;
    },
  ): K8sMetadata | undefined {
    if (!settings.k8sMetadata) return undefined;
    const kubeConfig = deps.kubeConfig ?? loadKubeConfig(settings.kubeconfig);
    return new K8sMetadata(kubeConfig, settings, deps.registry, deps.logger, deps.logThrottle, deps.now);
  }

  /** Lists and watches Pods; waits (like the Flow Aggregator) up to syncTimeoutMs for the first list. */
  async start(syncTimeoutMs = SYNC_TIMEOUT_MS): Promise<void> {
    const synced = await this.informer.start(syncTimeoutMs);
    if (synced) this.logger.info('Pod informer synced', { pods: this.store.size });
    else
      this.logger.warn('Pod informer not synced yet; records go without Pod metadata until it is', {
        waitedMs: syncTimeoutMs,
      });
    this.sweepTimer = setInterval(() => this.store.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.informer.stop();
  }

  private registerMetrics(registry: Registry): void {
    const { store, informer, counts } = this;
    new Gauge({
      name: 'flowline_k8s_pods',
      help: 'Pods in the informer store (deleted ones kept 5 minutes for late flows included)',
      registers: [registry],
      collect() {
        this.set(store.size);
      },
    });
    new Gauge({
      name: 'flowline_k8s_informer_synced',
      help: '1 once the Pod informer has listed all Pods',
      registers: [registry],
      collect() {
        this.set(informer.hasSynced ? 1 : 0);
      },
    });
    new Counter({
      name: 'flowline_k8s_informer_restarts_total',
      help: 'Pod list/watch restarts after an error (a 410 Gone relist is not an error)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(informer.restarts.error);
      },
    });
    new Counter({
      name: 'flowline_k8s_informer_lists_total',
      help: 'Full Pod lists (1 at start, then one per expired watch: 410 Gone)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(informer.lists);
      },
    });
    new Counter({
      name: 'flowline_k8s_pod_lookups_total',
      help: 'Pod lookups by IP for flow records, by purpose (pod: missing Pod of a deny flow; labels) and result',
      labelNames: ['purpose', 'result'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ purpose: 'pod', result: 'found' }, counts.podsFilled);
        this.inc({ purpose: 'pod', result: 'not_found' }, counts.podsNotFound);
        this.inc({ purpose: 'labels', result: 'found' }, counts.labelsFilled);
        this.inc({ purpose: 'labels', result: 'not_found' }, counts.labelsNotFound);
      },
    });
  }
}

function loadKubeConfig(file: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
}
