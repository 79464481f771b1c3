// The flusher: exports due flows from DynamoDB to ClickHouse every commitInterval.
//
// EventBridge schedules tick at most once a minute, while Antrea's commitInterval is 8 s. So each scheduled
// invocation commits in a loop, every COMMIT_INTERVAL_SECONDS, for RUN_FOR_SECONDS (55 s by default), then
// returns before the next tick; it returns after its first round when no flow is open (at rest: one short
// round a minute, docs/cost.md). Reserved concurrency 1 makes runs strictly sequential: a tick that arrives
// while a run is still going is throttled and, with no retries and a 60 s maximum event age, dropped rather
// than queued; the next tick starts the next run. With N flushers (context flusherCount) each is its own
// function, schedule and reserved concurrency, on its own due shards and manifest slots.
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { TickerPartition } from '../core/flow-state/ports.ts';
import { FLUSHER_SERVICE_NAME, METRICS_NAMESPACE } from '../functions/shared/metric-names.ts';
import type { ClickHouseSecret } from './clickhouse-secret.ts';
import { type FlowSchedule, type FlowStore, scheduleEnvironment } from './flow-store.ts';
import { FlowlineFunction } from './flowline-function.ts';

export const FLUSHER_ENTRY = 'functions/flusher/handler.ts';

/**
 * What the flusher does to the table (functions/flow-store/export-queue.ts): read due flows, mark them
 * exported (conditional update), and write / replay / delete its pending-export manifest items.
 */
export const FLUSHER_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  // The "mark exported" writes: PartiQL UPDATEs, 25 to a BatchExecuteStatement.
  'dynamodb:PartiQLUpdate',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/** Time the last commit of a run may take beyond RUN_FOR_SECONDS before Lambda stops the run. */
export const FLUSHER_FINAL_COMMIT_SECONDS = 15;

export interface FlusherProps {
  store: FlowStore;
  clickHouse: ClickHouseSecret;
  clickHouseUrl: string;
  clickHouseDatabase: string;
  /** Used when the secret has no username. */
  clickHouseUsername: string;
  /** Antrea's cluster UUID, written into every row (clusterUUID column). */
  clusterUuid: string;
  schedule: FlowSchedule;
  commitIntervalSeconds: number;
  runForSeconds: number;
  memoryMb: number;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** Which of N flushers this is: its due shards and manifest slots (functions/exporter/clickhouse-target.ts). */
  partition: TickerPartition;
}

export class Flusher extends Construct {
  readonly function: lambda.Function;
  readonly functionConstruct: FlowlineFunction;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: FlusherProps) {
    super(scope, id);

    const { index, count } = props.partition;
    const which = count > 1 ? ` ${index + 1} of ${count}` : '';
    this.functionConstruct = new FlowlineFunction(this, 'Handler', {
      entry: FLUSHER_ENTRY,
      description: `Flowline flusher${which}: due flows in DynamoDB -> ClickHouse rows, every commit interval`,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.runForSeconds + FLUSHER_FINAL_COMMIT_SECONDS),
      reservedConcurrentExecutions: 1,
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      environment: {
        TABLE_NAME: props.store.table.tableName,
        DUE_INDEX_NAME: props.store.schema.dueIndex.name,
        ...scheduleEnvironment(props.schedule),
        COMMIT_INTERVAL_SECONDS: String(props.commitIntervalSeconds),
        RUN_FOR_SECONDS: String(props.runForSeconds),
        CLICKHOUSE_URL: props.clickHouseUrl,
        CLICKHOUSE_DATABASE: props.clickHouseDatabase,
        CLICKHOUSE_USER: props.clickHouseUsername,
        CLICKHOUSE_SECRET_ARN: props.clickHouse.secret.secretArn,
        // The name functions/exporter/clickhouse-target.ts reads (Secrets Manager accepts an ARN as SecretId).
        CLICKHOUSE_SECRET_ID: props.clickHouse.secret.secretArn,
        CLUSTER_UUID: props.clusterUuid,
        FLUSHER_INDEX: String(index),
        FLUSHER_COUNT: String(count),
        POWERTOOLS_SERVICE_NAME: FLUSHER_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.function = this.functionConstruct.function;
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    props.store.grantDueIndexQuery(this.function);
    props.store.grantItemActions(this.function, FLUSHER_TABLE_ACTIONS);
    props.clickHouse.secret.grantRead(this.function);

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Starts a Flowline flusher${which} run every minute`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
    });
    this.schedule.addTarget(
      new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.seconds(60) }),
    );
  }
}
