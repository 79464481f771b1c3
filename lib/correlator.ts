// The correlator: a Lambda function fed by the ingest stream through an event source mapping with partial
// batch failure reporting, bisection, bounded retries and record age, and an SQS on-failure destination
// (which receives the shard and sequence range of a batch given up on, for replay from the stream).
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CORRELATOR_SERVICE_NAME, METRICS_NAMESPACE } from '../functions/shared/metric-names.ts';
import type { FlowLayoutKind } from './config.ts';
import { type FlowSchedule, type FlowStore, scheduleEnvironment } from './flow-store.ts';
import { FlowlineFunction } from './flowline-function.ts';
import type { IngestStream } from './ingest-stream.ts';

export const CORRELATOR_ENTRY = 'functions/correlator/handler.ts';

/**
 * What the correlator does to the table (functions/flow-store/store.ts): read states, conditional updates
 * (each also closes the rows that fell due, which the table's stream takes to the exporter).
 */
/** One item per flow: conditional UpdateItems; buckets: conditional PutItems of buckets and names items. */
export function correlatorTableActions(layout: FlowLayoutKind): string[] {
  return ['dynamodb:BatchGetItem', layout === 'buckets' ? 'dynamodb:PutItem' : 'dynamodb:UpdateItem'];
}

export interface CorrelatorProps {
  ingest: IngestStream;
  store: FlowStore;
  schedule: FlowSchedule;
  /** The lazy due-index key (INDEX_SLACK_SECONDS, INDEX_MARGIN_SECONDS; core/flow-state/advance.ts). */
  indexSlackSeconds: number;
  indexMarginSeconds: number;
  batchSize: number;
  batchingWindowSeconds: number;
  parallelizationFactor: number;
  maxRetryAttempts: number;
  maxRecordAgeSeconds: number;
  memoryMb: number;
  timeoutSeconds: number;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

export class Correlator extends Construct {
  readonly function: lambda.Function;
  readonly functionConstruct: FlowlineFunction;
  readonly failureQueue: sqs.Queue;
  readonly eventSource: KinesisEventSource;

  constructor(scope: Construct, id: string, props: CorrelatorProps) {
    super(scope, id);

    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      enforceSSL: true,
      // The messages name sequence ranges still to be replayed; keep them as long as SQS allows.
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });

    this.functionConstruct = new FlowlineFunction(this, 'Handler', {
      entry: CORRELATOR_ENTRY,
      description: 'Flowline correlator: Kinesis FlowRecords -> aggregated flows in DynamoDB',
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      environment: {
        TABLE_NAME: props.store.table.tableName,
        DUE_INDEX_NAME: props.store.schema.dueIndex.name,
        ...scheduleEnvironment(props.schedule),
        INDEX_SLACK_SECONDS: String(props.indexSlackSeconds),
        POWERTOOLS_SERVICE_NAME: CORRELATOR_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.function = this.functionConstruct.function;
    props.store.grantItemActions(this.function, correlatorTableActions(props.schedule.layout));

    this.eventSource = new KinesisEventSource(props.ingest.stream, {
      // Records put before the mapping exists (first deploy, replays) are processed, not skipped.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize,
      maxBatchingWindow: Duration.seconds(props.batchingWindowSeconds),
      parallelizationFactor: props.parallelizationFactor,
      bisectBatchOnError: true,
      retryAttempts: props.maxRetryAttempts,
      maxRecordAge: Duration.seconds(props.maxRecordAgeSeconds),
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.failureQueue),
    });
    this.function.addEventSource(this.eventSource);
  }
}
