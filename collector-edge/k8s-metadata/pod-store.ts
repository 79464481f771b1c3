// Pods by IP, as Antrea's Flow Aggregator keeps them (pkg/util/objectstore/store.go + podstore.go, Antrea
// v2.8.0-dev fc70f2bb): Pods keyed by UID and indexed by every status.podIPs entry; host-network and
// terminated (Succeeded/Failed) Pods left out; a deleted Pod stays findable for 5 minutes with its deletion
// time, so a flow that started before the deletion still finds it; when several Pods share an IP, the one
// alive at the flow's start time wins (created before it, deleted after it), and a lone Pod matches whatever
// the time (clock skew between Nodes). Creation time is the Pod's creationTimestamp, or "now" for a Pod still
// Pending when first seen.
//
// Everything a record needs is computed when the Pod changes (labels as Antrea's JSON text included), so the
// per-record cost is one Map lookup. Pure: the clock is injected; the informer (informer.ts) feeds it.
import { canonicalIP, parseIP } from '../../core/ip.ts';
import { labelsJson } from '../../core/pod-labels.ts';

/** The Pod fields Flowline reads (Antrea's TrimPod keeps these and more). */
export interface PodObject {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    labels?: Record<string, string> | null;
    creationTimestamp?: string | Date;
  };
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIPs?: Array<{ ip?: string }> | null; podIP?: string };
}

export interface PodEntry {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly nodeName: string;
  /** Antrea's JSON text of the labels ("{}" for none). */
  readonly labelsJson: string;
  readonly ips: readonly string[];
  readonly createdAtMs: number;
  deletedAtMs: number | undefined;
}

/** Antrea objectstore delayTime: how long a deleted Pod stays findable. */
export const DELETED_POD_RETENTION_MS = 5 * 60_000;

export class PodStore {
  private readonly byUid = new Map<string, PodEntry>();
  /** namespace/name -> UID of the live Pod of that name (the informer's key; a recreated Pod gets a new UID). */
  private readonly uidByName = new Map<string, string>();
  /** IP (canonical text) -> Pods that have or had it; one entry almost always. */
  private readonly byIp = new Map<string, PodEntry[]>();
  /** Deleted Pods in deletion order, removed once DELETED_POD_RETENTION_MS has passed. */
  private readonly deletions: PodEntry[] = [];

  constructor(
    private readonly now: () => number = Date.now,
    private readonly retentionMs = DELETED_POD_RETENTION_MS,
  ) {}

  /** Pods currently indexed (deleted ones still within retention included). */
  get size(): number {
    return this.byUid.size;
  }

  /** An added or changed Pod (informer ADDED / MODIFIED, or an item of a (re)list). */
  upsert(pod: PodObject): void {
    const key = nameKey(pod);
    const uid = pod.metadata?.uid ?? '';
    if (key === undefined || uid === '') return;
    const previousUid = this.uidByName.get(key);
    if (previousUid !== undefined && previousUid !== uid) this.remove(pod, previousUid);
    if (!isTracked(pod)) {
      // Antrea's FilteringResourceEventHandler turns "no longer passes the filter" into a delete.
      if (this.uidByName.get(key) === uid) this.remove(pod, uid);
      return;
    }
    const existing = this.byUid.get(uid);
    const createdAtMs =
      existing?.createdAtMs ?? (pod.status?.phase === 'Pending' ? this.now() : creationMs(pod, this.now));
    if (existing) this.unindex(existing);
    const entry: PodEntry = {
      uid,
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      nodeName: pod.spec?.nodeName ?? '',
      labelsJson: labelsJson(pod.metadata?.labels),
      ips: podIPs(pod),
      createdAtMs,
      deletedAtMs: undefined,
    };
    this.byUid.set(uid, entry);
    this.uidByName.set(key, uid);
    for (const ip of entry.ips) {
      const list = this.byIp.get(ip);
      if (list) list.push(entry);
      else this.byIp.set(ip, [entry]);
    }
  }

  /** A deleted Pod (informer DELETED): findable for a while longer, as in Antrea. */
  delete(pod: PodObject): void {
    const key = nameKey(pod);
    const uid = pod.metadata?.uid ?? (key === undefined ? undefined : this.uidByName.get(key));
    if (uid !== undefined) this.remove(pod, uid);
  }

  /** Antrea GetPodByIPAndTime. `ip` in canonical text form (as FlowRecord addresses are). */
  lookup(ip: string, atMs: number): PodEntry | undefined {
    const list = this.byIp.get(ip);
    if (list === undefined) return undefined;
    if (list.length === 1) return list[0];
    for (const entry of list) {
      if (entry.createdAtMs < atMs && (entry.deletedAtMs === undefined || atMs < entry.deletedAtMs))
        return entry;
    }
    return undefined;
  }

  /** Forgets deleted Pods past their retention (Antrea's delayed delete queue). Called from a timer. */
  sweep(): number {
    const cutoff = this.now() - this.retentionMs;
    let removed = 0;
    while (this.deletions.length > 0 && this.deletions[0]!.deletedAtMs! <= cutoff) {
      const entry = this.deletions.shift()!;
      if (this.byUid.get(entry.uid) === entry) {
        this.byUid.delete(entry.uid);
        this.unindex(entry);
        removed++;
      }
    }
    return removed;
  }

  private remove(pod: PodObject, uid: string): void {
    const key = nameKey(pod);
    if (key !== undefined && this.uidByName.get(key) === uid) this.uidByName.delete(key);
    const entry = this.byUid.get(uid);
    if (entry === undefined || entry.deletedAtMs !== undefined) return;
    entry.deletedAtMs = this.now();
    this.deletions.push(entry);
  }

  private unindex(entry: PodEntry): void {
    for (const ip of entry.ips) {
      const list = this.byIp.get(ip);
      if (!list) continue;
      const rest = list.filter((e) => e !== entry);
      if (rest.length === 0) this.byIp.delete(ip);
      else this.byIp.set(ip, rest);
    }
  }
}

function nameKey(pod: PodObject): string | undefined {
  const name = pod.metadata?.name;
  return name ? `${pod.metadata?.namespace ?? ''}/${name}` : undefined;
}

/** Antrea's filter: not host-network (its IP is the Node's) and not terminated. */
function isTracked(pod: PodObject): boolean {
  const phase = pod.status?.phase;
  return pod.spec?.hostNetwork !== true && phase !== 'Succeeded' && phase !== 'Failed';
}

function creationMs(pod: PodObject, now: () => number): number {
  const stamp = pod.metadata?.creationTimestamp;
  const ms = stamp === undefined ? Number.NaN : new Date(stamp).getTime();
  return Number.isFinite(ms) ? ms : now();
}

/** status.podIPs (status.podIP for old API servers), canonical text, invalid ones left out. */
function podIPs(pod: PodObject): string[] {
  const raw = pod.status?.podIPs?.map((p) => p.ip ?? '') ?? [pod.status?.podIP ?? ''];
  const ips: string[] = [];
  for (const ip of raw) if (ip !== '' && parseIP(ip)) ips.push(canonicalIP(ip));
  return [...new Set(ips)];
}
