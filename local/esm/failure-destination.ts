// On-failure destination of a stream mapping (reference §2.2). Lambda sends a record that names the discarded
// sequence range; for SQS and SNS the records themselves stay in the stream and are not included. The range is
// under KinesisBatchInfo for a Kinesis mapping and DDBStreamBatchInfo for a DynamoDB Streams one.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { eventSourceOfArn, type ShardRecord } from './shard-record.ts';
import type { StreamEvent } from './stream-event.ts';

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

interface OnFailureRecordBase {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: FailureCondition;
    approximateInvokeCount: number;
  };
  /** Absent for RecordAgeExceeded. */
  responseContext?: {
    statusCode: number;
    executedVersion: string;
    /** 'Unhandled' after a function error; null when the last attempt returned (partial or invalid response). */
    functionError: string | null;
  };
  version: '1.0';
  timestamp: string;
}

export interface StreamBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  approximateArrivalOfFirstRecord: string;
  approximateArrivalOfLastRecord: string;
  batchSize: number;
  streamArn: string;
}

export interface KinesisOnFailureRecord extends OnFailureRecordBase {
  KinesisBatchInfo: StreamBatchInfo;
  DDBStreamBatchInfo?: never;
}

export interface DynamoDbOnFailureRecord extends OnFailureRecordBase {
  DDBStreamBatchInfo: StreamBatchInfo;
  KinesisBatchInfo?: never;
}

export type OnFailureRecord = KinesisOnFailureRecord | DynamoDbOnFailureRecord;

export interface DiscardedBatch {
  readonly condition: FailureCondition;
  /** Records being discarded, in sequence order, all from one shard. */
  readonly records: readonly ShardRecord[];
  readonly approximateInvokeCount: number;
  /** The last attempt's outcome; undefined for RecordAgeExceeded. */
  readonly lastResponse?: { readonly functionError: string | null };
  readonly functionArn: string;
  readonly streamArn: string;
  readonly nowMs: number;
}

export function buildOnFailureRecord(batch: DiscardedBatch): OnFailureRecord {
  const first = batch.records[0];
  const last = batch.records[batch.records.length - 1];
  if (!first || !last) throw new Error('an on-failure record needs at least one discarded record');
  const batchInfo: StreamBatchInfo = {
    shardId: first.shardId,
    startSequenceNumber: first.sequenceNumber,
    endSequenceNumber: last.sequenceNumber,
    approximateArrivalOfFirstRecord: new Date(first.approximateArrivalMs).toISOString(),
    approximateArrivalOfLastRecord: new Date(last.approximateArrivalMs).toISOString(),
    batchSize: batch.records.length,
    streamArn: batch.streamArn,
  };
  // Keep AWS's key order: requestContext, responseContext (after a last attempt), version, timestamp, batch info.
  const base: OnFailureRecordBase = {
    requestContext: {
      requestId: randomUUID(),
      functionArn: batch.functionArn,
      condition: batch.condition,
      approximateInvokeCount: batch.approximateInvokeCount,
    },
    ...(batch.condition === 'RetryAttemptsExhausted' && batch.lastResponse
      ? {
          responseContext: {
            statusCode: 200,
            executedVersion: '$LATEST',
            functionError: batch.lastResponse.functionError,
          },
        }
      : {}),
    version: '1.0',
    timestamp: new Date(batch.nowMs).toISOString(),
  };
  return eventSourceOfArn(batch.streamArn) === 'aws:kinesis'
    ? { ...base, KinesisBatchInfo: batchInfo }
    : { ...base, DDBStreamBatchInfo: batchInfo };
}

/** Where discarded batches go. An SQS implementation sends `JSON.stringify(record)` as the message body. */
export interface FailureDestination {
  /** `payload` is the event of the discarded records, for destinations that keep it (S3 does, SQS/SNS do not). */
  send(record: OnFailureRecord, payload: StreamEvent): Promise<void>;
}

/**
 * Appends one on-failure record per line to `<directory>/<fileName>`, the local stand-in for the SQS queue.
 * With `includePayload` each line also carries `payload: {Records}` as an S3 destination object would.
 */
export class JsonLinesFailureDestination implements FailureDestination {
  readonly path: string;
  readonly #directory: string;
  readonly #includePayload: boolean;

  constructor(options: { directory: string; fileName?: string; includePayload?: boolean }) {
    this.#directory = options.directory;
    this.path = join(options.directory, options.fileName ?? 'on-failure.jsonl');
    this.#includePayload = options.includePayload ?? false;
  }

  async send(record: OnFailureRecord, payload: StreamEvent): Promise<void> {
    await mkdir(this.#directory, { recursive: true });
    const line = this.#includePayload ? { ...record, payload } : record;
    await appendFile(this.path, `${JSON.stringify(line)}\n`);
  }
}

/** Keeps records in memory: for a caller that inspects discarded batches directly. */
export class MemoryFailureDestination implements FailureDestination {
  readonly records: OnFailureRecord[] = [];

  async send(record: OnFailureRecord): Promise<void> {
    this.records.push(record);
  }
}
