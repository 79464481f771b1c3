// The ticker: closes the export periods of flows no record reaches (functions/ticker), so their rows reach
// the table's stream like the correlator's (docs/flow-state-and-scale-out.md, stream export model).
//
// EventBridge schedules tick at most once a minute, while Antrea's commitInterval is 8 s. So each scheduled
// invocation runs a round every COMMIT_INTERVAL_SECONDS for RUN_FOR_SECONDS (55 s by default), then returns
// before the next tick; it returns after its first round when no flow is open (at rest: one short round a
// minute, docs/cost.md). Reserved concurrency 1 makes runs strictly sequential: a tick that arrives while a
// run is still going is throttled and, with no retries and a 60 s maximum event age, dropped rather than
// queued; the next tick starts the next run. With N tickers (context tickerCount) each is its own function,
// schedule and reserved concurrency, on its own due-index shards. The ticker never reaches ClickHouse.
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { TickerPartition } from '../core/flow-state/ports.ts';
import { METRICS_NAMESPACE, TICKER_SERVICE_NAME } from '../functions/shared/metric-names.ts';
import type { FlowLayoutKind } from './config.ts';
import { type FlowSchedule, type FlowStore, scheduleEnvironment } from './flow-store.ts';
import { FlowlineFunction } from './flowline-function.ts';

export const TICKER_ENTRY = 'functions/ticker/handler.ts';

/**
 * What the ticker does to the table (functions/ticker/ticker.ts on functions/flow-store/export-queue.ts):
 * read the flows the due index names, and write each back advanced, conditional on its version.
 */
export function tickerTableActions(layout: FlowLayoutKind): string[] {
  return [
    'dynamodb:BatchGetItem',
    // The conditional writes: PartiQL UPDATEs, 25 to a BatchExecuteStatement; buckets: PutItems.
    layout === 'buckets' ? 'dynamodb:PutItem' : 'dynamodb:PartiQLUpdate',
  ];
}

/** Time the last round of a run may take beyond RUN_FOR_SECONDS before Lambda stops the run. */
export const TICKER_FINAL_ROUND_SECONDS = 15;

export interface TickerProps {
  store: FlowStore;
  schedule: FlowSchedule;
  commitIntervalSeconds: number;
  runForSeconds: number;
  memoryMb: number;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** Which of N tickers this is: its due-index shards (functions/ticker/config.ts). */
  partition: TickerPartition;
}

export class Ticker extends Construct {
  readonly function: lambda.Function;
  readonly functionConstruct: FlowlineFunction;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: TickerProps) {
    super(scope, id);

    const { index, count } = props.partition;
    const which = count > 1 ? ` ${index + 1} of ${count}` : '';
    this.functionConstruct = new FlowlineFunction(this, 'Handler', {
      entry: TICKER_ENTRY,
      description: `Flowline ticker${which}: closes the export periods of idle flows, every commit interval`,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.runForSeconds + TICKER_FINAL_ROUND_SECONDS),
      reservedConcurrentExecutions: 1,
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      environment: {
        TABLE_NAME: props.store.table.tableName,
        DUE_INDEX_NAME: props.store.schema.dueIndex.name,
        ...scheduleEnvironment(props.schedule),
        COMMIT_INTERVAL_SECONDS: String(props.commitIntervalSeconds),
        RUN_FOR_SECONDS: String(props.runForSeconds),
        TICKER_INDEX: String(index),
        TICKER_COUNT: String(count),
        POWERTOOLS_SERVICE_NAME: TICKER_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.function = this.functionConstruct.function;
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    props.store.grantDueIndexQuery(this.function);
    props.store.grantItemActions(this.function, tickerTableActions(props.schedule.layout));

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Starts a Flowline ticker${which} run every minute`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
    });
    this.schedule.addTarget(
      new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.seconds(60) }),
    );
  }
}
