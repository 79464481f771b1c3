// The exporter's Lambda handler, built from its dependencies (handler.ts wires the real ones). One
// invocation = one batch of the flow table's stream (DynamoDB Streams event source mapping: no bisect,
// retries until the records expire, on-failure destination for what expires). A failure throws, so the
// mapping delivers the same batch again; the intents make the retry insert nothing twice.
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { EXPORTER_METRICS } from '../shared/metric-names.ts';
import type { ExportReport, StreamExporter } from './export-batch.ts';
import { changeRecordsOf } from './stream-event.ts';

export interface ExporterHandlerDeps {
  /** Resolves the exporter once per container (ClickHouse is connected later, by the first insert). */
  prepare(): Promise<Pick<StreamExporter, 'exportBatch'>>;
  logger: Logger;
  metrics: Metrics;
  /**
   * Extra sinks (functions/sinks): after each batch their outbox is drained (at most SINK_DRAIN_SECONDS),
   * since a container between invocations is frozen and its delivery workers with it; then their metrics.
   */
  sinks?: { publish(metrics: Metrics): void; drain(): Promise<boolean> };
}

export function publishBatch(metrics: Metrics, report: ExportReport): void {
  metrics.addMetric(EXPORTER_METRICS.rowsInserted, MetricUnit.Count, report.rowsInserted);
  metrics.addMetric(EXPORTER_METRICS.replayedRows, MetricUnit.Count, report.replayedRows);
  metrics.addMetric(EXPORTER_METRICS.incompleteRows, MetricUnit.Count, report.incompleteRows);
  metrics.addMetric(EXPORTER_METRICS.rejectedRows, MetricUnit.Count, report.rejected.length);
  metrics.addMetric(EXPORTER_METRICS.insertFailures, MetricUnit.Count, 0);
  metrics.publishStoredMetrics();
}

export function createExporterHandler(
  deps: ExporterHandlerDeps,
): (event: DynamoDBStreamEvent) => Promise<ExportReport> {
  let prepared: ReturnType<ExporterHandlerDeps['prepare']> | undefined;
  return async (event) => {
    prepared ??= deps.prepare().catch((error: unknown) => {
      prepared = undefined;
      throw error;
    });
    const exporter = await prepared;
    let report: ExportReport;
    try {
      report = await exporter.exportBatch(changeRecordsOf(event));
    } catch (error) {
      deps.metrics.addMetric(EXPORTER_METRICS.insertFailures, MetricUnit.Count, 1);
      deps.metrics.publishStoredMetrics();
      deps.logger.error('stream batch not exported: the mapping delivers it again', {
        records: event.Records.length,
        error: error as Error,
      });
      throw error;
    }
    // Each rejected row in full: the log is where it is kept.
    for (const { row, reason } of report.rejected)
      deps.logger.error('row rejected: a value does not fit its ClickHouse column', { reason, row });
    const { rejected, ...summary } = report;
    deps.logger.info('stream batch exported', { ...summary, rejectedRows: rejected.length });
    publishBatch(deps.metrics, report);
    if (deps.sinks && !(await deps.sinks.drain()))
      deps.logger.warn('sink outbox not empty after the batch: delivery goes on in the next invocation');
    deps.sinks?.publish(deps.metrics);
    return report;
  };
}
