// The exporter's extra sinks, built from their configuration: the enabled sinks behind one durable outbox
// (outbox.ts), fed by the exporter's onBatchExported hook, and their counters as CloudWatch metrics
// (Powertools, EMF) with a `sink` dimension ("ipfix", "archive", "flowlog"). The names the alarms watch are in
// functions/shared/metric-names.ts.

import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SinkOutboxStore } from '../../core/flow-state/ports.ts';
import type { PendingRow } from '../exporter/batch.ts';
import { OUTBOX_CHUNK_BYTES } from '../flow-store/sink-outbox.ts';
import {
  SINK_BACKLOG_AGE_METRIC,
  SINK_QUEUED_ROWS_METRIC,
  SINK_RETRIES_METRIC,
  SINK_ROWS_DROPPED_METRIC,
  SINK_ROWS_SENT_METRIC,
} from '../shared/metric-names.ts';
import { observationDomainIdOf } from './antrea-ipfix.ts';
import { collectorTlsOf, type SecretReader } from './collector-tls.ts';
import type { FlowLogConfig, SinksConfig } from './config.ts';
import { CloudWatchFlowLog, FileFlowLog } from './flow-log-targets.ts';
import { EXPORTER_DEFAULTS, IpfixExporter } from './ipfix-exporter.ts';
import { type BatchSink, type SinkCounters, SinkOutbox } from './outbox.ts';
import { S3Archive } from './s3-archive.ts';

export type SinkKind = 'ipfix' | 'archive' | 'flowlog';

export interface SinkDeps {
  clusterUUID: string;
  /** Where the outbox lives (the flow table; functions/flow-store/sink-outbox.ts). */
  outbox: SinkOutboxStore;
  /** Required when the archive is enabled. */
  s3?: S3Client;
  /** Required when the flow log goes to CloudWatch Logs. */
  logs?: CloudWatchLogsClient;
  /** Required when the IPFIX export's TLS material is in Secrets Manager (IPFIX_EXPORT_TLS_SECRET_ID). */
  readSecret?: SecretReader;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

export class ExtraSinks {
  private readonly published = new Map<SinkKind, SinkCounters>();

  constructor(
    readonly sinks: ReadonlyMap<SinkKind, BatchSink>,
    readonly outbox: SinkOutbox,
    private readonly drainMs: number,
    private readonly clock: () => number,
  ) {}

  get enabled(): boolean {
    return this.sinks.size > 0;
  }

  /** The exporter's onBatchExported: the batch in the outbox for every sink; resolves once it is stored. */
  readonly onBatchExported = (token: string, rows: readonly PendingRow[]): Promise<void> =>
    this.outbox.append(token, rows);

  /** Resumes delivering what an earlier container left in the outbox; returns at once, never throws. */
  resume(): void {
    this.outbox.resume();
  }

  /** Waits (at most drainMs) for every sink to deliver the whole outbox; true when they did. */
  drain(): Promise<boolean> {
    return this.outbox.drain(this.clock() + this.drainMs, this.clock);
  }

  counters(): Array<{ sink: SinkKind; name: string } & SinkCounters> {
    return [...this.sinks].map(([sink, target]) => ({ sink, name: target.name, ...this.outbox.stats(sink) }));
  }

  /** The counters' increase since the last call, and the backlog, one metric set per sink. */
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
      single.addMetric(SINK_BACKLOG_AGE_METRIC, MetricUnit.Seconds, now.backlogAgeSeconds);
      single.publishStoredMetrics();
      this.published.set(sink, now);
    }
  }
}

function flowLogOf(config: FlowLogConfig, deps: SinkDeps, owner: string): BatchSink {
  if ('file' in config) return new FileFlowLog({ ...config, path: config.file });
  if (!deps.logs) throw new Error('the flow log needs a CloudWatch Logs client');
  return new CloudWatchFlowLog(deps.logs, { ...config, owner, clock: deps.clock });
}

export function createExtraSinks(config: SinksConfig, deps: SinkDeps): ExtraSinks {
  const sinks = new Map<SinkKind, BatchSink>();
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
      tls: ipfix.tls ? collectorTlsOf(ipfix.tls, deps.readSecret) : undefined,
      clock: deps.clock,
    });
    sinks.set('ipfix', exporter);
  }
  if (config.archive) {
    if (!deps.s3) throw new Error('the S3 archive needs an S3 client');
    sinks.set('archive', new S3Archive(deps.s3, config.archive));
  }
  // The container's name: its outbox lease holder, and its flow log stream.
  const owner = randomUUID();
  if (config.flowLog) sinks.set('flowlog', flowLogOf(config.flowLog, deps, owner));
  const target = (kind: string) => sinks.get(kind as SinkKind)?.name;
  const outbox = new SinkOutbox(deps.outbox, sinks, {
    maxQueuedRows: config.maxQueuedRows,
    maxChunkBytes: OUTBOX_CHUNK_BYTES,
    backoffBaseMs: config.backoffBaseMs,
    backoffCapMs: config.backoffCapMs,
    clock: deps.clock,
    sleep: deps.sleep,
    owner,
    onDeliveryError: (sink, error, batch, attempt) =>
      deps.logger?.warn('sink delivery failed, retrying the batch', {
        sink,
        target: target(sink),
        token: batch.token,
        rows: batch.rows.length,
        attempt,
        error: error instanceof Error ? error.message : String(error),
      }),
    onDrop: (sink, dropped) =>
      deps.logger?.error(
        'sink outbox over its bound: oldest batch dropped for this sink (ClickHouse has it)',
        {
          sink,
          target: target(sink),
          ...dropped,
        },
      ),
    onStoreError: (error, doing) =>
      deps.logger?.warn('sink outbox table request failed, retrying', {
        doing,
        error: error instanceof Error ? error.message : String(error),
      }),
  });
  return new ExtraSinks(sinks, outbox, config.drainMs, deps.clock);
}
