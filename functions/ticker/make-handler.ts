// The ticker's Lambda handler, built from its dependencies (handler.ts wires the real ones). Scheduled
// every minute (EventBridge Scheduler), reserved concurrency 1 per ticker: an invocation runs rounds every
// COMMIT_INTERVAL_SECONDS for RUN_FOR_SECONDS and returns as soon as no open flow is left (at rest an
// invocation is one due-index query per shard).
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { TICKER_METRICS } from '../shared/metric-names.ts';
import { endsInvocation, type LoopOptions, type RoundLoop } from '../shared/round-loop.ts';
import type { TickReport } from './ticker.ts';

export interface TickerHandlerDeps {
  loop: RoundLoop<TickReport>;
  loopOptions: Omit<LoopOptions<TickReport>, 'onRound'>;
  logger: Logger;
  metrics: Metrics;
}

export interface TickerInvocationResult {
  rounds: number;
  rowsClosed: number;
  failedRounds: number;
  endedAtRest: boolean;
}

export function publishTick(metrics: Metrics, report: TickReport): void {
  metrics.addMetric(TICKER_METRICS.flowsDue, MetricUnit.Count, report.dueFlows);
  metrics.addMetric(TICKER_METRICS.rowsClosed, MetricUnit.Count, report.rowsClosed);
  metrics.addMetric(TICKER_METRICS.closedFlows, MetricUnit.Count, report.closedFlows);
  metrics.addMetric(TICKER_METRICS.conflicts, MetricUnit.Count, report.conflicts);
  metrics.addMetric(TICKER_METRICS.failedRounds, MetricUnit.Count, report.ok ? 0 : 1);
  if (report.lagSeconds !== undefined)
    metrics.addMetric(TICKER_METRICS.exportLag, MetricUnit.Seconds, report.lagSeconds);
  metrics.publishStoredMetrics();
}

/**
 * A round at rest that did nothing publishes no metric: custom metrics are billed per hour with a value,
 * so zeros every minute would cost the whole set on a deployment with no traffic.
 */
export function idleTick(report: TickReport): boolean {
  return endsInvocation(report) && report.dueFlows === 0;
}

export function createTickerHandler(deps: TickerHandlerDeps): () => Promise<TickerInvocationResult> {
  return async () => {
    const reports = await deps.loop.run({
      ...deps.loopOptions,
      onRound: (report) => {
        if (report.ok) deps.logger.info('tick', { ...report });
        else deps.logger.error('tick failed: its flows stay due, retried with backoff', { ...report });
        if (!idleTick(report)) publishTick(deps.metrics, report);
      },
    });
    return {
      rounds: reports.length,
      rowsClosed: reports.reduce((sum, r) => sum + r.rowsClosed, 0),
      failedRounds: reports.filter((r) => !r.ok).length,
      endedAtRest: reports.length > 0 && endsInvocation(reports.at(-1)!),
    };
  };
}
