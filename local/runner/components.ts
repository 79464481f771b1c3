// Pieces both local runs share: the in-process collector, the correlator's and the exporter's event source
// mappings built from the template, and a counting wrapper around the correlator (progress line, tests).
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { Collector } from '../../collector-edge/collector.ts';
import { type CollectorConfig, type ListenSpec, loadCollectorConfig } from '../../collector-edge/config.ts';
import { KinesisStreamSink } from '../../collector-edge/kinesis-sink.ts';
import { createLogger, type LogLevel } from '../../collector-edge/log.ts';
import type { KinesisSink } from '../../collector-edge/producer.ts';
import { decodeWireBatch } from '../../core/wire.ts';
import type { CheckpointStore } from '../esm/checkpoint-store.ts';
import type { Clock } from '../esm/clock.ts';
import { DynamoDbStreamReader } from '../esm/dynamodb-stream-reader.ts';
import type { StreamEventSourceMapping } from '../esm/emulator.ts';
import type { FailureDestination } from '../esm/failure-destination.ts';
import type { LambdaHandler } from '../esm/invoker.ts';
import { KinesisStreamReader, type StreamReader } from '../esm/stream-reader.ts';
import { templateEventSourceMapping } from '../esm/template-mapping.ts';
import type { LocalTopology } from './template.ts';

export interface LocalCollectorOptions {
  streamName: string;
  kinesis: KinesisClient;
  listen: ListenSpec[];
  spoolDir: string;
  now?: () => number;
  logLevel?: LogLevel;
  /** Serve /metrics on this host:port (port 0: a free one); off when undefined. */
  http?: string;
  wrapSink?: (sink: KinesisSink) => KinesisSink;
  /** Pod informer on the cluster (or test API server) of this kubeconfig: Pod metadata and labels. */
  kubernetes?: LocalKubernetesOptions;
  /** The stack's buckets (template.ts collectorFlowBucketsOf): a bucket's flows share a Kinesis lane. */
  flowBuckets?: number;
}

export interface LocalKubernetesOptions {
  kubeconfig: string;
  podLabels: boolean;
}

