// The flusher's Lambda handler, built from its dependencies (handler.ts wires the real ones).
//
// Scheduling on AWS: EventBridge Scheduler ticks at most once a minute, so each invocation runs the
// round loop for RUN_FOR_SECONDS (55) with a round every COMMIT_INTERVAL_SECONDS (8), Antrea's
// commitInterval, and returns early once no open flow is left (endsInvocation: at rest an invocation is
// one round of DynamoDB reads); reserved concurrency 1 keeps a single flusher (a late tick waits, never
// overlaps).
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { EXPORT_LAG_METRIC, INSERT_FAILURES_METRIC, REJECTED_ROWS_METRIC } from '../shared/metric-names.ts';
import { endsInvocation, type FlushLoop, type LoopOptions, type RoundReport } from './flusher.ts';

export interface FlusherHandlerDeps {
  /** Resolves the loop once per container (ClickHouse is connected later, by the first insert). */
  prepare(): Promise<FlushLoop>;
  loopOptions: Omit<LoopOptions, 'onRound'>;
  logger: Logger;
  metrics: Metrics;
  /** Extra sinks (functions/sinks): their metrics every round, their outbox drained after the run. */
  sinks?: { publish(metrics: Metrics): void; drain(): Promise<boolean> };
}

export interface FlusherInvocationResult {
  rounds: number;
  rowsInserted: number;
  failedRounds: number;
  /** The invocation ended early: no open flow left (endsInvocation). */
  endedAtRest: boolean;
}

export function publishRound(metrics: Metrics, report: RoundReport): void {
  metrics.addMetric('FlowsDue', MetricUnit.Count, report.dueFlows);
  metrics.addMetric('RowsInserted', MetricUnit.Count, report.rowsInserted);
  metrics.addMetric('Inserts', MetricUnit.Count, report.inserts);
  metrics.addMetric('ReplayedRows', MetricUnit.Count, report.replayedRows);
  metrics.addMetric('MarkConflicts', MetricUnit.Count, report.markConflicts);
  metrics.addMetric('IncompleteRows', MetricUnit.Count, report.incompleteRows);
  metrics.addMetric(INSERT_FAILURES_METRIC, MetricUnit.Count, report.insertFailures);
  metrics.addMetric(REJECTED_ROWS_METRIC, MetricUnit.Count, report.rejectedRows);
  metrics.addMetric('FailedRounds', MetricUnit.Count, report.ok ? 0 : 1);
  metrics.addMetric('RoundDuration', MetricUnit.Milliseconds, report.durationMs);
  if (report.exportLagSeconds !== undefined) {
    metrics.addMetric(EXPORT_LAG_METRIC, MetricUnit.Seconds, report.exportLagSeconds);
  }
  metrics.publishStoredMetrics();
}

/**
 * A round at rest that did nothing: it publishes no metric. Custom metrics are billed for each hour in
 * which they get a value, so zeros every minute would cost the whole metric set (11 x $0.30 a month) on
 * a deployment with no traffic; the alarms treat the missing data as not breaching, and
 * FlusherNotRunning watches Lambda's own Invocations metric.
 */
export function idleRound(report: RoundReport): boolean {
  return (
    endsInvocation(report) &&
    report.dueFlows === 0 &&
    report.replayedBatches === 0 &&
    report.rowsInserted === 0 &&
    report.rejectedRows === 0
  );
}

export function createFlusherHandler(deps: FlusherHandlerDeps): () => Promise<FlusherInvocationResult> {
  let prepared: Promise<FlushLoop> | undefined;
  return async () => {
    prepared ??= deps.prepare().catch((error: unknown) => {
      prepared = undefined; // the next invocation tries again (and fails again, loudly, if still wrong)
      throw error;
    });
    let loop: FlushLoop;
    try {
      loop = await prepared;
    } catch (error) {
      deps.logger.error('flusher cannot start', { error });
      throw error;
    }
    const reports = await loop.run({
      ...deps.loopOptions,
      onRound: (report) => {
        const { rejected, ...summary } = report;
        // Each rejected row in full: the log is where it is kept (its flow is marked exported).
        for (const row of rejected) {
          deps.logger.error('row rejected: a value does not fit its ClickHouse column', { ...row });
        }
        if (report.ok) deps.logger.info('round', { ...summary });
        else
          deps.logger.error('round failed: flows stay due or in their manifest, retried with backoff', {
            ...summary,
          });
        if (!idleRound(report)) {
          publishRound(deps.metrics, report);
          deps.sinks?.publish(deps.metrics);
        }
      },
    });
    if (deps.sinks && !(await deps.sinks.drain())) {
      deps.logger.warn(
        'sink outbox not empty at the end of the run: delivery continues in the next invocation',
      );
    }
    deps.sinks?.publish(deps.metrics);
    return {
      rounds: reports.length,
      rowsInserted: reports.reduce((sum, r) => sum + r.rowsInserted, 0),
      failedRounds: reports.filter((r) => !r.ok).length,
      endedAtRest: reports.length > 0 && endsInvocation(reports.at(-1) as RoundReport),
    };
  };
}
