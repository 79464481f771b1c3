// The flusher's extra sinks, built from their configuration: one SinkQueue per enabled sink, fed by the
// flusher's onBatchExported hook, and their counters as CloudWatch metrics (Powertools, EMF) with a
// `sink` dimension ("ipfix", "archive"). The names the alarms watch are in functions/shared/metric-names.ts.

import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportedFlowRow } from '../flusher/flusher.ts';
import {
  SINK_QUEUED_ROWS_METRIC,
  SINK_RETRIES_METRIC,
  SINK_ROWS_DROPPED_METRIC,
  SINK_ROWS_SENT_METRIC,
} from '../shared/metric-names.ts';
import { observationDomainIdOf } from './antrea-ipfix.ts';
import type { SinksConfig } from './config.ts';
import { type ExportedBatch, exportedRowOf } from './exported-row.ts';
import { EXPORTER_DEFAULTS, IpfixExporter } from './ipfix-exporter.ts';
import { S3ParquetArchive } from './parquet-archive.ts';
import { type BatchSink, type SinkCounters, SinkQueue } from './sink-queue.ts';

export type SinkKind = 'ipfix' | 'archive';

export interface SinkDeps {
  clusterUUID: string;
  /** Required when the archive is enabled. */
  s3?: S3Client;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

export class ExtraSinks {
  private readonly published = new Map<SinkKind, SinkCounters>();

  constructor(
    readonly queues: ReadonlyMap<SinkKind, SinkQueue>,
    private readonly drainMs: number,
    private readonly clock: () => number,
  ) {}

  get enabled(): boolean {
    return this.queues.size > 0;
  }

  /** The flusher's onBatchExported: queues the batch for every sink; returns at once, never throws. */
  readonly onBatchExported = (token: string, rows: ExportedFlowRow[]): void => {
    const batch: ExportedBatch = { token, rows: rows.map(({ flow, row }) => exportedRowOf(flow, row)) };
    for (const queue of this.queues.values()) queue.offer(batch);
  };

  /** Waits (at most drainMs) for the queues to empty; true when they did. */
  async drain(): Promise<boolean> {
    const deadline = this.clock() + this.drainMs;
    const results = await Promise.all([...this.queues.values()].map((q) => q.drain(deadline, this.clock)));
    return results.every(Boolean);
  }

  counters(): Array<{ sink: SinkKind; name: string } & SinkCounters> {
    return [...this.queues].map(([sink, queue]) => ({ sink, name: queue.sink.name, ...queue.stats() }));
  }

  /** The counters' increase since the last call, one metric set per sink. */
  publish(metrics: Metrics): void {
    for (const { sink, ...now } of this.counters()) {
      const before = this.published.get(sink);
      const single = metrics.singleMetric();
      single.addDimension('sink', sink);
      single.addMetric(SINK_ROWS_SENT_METRIC, MetricUnit.Count, now.rowsSent - (before?.rowsSent ?? 0));
      single.addMetric(SINK_RETRIES_METRIC, MetricUnit.Count, now.retries - (before?.retries ?? 0));
      single.addMetric(
        SINK_ROWS_DROPPED_METRIC,
        MetricUnit.Count,
        now.rowsDropped - (before?.rowsDropped ?? 0),
      );
      single.addMetric(SINK_QUEUED_ROWS_METRIC, MetricUnit.Count, now.queuedRows);
      single.publishStoredMetrics();
      this.published.set(sink, now);
    }
  }
}

export function createExtraSinks(config: SinksConfig, deps: SinkDeps): ExtraSinks {
  const queues = new Map<SinkKind, SinkQueue>();
  const queueFor = (kind: SinkKind, sink: BatchSink) =>
    new SinkQueue(sink, {
      maxQueuedRows: config.maxQueuedRows,
      backoffBaseMs: config.backoffBaseMs,
      backoffCapMs: config.backoffCapMs,
      sleep: deps.sleep,
      onDeliveryError: (error, batch, attempt) =>
        deps.logger?.warn('sink delivery failed, retrying the batch', {
          sink: kind,
          target: sink.name,
          token: batch.token,
          rows: batch.rows.length,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        }),
      onDrop: (batch) =>
        deps.logger?.error('sink queue full: oldest batch dropped for this sink (ClickHouse has it)', {
          sink: kind,
          target: sink.name,
          token: batch.token,
          rows: batch.rows.length,
        }),
    });
  if (config.ipfix) {
    const ipfix = config.ipfix;
    const exporter = new IpfixExporter({
      transport: ipfix.transport,
      host: ipfix.host,
      port: ipfix.port,
      format: ipfix.format,
      observationDomainId: ipfix.observationDomainId ?? observationDomainIdOf(deps.clusterUUID),
      clusterId: ipfix.clusterId ?? deps.clusterUUID,
      maxMessageBytes: ipfix.maxMessageBytes,
      templateRefreshMs: ipfix.templateRefreshMs,
      connectTimeoutMs: EXPORTER_DEFAULTS.connectTimeoutMs,
      tls: ipfix.transport === 'tls' ? { ca: ipfix.tlsCa, serverName: ipfix.tlsServerName } : undefined,
      clock: deps.clock,
    });
    queues.set('ipfix', queueFor('ipfix', exporter));
  }
  if (config.archive) {
    if (!deps.s3) throw new Error('the S3 archive needs an S3 client');
    queues.set('archive', queueFor('archive', new S3ParquetArchive(deps.s3, config.archive)));
  }
  return new ExtraSinks(queues, config.drainMs, deps.clock);
}
