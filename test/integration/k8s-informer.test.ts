// The Pod informer against a real HTTP server speaking the Kubernetes list/watch protocol
// (test/support/k8s-api-server.ts): paged initial list, watch events, a watch connection reset mid-stream
// that resumes from the last resourceVersion without relisting, and an expired resourceVersion (410 Gone)
// that relists and catches up with what happened meanwhile, deletions included.
import { afterEach, describe, expect, it } from 'vitest';
import { PodInformer } from '../../collector-edge/k8s-metadata/informer.ts';
import { PodStore } from '../../collector-edge/k8s-metadata/pod-store.ts';
import { KubeApiServer, kubeConfigFor, podJson } from '../support/k8s-api-server.ts';
import { waitFor } from './collector-support.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(pods: Parameters<typeof podJson>[0][], pageSize = 500) {
  const api = await KubeApiServer.start();
  cleanups.push(() => api.close());
  for (const pod of pods) api.put(podJson(pod));
  let now = NOW;
  const store = new PodStore(() => now);
  const errors: string[] = [];
  const informer = new PodInformer(kubeConfigFor(api.url), store, {
    pageSize,
    backoffMs: 5,
    maxBackoffMs: 20,
    onError: (reason) => errors.push(reason),
  });
  cleanups.push(() => informer.stop());
  return { api, store, informer, errors, advance: (ms: number) => (now += ms) };
}

const nameAt = (store: PodStore, ip: string) => store.lookup(ip, NOW)?.name;

describe('PodInformer (list/watch against a loopback API server)', () => {
  it('lists every Pod page by page, then follows the watch', async () => {
    const { api, store, informer } = await setUp(
      [
        { name: 'a', namespace: 'ns1', ip: '10.10.0.1', labels: { app: 'web', tier: 'front' } },
        { name: 'b', namespace: 'ns1', ip: '10.10.0.2' },
        { name: 'c', namespace: 'ns2', ips: ['10.10.1.3', 'fd00:10:10::3'], nodeName: 'node-b' },
        { name: 'host', namespace: 'kube-system', ip: '172.18.0.2', hostNetwork: true },
        { name: 'done', namespace: 'ns2', ip: '10.10.1.9', phase: 'Succeeded' },
      ],
      2,
    );
    expect(await informer.start(10_000)).toBe(true);
    const lists = api.requests.filter((r) => !r.watch);
    expect(lists.map((r) => r.limit)).toEqual(['2', '2', '2']);
    expect(lists[1]!.continueToken).not.toBeNull();
    expect(nameAt(store, '10.10.0.1')).toBe('a');
    expect(store.lookup('10.10.0.1', NOW)?.labelsJson).toBe('{"app":"web","tier":"front"}');
    expect(store.lookup('10.10.0.2', NOW)?.labelsJson).toBe('{}');
    expect(store.lookup('fd00:10:10::3', NOW)).toMatchObject({
      name: 'c',
      namespace: 'ns2',
      nodeName: 'node-b',
    });
    expect(nameAt(store, '172.18.0.2')).toBeUndefined(); // host network: the Node's IP, not a Pod's
    expect(nameAt(store, '10.10.1.9')).toBeUndefined(); // terminated
    await waitFor('watch open', () => api.openWatches === 1);
    expect(api.requests.at(-1)).toMatchObject({ watch: true, resourceVersion: api.latestResourceVersion });

    api.put(podJson({ name: 'd', namespace: 'ns1', ip: '10.10.0.4', labels: { app: 'db' } }));
    api.put(podJson({ name: 'a', namespace: 'ns1', ip: '10.10.0.1', labels: { app: 'web', tier: 'back' } }));
    await waitFor(
      'watch events applied',
      () => store.lookup('10.10.0.1', NOW)?.labelsJson.includes('back') === true,
    );
    expect(store.lookup('10.10.0.4', NOW)?.labelsJson).toBe('{"app":"db"}');
    expect(informer.lists).toBe(1);
  });

  it('resumes a dropped watch from the last resourceVersion, without relisting', async () => {
    const { api, store, informer, errors } = await setUp([{ name: 'a', namespace: 'ns1', ip: '10.10.0.1' }]);
    await informer.start(10_000);
    await waitFor('watch open', () => api.openWatches === 1);
    api.put(podJson({ name: 'b', namespace: 'ns1', ip: '10.10.0.2' }));
    await waitFor('b seen', () => nameAt(store, '10.10.0.2') === 'b');
    const seen = api.latestResourceVersion;

    api.dropWatches();
    // Changes while no watch is open: the resumed watch must deliver them from its resourceVersion.
    api.put(podJson({ name: 'c', namespace: 'ns1', ip: '10.10.0.3' }));
    await waitFor('c seen after the reconnect', () => nameAt(store, '10.10.0.3') === 'c');
    const resumed = api.requests.filter((r) => r.watch);
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    expect(resumed[1]!.resourceVersion).toBe(seen);
    expect(informer.lists).toBe(1);
    expect(api.requests.filter((r) => !r.watch)).toHaveLength(1);
    expect(errors.length).toBeLessThanOrEqual(1); // the reset may surface as an error before the restart
  });

  it('relists after 410 Gone and applies what changed while the watch was away (deletions too)', async () => {
    const { api, store, informer, advance } = await setUp([
      { name: 'a', namespace: 'ns1', ip: '10.10.0.1' },
      { name: 'b', namespace: 'ns1', ip: '10.10.0.2' },
    ]);
    await informer.start(10_000);
    await waitFor('watch open', () => api.openWatches === 1);

    api.dropWatches();
    api.remove('ns1', 'b');
    api.put(podJson({ name: 'e', namespace: 'ns1', ip: '10.10.0.5', labels: { app: 'new' } }));
    api.compact(); // the history the client would resume from is gone: its watch gets 410
    await waitFor('relisted', () => informer.lists === 2);
    await waitFor('e seen', () => nameAt(store, '10.10.0.5') === 'e');
    const watches = api.requests.filter((r) => r.watch);
    expect(watches.some((r) => r.resourceVersion === api.latestResourceVersion)).toBe(true);
    // b was deleted during the gap: the relist removes it, and like Antrea's store it stays findable
    // for 5 minutes for flows that started before the deletion.
    expect(store.lookup('10.10.0.2', NOW)?.deletedAtMs).toBe(NOW);
    advance(5 * 60_000);
    store.sweep();
    expect(nameAt(store, '10.10.0.2')).toBeUndefined();
    expect(nameAt(store, '10.10.0.1')).toBe('a');
  });

  it('keeps retrying while the API server refuses, and syncs once it answers', async () => {
    const { api, informer } = await setUp([{ name: 'a', namespace: 'ns1', ip: '10.10.0.1' }]);
    await api.close();
    const synced = informer.start(200);
    expect(await synced).toBe(false);
    expect(informer.restarts.error).toBeGreaterThan(0);
  });
});
