// The export schedule applied by whoever writes a flow (stream export model, docs/flow-state-and-scale-out.md):
// the correlator before it folds a record, the ticker for flows no record reaches. Each step runs at the
// due time itself, not at the writer's clock, so a flow's active ticks stay on Antrea's grid
// (due + activeFlowRecordTimeout) whoever takes them and however late. The rows the steps export leave
// with the same write (the item's closed rows), so exporting costs no write of its own. Pure.
import { FlowEndReason } from '../flow-record.ts';
import { type ExportedFlow, processDue } from './schedule.ts';
import { type FlowState, isWaitingForPeer, nextExportAtOf, type ScheduleConfig } from './state.ts';

export interface Advanced {
  state: FlowState;
  /** Rows exported by the steps, in order. */
  rows: ExportedFlow[];
  /** The last step closed the flow (inactive expiry): a later record starts a new lifetime. */
  closed: boolean;
}

/**
 * Applies every export step due at or before `untilMs`, each at its own due time (never earlier than the
 * step before it). Returns the input state itself when nothing was due.
 */
export function advanceSchedule(state: FlowState, untilMs: number, config: ScheduleConfig): Advanced {
  const rows: ExportedFlow[] = [];
  let current = state;
  let stepAt = Number.NEGATIVE_INFINITY;
  for (let dueAt = nextExportAtOf(current, config); dueAt !== undefined && dueAt <= untilMs; ) {
    // A half exported incomplete may have an active expiry before the step that exported it.
    stepAt = Math.max(stepAt, dueAt);
    const outcome = processDue(current, stepAt, config);
    current = outcome.state;
    if (outcome.exported) rows.push(outcome.exported);
    if (outcome.closed) return { state: current, rows, closed: true };
    dueAt = nextExportAtOf(current, config);
  }
  return { state: current, rows, closed: false };
}

export interface LazyIndexConfig {
  /**
   * How late the ticker may find a flow that stopped receiving records: the index key of a live flow is
   * its next due time plus this slack, so the correlator's writes move it once per slack, not per period.
   */
  slackMs: number;
  /** The key is moved when it is this close to the write's time (at least one correlator window). */
  marginMs: number;
}

/**
 * 20 minutes of slack: one key move per flow every 18 minutes, 0.11 write units per live flow per minute
 * (docs/flow-state-and-scale-out.md); the last row of a flow that falls idle without END_OF_FLOW is up
 * to 20 minutes late.
 */
export const DEFAULT_LAZY_INDEX: LazyIndexConfig = { slackMs: 20 * 60_000, marginMs: 2 * 60_000 };

/** The flow's last record ended it (END_OF_FLOW, sticky): no record will move its index key again. */
function hasEnded(state: FlowState): boolean {
  return state.flow.record.flowEndReason === FlowEndReason.EndOfFlow;
}

/**
 * The due-index key to write with `state` at `atMs`: undefined when the flow is closed (it leaves the
 * sparse index). A waiting half, an ended flow, or a flow the ticker writes gets its exact next due time.
 * A live flow keeps `storedKey` while it is at least `marginMs` ahead, not before its exact due time and not
 * later than that plus the slack; otherwise it moves to the exact due time plus the slack. A key written this way is never
 * later than the exact due time plus the slack, as the exact time only moves forward while records come.
 */
export function indexKeyOf(
  state: FlowState,
  storedKey: number | undefined,
  atMs: number,
  config: ScheduleConfig,
  lazy: LazyIndexConfig | undefined,
): number | undefined {
  const exact = nextExportAtOf(state, config);
  if (exact === undefined || lazy === undefined) return exact;
  if (isWaitingForPeer(state) || hasEnded(state)) return exact;
  const latest = exact + lazy.slackMs;
  const keep =
    storedKey !== undefined && storedKey >= Math.max(exact, atMs + lazy.marginMs) && storedKey <= latest;
  return keep ? storedKey : latest;
}
