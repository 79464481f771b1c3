// The Pod informer: list + watch of every Pod in the cluster (GET /api/v1/pods, then ?watch=true from the
// list's resourceVersion), feeding the PodStore. Library: @kubernetes/client-node (its ListWatch does the
// list/watch protocol: resumes a closed watch from the last resourceVersion, relists on 410 Gone). Added
// here, as client-go's reflector does and client-node leaves to its user:
// - restart with capped exponential backoff after any other error (a dropped connection, 5xx, a refused
//   list), counted by reason;
// - paged lists (limit 500 + continue), so a large cluster's first list is not one huge response;
// - trimming (Antrea's TrimPod): the informer's own cache keeps only the fields the store reads, not whole
//   Pod objects (managedFields, containers, ...), so memory stays proportional to the Pod count.
// The watch sends events as JSON lines; nothing here polls.
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  ListWatch,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import type { PodObject, PodStore } from './pod-store.ts';

export interface PodInformerOptions {
  /** First restart delay after an error; doubles up to maxBackoffMs, back to this after a good list. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Items per list page (client-go's reflector uses 500). */
  pageSize?: number;
  onError?: (reason: string, error: unknown) => void;
  /** Injectable timer for the restart delay (tests). */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/** A Pod reduced to what the store reads, plus what ListWatch's cache needs (name, namespace, version). */
interface TrimmedPod extends PodObject {
  metadata: {
    uid: string;
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    creationTimestamp?: Date;
    resourceVersion?: string;
  };
}

export function trimPod(pod: V1Pod | PodObject | undefined): TrimmedPod {
  const p = (pod ?? {}) as V1Pod;
  return {
    metadata: {
      uid: p.metadata?.uid ?? '',
      name: p.metadata?.name ?? '',
      namespace: p.metadata?.namespace ?? '',
      ...(p.metadata?.labels ? { labels: p.metadata.labels } : {}),
      // Watch events carry JSON text, lists Date objects.
      ...(p.metadata?.creationTimestamp ? { creationTimestamp: new Date(p.metadata.creationTimestamp) } : {}),
      ...(p.metadata?.resourceVersion ? { resourceVersion: p.metadata.resourceVersion } : {}),
    },
    spec: { nodeName: p.spec?.nodeName ?? '', hostNetwork: p.spec?.hostNetwork === true },
    status: {
      phase: p.status?.phase ?? '',
      podIPs: (p.status?.podIPs ?? (p.status?.podIP ? [{ ip: p.status.podIP }] : [])).map((x) => ({
        ip: x.ip,
      })),
    },
  };
}

export class PodInformer {
  /** Lists completed (the first one is the initial sync). */
  lists = 0;
  /** Watch (re)starts after an error, by reason: "gone" (410, relist), "error" (anything else). */
  readonly restarts = { gone: 0, error: 0 };
  private readonly listWatch: ListWatch<TrimmedPod>;
  private backoffMs: number;
  private stopped = false;
  private pendingRestart: { cancel(): void } | undefined;
  private syncWaiters: Array<() => void> = [];

  constructor(
    kubeConfig: KubeConfig,
    private readonly store: PodStore,
    private readonly options: PodInformerOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? 1000;
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const pageSize = options.pageSize ?? 500;
    const list = async (): Promise<KubernetesListObject<TrimmedPod>> => {
      const items: TrimmedPod[] = [];
      let next: string | undefined;
      let resourceVersion = '';
      do {
        const page = await api.listPodForAllNamespaces({
          limit: pageSize,
          ...(next ? { _continue: next } : {}),
        });
        for (const pod of page.items) items.push(trimPod(pod));
        next = page.metadata?._continue || undefined;
        resourceVersion = page.metadata?.resourceVersion ?? '';
      } while (next);
      this.onListed();
      return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion }, items };
    };
    const watch = new Watch(kubeConfig);
    const trimmingWatch = {
      watch: (
        path: string,
        query: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, object: unknown, watchObject?: unknown) => void,
        done: (error: unknown) => void,
      ) =>
        watch.watch(
          path,
          query,
          (phase, object, watchObject) =>
            // ERROR events carry a Status (code 410 = relist), BOOKMARK only a resourceVersion: passed as is.
            callback(
              phase,
              phase === 'ERROR' || phase === 'BOOKMARK' ? object : trimPod(object),
              watchObject,
            ),
          done,
        ),
    } as unknown as Watch;
    this.listWatch = new ListWatch<TrimmedPod>('/api/v1/pods', trimmingWatch, list, false);
    this.listWatch.on('add', (pod) => this.store.upsert(pod));
    this.listWatch.on('update', (pod) => this.store.upsert(pod));
    this.listWatch.on('delete', (pod) => this.store.delete(pod));
    this.listWatch.on('error', (error) => this.onError(error));
  }

  /** Starts listing and watching; resolves once the first list is in the store or after timeoutMs. */
  async start(timeoutMs: number): Promise<boolean> {
    const synced = this.waitForSync(timeoutMs);
    void this.listWatch.start().catch((error: unknown) => this.onError(error));
    return synced;
  }

  get hasSynced(): boolean {
    return this.lists > 0;
  }

  /** Resolves true once the first list is in the store, false if timeoutMs passes first. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.hasSynced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** The resourceVersion the watch resumes from ("" = the next start relists). */
  get resourceVersion(): string {
    return this.listWatch.latestResourceVersion();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pendingRestart?.cancel();
    await this.listWatch.stop();
  }

  private onListed(): void {
    this.lists++;
    this.backoffMs = this.options.backoffMs ?? 1000;
    for (const wake of this.syncWaiters.splice(0)) wake();
  }

  /** client-node stops on any error but 410: restart after a backoff, from the last resourceVersion. */
  private onError(error: unknown): void {
    if (this.stopped) return;
    this.restarts.error++;
    this.options.onError?.('error', error);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    this.pendingRestart?.cancel();
    const setTimer =
      this.options.setTimer ??
      ((fn: () => void, ms: number) => {
        const timer = setTimeout(fn, ms);
        timer.unref();
        return { cancel: () => clearTimeout(timer) };
      });
    this.pendingRestart = setTimer(() => {
      this.pendingRestart = undefined;
      if (!this.stopped) void this.listWatch.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }
}