/** The edge collector in this process, configured as `flowline collect` would be (FLOWLINE_* settings apply). */
export async function startLocalCollector(
  options: LocalCollectorOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Collector> {
  const base = loadCollectorConfig(env, {
    stream: options.streamName,
    listen: 'tcp://127.0.0.1:0',
    'http-listen': options.http ?? '127.0.0.1:0',
    'spool-dir': options.spoolDir,
    ...(options.logLevel ? { 'log-level': options.logLevel } : {}),
    ...(options.flowBuckets ? { 'flow-buckets': String(options.flowBuckets) } : {}),
    // Every simulated Node connects from 127.0.0.1: one source, up to 100 agents (--demo-nodes).
    ...(env.FLOWLINE_MAX_CONNECTIONS_PER_SOURCE ? {} : { 'max-connections-per-source': '1024' }),
    ...(options.kubernetes
      ? {
          'k8s-metadata': 'on',
          kubeconfig: options.kubernetes.kubeconfig,
          'pod-labels': String(options.kubernetes.podLabels),
        }
      : {}),
  });
  const config: CollectorConfig = { ...base, listen: options.listen };
  const sink = new KinesisStreamSink(options.kinesis, options.streamName);
  return Collector.start(config, {
    sink: options.wrapSink ? options.wrapSink(sink) : sink,
    logger: createLogger(config.logLevel),
    http: options.http !== undefined,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** Flow records through the correlator: carried by its invocations, and finished (not reported as failed). */
export class CorrelatorCounters {
  invocations = 0;
  flowRecordsInvoked = 0;
  flowRecordsCompleted = 0;
  errors = 0;
}

/**
 * Calls `onRows` after each exporter invocation that inserted rows (its report's rowsInserted), so local
 * mode knows the moment the first rows are in ClickHouse instead of finding out at its next poll.
 */
export function watchingExporter(handler: LambdaHandler, onRows: (rows: number) => void): LambdaHandler {
  return async (event, context, callback) => {
    const result = await handler(event, context, callback);
    const rows = (result as { rowsInserted?: unknown } | undefined)?.rowsInserted;
    if (typeof rows === 'number' && rows > 0) onRows(rows);
    return result;
  };
}

/**
 * Counts what the correlator was given and finished. A Kinesis record counts as finished when the invocation
 * succeeded and it lies before the lowest reported failure (where the mapping checkpoints).
 */
export function countingCorrelator(handler: LambdaHandler, counters: CorrelatorCounters): LambdaHandler {
  return async (event, context, callback) => {
    const records = (event as { Records: Array<{ kinesis: { data: string; sequenceNumber: string } }> })
      .Records;
    const sizes = records.map((record) => {
      try {
        return decodeWireBatch(Buffer.from(record.kinesis.data, 'base64')).length;
      } catch {
        return 0; // the correlator reports it as poison; counted there
      }
    });
    counters.invocations += 1;
    counters.flowRecordsInvoked += sizes.reduce((a, b) => a + b, 0);
    let result: unknown;
    try {
      result = await handler(event, context, callback);
    } catch (error) {
      counters.errors += 1;
      throw error;
    }
    const failures = (result as { batchItemFailures?: Array<{ itemIdentifier?: string }> } | undefined)
      ?.batchItemFailures;
    const failed = new Set((failures ?? []).map((failure) => failure.itemIdentifier));
    const firstFailed = records.findIndex((record) => failed.has(record.kinesis.sequenceNumber));
    const done = firstFailed === -1 ? sizes : sizes.slice(0, firstFailed);
    counters.flowRecordsCompleted += done.reduce((a, b) => a + b, 0);
    return result;
  };
}

export interface CorrelatorMappingOptions {
  topology: LocalTopology;
  kinesis: KinesisClient;
  streamArn: string;
  handler: LambdaHandler;
  destination: FailureDestination;
  checkpoints: CheckpointStore;
  clock: Clock;
  wrapReader?: (reader: StreamReader) => StreamReader;
  pollIntervalMs?: number;
}

/** The correlator's event source mapping with the template's settings, function timeout and identity. */
export function correlatorMapping(options: CorrelatorMappingOptions): StreamEventSourceMapping {
  const reader = new KinesisStreamReader(options.kinesis, options.streamArn);
  return templateEventSourceMapping({
    stackName: options.topology.stackName,
    definition: options.topology.mapping,
    reader: options.wrapReader ? options.wrapReader(reader) : reader,
    handler: options.handler,
    destination: options.destination,
    checkpoints: options.checkpoints,
    clock: options.clock,
    ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
  });
}

export interface ExporterMappingOptions {
  topology: LocalTopology;
  streams: DynamoDBStreamsClient;
  /** The flow table's stream (PreparedStack.tableStreamArn). */
  tableStreamArn: string;
  handler: LambdaHandler;
  destination: FailureDestination;
  checkpoints: CheckpointStore;
  clock: Clock;
  /** Default DYNAMODB_STREAM_POLL_MS. */
  pollIntervalMs?: number;
}

/**
 * How often an idle shard of the table's stream is polled: Lambda polls DynamoDB stream shards at a base
 * rate of 4 times a second (Kinesis shards once a second, the emulator's default).
 */
export const DYNAMODB_STREAM_POLL_MS = 250;

/**
 * The exporter's event source mapping on the flow table's stream, with the template's settings (its filter
 * included: only writes that closed rows reach the exporter), function timeout and identity.
 */
export function exporterMapping(options: ExporterMappingOptions): StreamEventSourceMapping {
  return templateEventSourceMapping({
    stackName: options.topology.stackName,
    definition: options.topology.exporterMapping,
    reader: new DynamoDbStreamReader(options.streams, options.tableStreamArn),
    handler: options.handler,
    destination: options.destination,
    checkpoints: options.checkpoints,
    clock: options.clock,
    pollIntervalMs: options.pollIntervalMs ?? DYNAMODB_STREAM_POLL_MS,
  });
}
