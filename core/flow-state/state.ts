// The stored state of one flow (design: index.ts): Antrea's aggregation record plus its expiry times, the
// export bookkeeping and what each reporting Node has added (its counted totals). Pure data and pure
// helpers, no AWS imports.
import type { AggregatedFlow } from '../aggregated-flow.ts';

/** Per counter: [packets, octets, reversePackets, reverseOctets]. */
export type CounterQuad = [number, number, number, number];

/**
 * What one reporting Node's records of the current connection have added so far (functions/correlator/
 * cumulative.ts): per counter the interval [low, high] of its cumulative total already counted, and the
 * newest export position applied, which tells newer records from late ones and replays.
 */
export interface NodeMark {
  /** flowStartSeconds of the connection the totals belong to; a reused 5-tuple starts a new one. */
  connectionStart: number;
  low: CounterQuad;
  high: CounterQuad;
  /** Newest (exportTime, sequenceNumber) applied, compared lexicographically. */
  exportTime: number;
  sequenceNumber: number;
}

export interface FlowState {
  flow: AggregatedFlow;
  /** Antrea's priority-queue times, epoch ms. */
  activeExpireAtMs: number;
  inactiveExpireAtMs: number;
  /** Antrea HEAD updatedSinceLastExport. */
  updatedSinceExport: boolean;
  /** Arrival of the first record of this lifetime, epoch ms; with pk and exportSeq it names an export. */
  createdAtMs: number;
  /** Exports done for this pk so far (continues across lifetimes). */
  exportSeq: number;
  /** Epoch ms of the last export, 0 = never in this lifetime. */
  lastExportAtMs: number;
  /** Inactive-expired (its last export step ran): the next record starts a new lifetime. */
  closed: boolean;
  /** Per reporting Node (source / destination side), what its records added so far. */
  sourceMark: NodeMark | undefined;
  destinationMark: NodeMark | undefined;
  /**
   * Counts added by the source Node minus those added by the destination Node, over the item's life: the
   * common deltas grow with max(source, destination) (cumulative.ts, commonIncrease).
   */
  lead: CounterQuad;
}

/** A state as read from the store, with the version the next write is conditioned on. */
export interface StoredFlow {
  state: FlowState;
  version: number;
  /** TTL attribute, epoch seconds. */
  expiresAt: number;
  /** The stored due-index key (epoch ms), absent when the flow is out of the index. */
  indexKey?: number;
}

export interface ScheduleConfig {
  activeTimeoutMs: number;
  inactiveTimeoutMs: number;
  /** A half that never finds its peer is exported flagged incomplete this long after it arrived. */
  incompleteAfterMs: number;
  /** TTL: an item expires this long after its last write or pending export. */
  flowTtlSeconds: number;
  dueShardCount: number;
}

export function defaultScheduleConfig(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  const activeTimeoutMs = overrides.activeTimeoutMs ?? 60_000;
  return {
    activeTimeoutMs,
    inactiveTimeoutMs: 90_000,
    incompleteAfterMs: 3 * activeTimeoutMs,
    flowTtlSeconds: 86_400,
    dueShardCount: 16,
    ...overrides,
  };
}

/** Logic's view of TTL: an item past its expiry is absent, whether or not DynamoDB has deleted it yet. */
export function isExpired(stored: Pick<StoredFlow, 'expiresAt'>, nowMs: number): boolean {
  return stored.expiresAt * 1000 <= nowMs;
}

/** A half still waiting for its peer that has not been exported incomplete yet. */
export function isWaitingForPeer(state: FlowState): boolean {
  return !state.flow.readyToSend && state.lastExportAtMs === 0 && !state.flow.incomplete;
}

/** The flow's exact next due time; undefined once closed (it leaves the index). advance.ts indexKeyOf makes the index key of it. */
export function nextExportAtOf(state: FlowState, config: ScheduleConfig): number | undefined {
  if (state.closed) return undefined;
  if (isWaitingForPeer(state)) return state.createdAtMs + config.incompleteAfterMs;
  return Math.min(state.activeExpireAtMs, state.inactiveExpireAtMs);
}

/** TTL attribute value (epoch seconds) for a write at nowMs. */
export function expiresAtOf(state: FlowState, nowMs: number, config: ScheduleConfig): number {
  const pending = nextExportAtOf(state, config) ?? 0;
  return Math.ceil(Math.max(nowMs, pending, state.inactiveExpireAtMs) / 1000) + config.flowTtlSeconds;
}

/** ClickHouse insert deduplication token of one exported row: pk#createdAtMs#exportSeq. */
export function dedupTokenOf(flowKey: string, createdAtMs: number, exportSeq: number): string {
  return `${flowKey}#${createdAtMs}#${exportSeq}`;
}

export function cloneState(state: FlowState): FlowState {
  return structuredClone(state);
}
