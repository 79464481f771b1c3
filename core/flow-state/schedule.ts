// Export scheduling of one flow (design: index.ts): Antrea HEAD's ForAllExpiredFlowRecordsDo applied to a
// single stored item, plus Flowline's incomplete export of halves that never find their peer. The correlator
// and the ticker
// calls processDue() for every item its due query returns and writes the result back conditionally.
import type { AggregatedFlow, Counters } from '../aggregated-flow.ts';
import {
  cloneState,
  dedupTokenOf,
  type FlowState,
  isWaitingForPeer,
  nextExportAtOf,
  type ScheduleConfig,
} from './state.ts';

export interface ExportedFlow {
  /** The flow as exported (before the reset of deltas and throughputs). */
  flow: AggregatedFlow;
  /** 1 for the first export of this pk, then 2, 3, ... */
  exportSeq: number;
  /** The lifetime's first arrival (epoch ms): with the pk and exportSeq it names the export. */
  createdAtMs: number;
  /** When the export step ran (epoch ms): the due time in the stream model, the flusher's clock before. */
  exportedAtMs: number;
  /** ClickHouse insert_deduplication_token component for this row: pk#createdAtMs#exportSeq. */
  dedupToken: string;
}

export interface DueOutcome {
  /** The state to write back (unchanged when not due). */
  state: FlowState;
  due: boolean;
  /** Present when a row must be exported. */
  exported: ExportedFlow | undefined;
  /** The flow left the index (inactive expiry): its writer writes it back with dueShard removed. */
  closed: boolean;
}

function resetDeltas(counters: Counters): void {
  counters.packetDeltaCount = 0;
  counters.octetDeltaCount = 0;
}

/** Antrea ResetStatAndThroughputElementsInRecord: deltas (common and per Node) and all throughputs to 0. */
export function resetAfterExport(flow: AggregatedFlow): void {
  const r = flow.record;
  r.packetDeltaCount = 0;
  r.octetDeltaCount = 0;
  r.reversePacketDeltaCount = 0;
  r.reverseOctetDeltaCount = 0;
  resetDeltas(flow.statsFromSourceNode);
  resetDeltas(flow.reverseStatsFromSourceNode);
  resetDeltas(flow.statsFromDestinationNode);
  resetDeltas(flow.reverseStatsFromDestinationNode);
  flow.throughput = 0;
  flow.reverseThroughput = 0;
  flow.throughputFromSourceNode = 0;
  flow.reverseThroughputFromSourceNode = 0;
  flow.throughputFromDestinationNode = 0;
  flow.reverseThroughputFromDestinationNode = 0;
}

function exportNow(state: FlowState, nowMs: number): ExportedFlow {
  // A correlation-required flow exported without its peer is a half: flagged, never silently dropped.
  state.flow.incomplete = state.flow.correlationRequired && !state.flow.readyToSend;
  const flow = structuredClone(state.flow);
  state.exportSeq += 1;
  state.lastExportAtMs = nowMs;
  state.updatedSinceExport = false;
  resetAfterExport(state.flow);
  return {
    flow,
    exportSeq: state.exportSeq,
    createdAtMs: state.createdAtMs,
    exportedAtMs: nowMs,
    dedupToken: dedupTokenOf(flow.flowKey, state.createdAtMs, state.exportSeq),
  };
}

/** One export step of one item at nowMs (advance.ts runs them). Pure: returns a new state, never mutates the input. */
export function processDue(current: FlowState, nowMs: number, config: ScheduleConfig): DueOutcome {
  const dueAt = nextExportAtOf(current, config);
  if (dueAt === undefined || dueAt > nowMs)
    return { state: current, due: false, exported: undefined, closed: false };
  const state = cloneState(current);
  let exported: ExportedFlow | undefined;
  if (isWaitingForPeer(state)) {
    // Antrea deletes such a half after MaxRetries+1 expiry rounds without exporting it; Flowline exports it.
    exported = exportNow(state, nowMs);
  } else if (state.updatedSinceExport) {
    exported = exportNow(state, nowMs);
  }
  let closed = false;
  if (state.inactiveExpireAtMs <= nowMs) {
    state.closed = true;
    closed = true;
  } else if (state.activeExpireAtMs <= nowMs) {
    state.activeExpireAtMs = nowMs + config.activeTimeoutMs;
  }
  return { state, due: true, exported, closed };
}
