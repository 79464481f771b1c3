// PodStore against Antrea's own cases (pkg/util/objectstore/store_test.go Test_GetObjectByIndexAndTime,
// podstore_test.go Test_noHostNetworkPod and Test_GetPodByIPAndTime_IPReuse_CompletedJobPod) and the
// informer's update shapes (a recreated Pod under the same name, a Pod getting its IP after Pending).
import { describe, expect, it } from 'vitest';
import {
  DELETED_POD_RETENTION_MS,
  type PodObject,
  PodStore,
} from '../../../collector-edge/k8s-metadata/pod-store.ts';

const REF = Date.parse('2026-06-01T12:00:00Z');
const REF2 = REF - 5 * 60_000;
const MINUTE = 60_000;

function pod(
  uid: string,
  ip: string | string[],
  createdMs: number,
  extra: Partial<PodObject> = {},
): PodObject {
  const ips = Array.isArray(ip) ? ip : [ip];
  return {
    metadata: {
      uid,
      name: `${uid}-name`,
      namespace: 'ns',
      creationTimestamp: new Date(createdMs).toISOString(),
    },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running', podIPs: ips.map((x) => ({ ip: x })) },
    ...extra,
  };
}

/** Antrea's fixture: obj1 (1.2.3.4, created REF), obj2 (5.6.7.8, REF2..REF), obj3 (1.2.3.4, REF2..REF). */
function antreaFixture(): PodStore {
  let now = REF;
  const store = new PodStore(() => now);
  store.upsert(pod('obj2', '5.6.7.8', REF2));
  store.upsert(pod('obj3', '1.2.3.4', REF2));
  store.delete(pod('obj2', '5.6.7.8', REF2));
  store.delete(pod('obj3', '1.2.3.4', REF2));
  store.upsert(pod('obj1', '1.2.3.4', REF));
  now = REF + MINUTE;
  return store;
}

describe('PodStore.lookup (Antrea GetObjectByIndexAndTime)', () => {
  it.each([
    ['no object', '1.3.5.7', REF, undefined],
    ['only one object, time inside its life', '5.6.7.8', REF - MINUTE, 'obj2'],
    ['only one object, time outside its life (clock skew: still returned)', '5.6.7.8', REF + MINUTE, 'obj2'],
    ['current object', '1.2.3.4', REF + MINUTE, 'obj1'],
    ['previous object', '1.2.3.4', REF - MINUTE, 'obj3'],
    ['before every creation', '1.2.3.4', REF - 10 * MINUTE, undefined],
    ['at the deletion of one and the creation of the other', '1.2.3.4', REF, undefined],
  ])('%s', (_, ip, atMs, uid) => {
    expect(antreaFixture().lookup(ip, atMs)?.uid).toBe(uid);
  });
});

describe('PodStore membership', () => {
  it('leaves out host-network and terminated Pods', () => {
    const store = new PodStore(() => REF);
    store.upsert(pod('host', '172.18.0.2', REF2, { spec: { hostNetwork: true, nodeName: 'n' } }));
    store.upsert(
      pod('done', '10.0.0.9', REF2, { status: { phase: 'Failed', podIPs: [{ ip: '10.0.0.9' }] } }),
    );
    store.upsert(pod('pod1', '1.2.3.4', REF2));
    expect(store.size).toBe(1);
    expect(store.lookup('172.18.0.2', REF)).toBeUndefined();
  });

  it('a completed job Pod whose IP is reused: the new Pod is found after the completion', () => {
    let now = REF2 + MINUTE;
    const store = new PodStore(() => now);
    const job = pod('job', '10.0.0.100', REF2);
    store.upsert(job);
    store.upsert({ ...job, status: { phase: 'Succeeded', podIPs: [{ ip: '10.0.0.100' }] } });
    const completedAt = now;
    now = REF;
    store.upsert(pod('new', '10.0.0.100', REF));
    expect(store.lookup('10.0.0.100', completedAt + 1000)).toBeUndefined(); // before the new one exists
    expect(store.lookup('10.0.0.100', REF + 1000)?.uid).toBe('new');
    expect(store.lookup('10.0.0.100', REF2 + 1000)?.uid).toBe('job');
  });

  it('keeps a deleted Pod for 5 minutes, then forgets it', () => {
    let now = REF;
    const store = new PodStore(() => now);
    store.upsert(pod('a', '10.0.0.1', REF2));
    store.delete(pod('a', '10.0.0.1', REF2));
    now += DELETED_POD_RETENTION_MS - 1;
    expect(store.sweep()).toBe(0);
    expect(store.lookup('10.0.0.1', REF - MINUTE)?.uid).toBe('a');
    now += 1;
    expect(store.sweep()).toBe(1);
    expect(store.lookup('10.0.0.1', REF - MINUTE)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('a Pod recreated under the same name (new UID) replaces the old one; a late IP is indexed', () => {
    let now = REF;
    const store = new PodStore(() => now);
    store.upsert(pod('old', '10.0.0.1', REF2, { metadata: { uid: 'old', name: 'web', namespace: 'ns' } }));
    const pending: PodObject = {
      metadata: {
        uid: 'new',
        name: 'web',
        namespace: 'ns',
        creationTimestamp: new Date(REF - MINUTE).toISOString(),
      },
      spec: { nodeName: 'node-2' },
      status: { phase: 'Pending', podIPs: [] },
    };
    store.upsert(pending);
    now = REF + MINUTE;
    store.upsert({ ...pending, status: { phase: 'Running', podIPs: [{ ip: '10.0.0.2' }] } });
    // Antrea: a Pod first seen Pending is "created" when seen (now), not at its creationTimestamp.
    expect(store.lookup('10.0.0.2', REF + 2 * MINUTE)).toMatchObject({
      uid: 'new',
      nodeName: 'node-2',
      createdAtMs: REF,
    });
    expect(store.lookup('10.0.0.1', REF - MINUTE)?.deletedAtMs).toBe(REF);
  });

  it('indexes IPv6 addresses in canonical form and labels as Antrea JSON', () => {
    const store = new PodStore(() => REF);
    store.upsert(
      pod('v6', ['10.0.0.3', '2001:0db8:0000:0000:0000:0000:0000:0003'], REF2, {
        metadata: { uid: 'v6', name: 'v6', namespace: 'ns', labels: { 'b/x': '1', a: '<2>' } },
      }),
    );
    expect(store.lookup('2001:db8::3', REF)?.labelsJson).toBe('{"a":"\\u003c2\\u003e","b/x":"1"}');
    expect(store.lookup('10.0.0.3', REF)?.uid).toBe('v6');
  });
});
