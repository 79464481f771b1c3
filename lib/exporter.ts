// The exporter: reads the flow table's stream (NEW_IMAGE) and inserts into ClickHouse the rows each write
// closed (functions/exporter; docs/flow-state-and-scale-out.md, stream export model).
//
// Its event source mapping never gives a record up while the stream holds it: no bisect, so a failed batch
// is delivered again from the same record (what the exporter's intents rely on), unlimited retries and no
// record age; a batch that outlives the stream's 24 hours lands, as its shard and sequence range, in an
// encrypted on-failure queue. A filter keeps every write without closed rows away from the function: the
// correlator's writes that closed nothing, the exporter's own intent items and the sinks' outbox (whose
// `rows` is a number), so most writes never invoke it and its intents never feed back into it.

import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ATTR, INTENT_PK_PREFIX } from '../functions/flow-store/schema.ts';
import { EXPORTER_SERVICE_NAME, METRICS_NAMESPACE } from '../functions/shared/metric-names.ts';
import type { ClickHouseSecret } from './clickhouse-secret.ts';
import { EXPORTER_BATCH_SIZE, EXPORTER_BATCHING_WINDOW_SECONDS } from './config.ts';
import type { FlowStore } from './flow-store.ts';
import { FlowlineFunction } from './flowline-function.ts';

export const EXPORTER_ENTRY = 'functions/exporter/handler.ts';

/** What the exporter does to its intents: a consistent read before each range, a put to record one. */
export const EXPORTER_INTENT_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem'];

/**
 * Only records whose new image has a binary `rows`: the closed rows of a flow's write. Lambda filters
 * DynamoDB JSON as it is, so the pattern names the attribute's type, and `exists` matches that leaf.
 */
export const EXPORTER_FILTER_PATTERN = {
  dynamodb: { NewImage: { [ATTR.rows]: { B: lambda.FilterRule.exists() } } },
};

export interface ExporterProps {
  store: FlowStore;
  clickHouse: ClickHouseSecret;
  clickHouseUrl: string;
  clickHouseDatabase: string;
  /** Used when the secret has no username. */
  clickHouseUsername: string;
  /** Antrea's cluster UUID, written into every row (clusterUUID column). */
  clusterUuid: string;
  memoryMb: number;
  timeoutSeconds: number;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /**
   * On-failure destination of the stream mapping (batches that outlived the stream): the correlator's
   * queue, so that one queue and one alarm cover both mappings (the messages say which stream).
   */
  failureQueue: sqs.IQueue;
}

export class Exporter extends Construct {
  readonly function: lambda.Function;
  readonly functionConstruct: FlowlineFunction;
  /** On-failure destination of the stream mapping: batches that outlived the stream. */
  readonly failureQueue: sqs.IQueue;
  readonly eventSource: DynamoEventSource;

  constructor(scope: Construct, id: string, props: ExporterProps) {
    super(scope, id);

    this.failureQueue = props.failureQueue;

    this.functionConstruct = new FlowlineFunction(this, 'Handler', {
      entry: EXPORTER_ENTRY,
      description: "Flowline exporter: the flow table's stream -> closed rows -> ClickHouse, exactly once",
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      environment: {
        TABLE_NAME: props.store.table.tableName,
        CLICKHOUSE_URL: props.clickHouseUrl,
        CLICKHOUSE_DATABASE: props.clickHouseDatabase,
        CLICKHOUSE_USER: props.clickHouseUsername,
        CLICKHOUSE_SECRET_ARN: props.clickHouse.secret.secretArn,
        // The name functions/exporter/clickhouse-target.ts clickHouseTargetFromEnv reads (Secrets Manager takes an ARN).
        CLICKHOUSE_SECRET_ID: props.clickHouse.secret.secretArn,
        CLUSTER_UUID: props.clusterUuid,
        POWERTOOLS_SERVICE_NAME: EXPORTER_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.function = this.functionConstruct.function;
    props.store.grantItemActions(this.function, EXPORTER_INTENT_ACTIONS, [`${INTENT_PK_PREFIX}*`]);
    props.clickHouse.secret.grantRead(this.function);

    // Binds with table.grantStreamRead: the stream's read actions, and the table key to decrypt them.
    this.eventSource = new DynamoEventSource(props.store.table, {
      // Writes made before the mapping exists (first deploy) are exported, not skipped.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: EXPORTER_BATCH_SIZE,
      maxBatchingWindow: Duration.seconds(EXPORTER_BATCHING_WINDOW_SECONDS),
      parallelizationFactor: 1,
      bisectBatchOnError: false,
      retryAttempts: -1,
      onFailure: new SqsDlq(this.failureQueue),
      filters: [lambda.FilterCriteria.filter(EXPORTER_FILTER_PATTERN)],
    });
    this.function.addEventSource(this.eventSource);
    Validations.of(this.functionConstruct.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams, which Lambda needs to poll a table stream, has no resource-level permission, so table.grantStreamRead grants it on "*"; it lists stream ARNs only, and every read action is on this table\'s stream',
    });
    // No record age limit (-1), which maxRecordAge cannot express (it takes 60 s to 7 days): a record is
    // retried until the stream itself drops it.
    const mapping = this.function.node
      .findAll()
      .find((c): c is lambda.CfnEventSourceMapping => c instanceof lambda.CfnEventSourceMapping);
    if (!mapping) throw new Error('the exporter has no event source mapping');
    mapping.addPropertyOverride('MaximumRecordAgeInSeconds', -1);
  }
}
