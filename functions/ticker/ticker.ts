// The ticker: the export schedule of flows no record reaches (stream export model). The correlator advances
// a flow's schedule whenever it writes the flow; a flow that stops receiving records is left for the ticker,
// found in the due index (its key: when it falls due, plus the lazy slack for live flows; advance.ts). The
// ticker applies every step due by now, each at its due time, and writes the flow back conditionally with
// the rows those steps closed and the exact next due time: the table's stream takes the rows to the
// exporter, as it does the correlator's. The ticker reads and writes only flows that fell idle; it never
// touches ClickHouse. A write that is refused (the correlator wrote the flow meanwhile, or the ticker's read
// was stale) is made once more from the item the refusal hands back, if that is still due.
import { chunksOf, forEachLimited } from '../../core/concurrency.ts';
import { advanceSchedule } from '../../core/flow-state/advance.ts';
import {
  type ExistingItemWrite,
  type ExportQueue,
  MAX_WRITES_PER_BATCH,
} from '../../core/flow-state/ports.ts';
import {
  isExpired,
  nextExportAtOf,
  type ScheduleConfig,
  type StoredFlow,
} from '../../core/flow-state/state.ts';

type TickerWrite = ExistingItemWrite & { closes: boolean; incomplete: number };

export interface TickerOptions {
  schedule: ScheduleConfig;
  /** Flows looked at per round at most (the rest stay due for the next round). */
  maxFlowsPerRound: number;
  /** Requests of up to 25 conditional writes in flight at once. */
  writeConcurrency: number;
  clock: () => number;
}

export interface TickReport {
  ok: boolean;
  error?: string;
  dueFlows: number;
  /** Flows written back (their steps applied). */
  advancedFlows: number;
  rowsClosed: number;
  incompleteRows: number;
  closedFlows: number;
  /** Writes refused (the correlator wrote the flow meanwhile, or the read was stale); each retried once. */
  conflicts: number;
  durationMs: number;
  /** Now minus the due time of the oldest flow still due after the round (0 when none); unset if unknown. */
  lagSeconds?: number;
  /** No open flow is left in the due index: nothing can fall due before a new record arrives. */
  atRest?: boolean;
}

/** A successful round that did nothing yet (each round starts from it). */
export function emptyTickReport(): TickReport {
  return {
    ok: true,
    dueFlows: 0,
    advancedFlows: 0,
    rowsClosed: 0,
    incompleteRows: 0,
    closedFlows: 0,
    conflicts: 0,
    durationMs: 0,
  };
}

/** A due-index bound past every key: the query then finds the earliest open flow. */
const OPEN_FLOWS = Number.MAX_SAFE_INTEGER;

export class Ticker {
  constructor(
    private readonly queue: Pick<ExportQueue, 'dueKeys' | 'read' | 'writeBatch' | 'oldestDueAt'>,
    private readonly options: TickerOptions,
  ) {}

  async round(): Promise<TickReport> {
    const report = emptyTickReport();
    const started = this.options.clock();
    try {
      await this.advanceDue(started, report);
    } catch (error) {
      report.ok = false;
      report.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const finished = this.options.clock();
    report.durationMs = finished - started;
    try {
      const earliest = await this.queue.oldestDueAt(OPEN_FLOWS);
      report.atRest = earliest === undefined;
      report.lagSeconds = earliest === undefined ? 0 : Math.max(0, (finished - earliest) / 1000);
    } catch {
      // DynamoDB unreachable: the round's own error (if any) says so; lag and rest stay unknown.
    }
    return report;
  }

  private async advanceDue(now: number, report: TickReport): Promise<void> {
    const { maxFlowsPerRound } = this.options;
    const keys = await this.queue.dueKeys(now, maxFlowsPerRound);
    if (keys.length === 0) return;
    const { flows } = await this.queue.read(keys);
    const writes = this.writesOf([...flows.values()], now);
    report.dueFlows = writes.length;
    // A refused write hands back the stored item: written again from it once, so a read that was stale
    // (reads are eventually consistent) costs a write, not a round. A flow the correlator advanced past
    // now is not due any more and is left.
    const refused = await this.apply(writes, now, report);
    await this.apply(this.writesOf(refused, now), now, report); // refused again: left for the next round
  }

  /** The conditional writes that apply every step due by now to these flows; none for a flow not due. */
  private writesOf(stored: readonly StoredFlow[], now: number): TickerWrite[] {
    const { schedule } = this.options;
    const writes: TickerWrite[] = [];
    for (const flow of stored) {
      if (isExpired(flow, now)) continue; // logically absent: TTL deletion is lazy
      const advanced = advanceSchedule(flow.state, now, schedule);
      if (advanced.state === flow.state) continue; // the index read was stale: nothing is due
      writes.push({
        state: advanced.state,
        expectedVersion: flow.version,
        extras: { rows: advanced.rows, indexKey: nextExportAtOf(advanced.state, schedule) },
        closes: advanced.closed,
        incomplete: advanced.rows.filter((row) => row.flow.incomplete).length,
      });
    }
    return writes;
  }

  /** Writes in requests of 25; returns the stored items of the refused ones (when DynamoDB gave them). */
  private async apply(
    writes: readonly TickerWrite[],
    now: number,
    report: TickReport,
  ): Promise<StoredFlow[]> {
    const refused: StoredFlow[] = [];
    await forEachLimited(
      chunksOf([...writes], MAX_WRITES_PER_BATCH),
      this.options.writeConcurrency,
      async (batch) => {
        const results = await this.queue.writeBatch(batch, now);
        for (const [i, result] of results.entries()) {
          const write = batch[i]!;
          if (!result.ok) {
            report.conflicts += 1;
            if (result.current) refused.push(result.current);
            continue;
          }
          report.advancedFlows += 1;
          report.rowsClosed += write.extras?.rows.length ?? 0;
          report.incompleteRows += write.incomplete;
          if (write.closes) report.closedFlows += 1;
        }
      },
    );
    return refused;
  }
}
