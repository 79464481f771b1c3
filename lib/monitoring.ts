// Alarms and, opt-in, a dashboard for the pipeline. Alarms notify an SNS topic (encrypted, TLS-only),
// optionally subscribed by e-mail; what each means and what to do is in docs/operations.md. The dashboard
// shows the AWS metrics and the functions' own (functions/shared/metric-names.ts, CloudWatch EMF). It is
// opt-in (context `dashboard`) because it is a standing $3 a month, a fifth of the at-rest bill
// (docs/cost.md), and the alarms, not the dashboard, are what tells an operator something is wrong.
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  CORRELATOR_METRICS,
  CORRELATOR_SERVICE_NAME,
  EXPORT_LAG_METRIC,
  EXPORTER_METRICS,
  EXPORTER_SERVICE_NAME,
  INSERT_FAILURES_METRIC,
  METRICS_NAMESPACE,
  REJECTED_ROWS_METRIC,
  STALE_CONNECTION_RECORDS_METRIC,
  TICKER_METRICS,
  TICKER_SERVICE_NAME,
} from '../functions/shared/metric-names.ts';
import type { FlowStore } from './flow-store.ts';
import type { IngestStream } from './ingest-stream.ts';

export interface MonitoringProps {
  ingest: IngestStream;
  store: FlowStore;
  correlator: lambda.IFunction;
  /** The correlator's on-failure queue (Kinesis batches given up on). */
  failureQueue: sqs.IQueue;
  /** Every ticker function (context tickerCount); ticker 0's alarms keep a single ticker's names. */
  tickers: lambda.IFunction[];
  exporter: lambda.IFunction;
  /** The exporter's on-failure queue (stream batches that outlived the flow table's stream). */
  alarmEmail: string | undefined;
  /** Create the CloudWatch dashboard. */
  dashboard: boolean;
  iteratorAgeAlarmSeconds: number;
  exportLagAlarmSeconds: number;
  removalPolicy: RemovalPolicy;
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  /** Only with context `dashboard`. */
  readonly dashboard: cloudwatch.Dashboard | undefined;
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // AWS managed aws/sns cannot be used: CloudWatch must be allowed to use the key in its policy.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Flowline alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Flowline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const notify = new cwActions.SnsAction(this.topic);

    const fiveMinutes = Duration.minutes(5);
    const oneMinute = Duration.minutes(1);
    const add = (
      alarmId: string,
      metric: cloudwatch.Metric | cloudwatch.MathExpression,
      options: Omit<cloudwatch.CreateAlarmOptions, 'evaluationPeriods'> & { evaluationPeriods?: number },
    ): void => {
      const alarm = metric.createAlarm(this, alarmId, { evaluationPeriods: 1, ...options });
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      this.alarms[alarmId] = alarm;
    };

    const iteratorAge = props.correlator.metric('IteratorAge', { statistic: 'Maximum', period: oneMinute });
    add('CorrelatorIteratorAge', iteratorAge, {
      alarmDescription: `The correlator is more than ${props.iteratorAgeAlarmSeconds} s behind the ingest stream`,
      threshold: props.iteratorAgeAlarmSeconds * 1000,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The exporter's mapping retries a batch until the stream drops it (24 h): falling behind is the sign
    // that ClickHouse keeps refusing its inserts, long before anything is lost.
    const exporterIteratorAge = props.exporter.metric('IteratorAge', {
      statistic: 'Maximum',
      period: oneMinute,
    });
    add('ExporterIteratorAge', exporterIteratorAge, {
      alarmDescription: `The exporter is more than ${props.iteratorAgeAlarmSeconds} s behind the flow table's stream`,
      threshold: props.iteratorAgeAlarmSeconds * 1000,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const queueDepth = (queue: sqs.IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: fiveMinutes });
    const dlqDepth = queueDepth(props.failureQueue);
    add('FailureQueueNotEmpty', dlqDepth, {
      alarmDescription:
        'Batches were given up on: Kinesis batches (replay them from the stream before retention ends) or flow table stream batches that outlived the stream (their rows are missing from ClickHouse)',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const tickers = props.tickers.map((fn, i) => [i === 0 ? 'Ticker' : `Ticker${i}`, fn] as const);
    const errorsAlarm = (name: string, fn: lambda.IFunction) =>
      add(`${name}Errors`, fn.metricErrors({ statistic: 'Sum', period: fiveMinutes }), {
        alarmDescription: `The ${name.toLowerCase()} function failed`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    for (const [name, fn] of [['Correlator', props.correlator] as const, ...tickers]) errorsAlarm(name, fn);
    // Throttles of the correlator: an account or function concurrency limit holds the pipeline back. A
    // ticker cannot be throttled by its own reserved concurrency (its timeout ends before the next
    // scheduled run); a limit that throttled it would throttle the correlator too. The exporter has no
    // errors or throttles alarm of its own: every failed batch counts in InsertFailures, and a batch that
    // keeps failing or is throttled shows in its iterator age.
    add('CorrelatorThrottles', props.correlator.metricThrottles({ statistic: 'Sum', period: fiveMinutes }), {
      alarmDescription: 'The correlator function is throttled',
      threshold: 0,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    /** A metric a function emits (Powertools EMF, `service` dimension). */
    const customMetric =
      (service: string) =>
      (metricName: string, statistic = 'Sum', period: Duration = fiveMinutes) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: { service },
          statistic,
          period,
        });
    const tickerMetric = customMetric(TICKER_SERVICE_NAME);
    const exporterMetric = customMetric(EXPORTER_SERVICE_NAME);
    const correlatorMetric = customMetric(CORRELATOR_SERVICE_NAME);

    const poisonRecords = correlatorMetric(CORRELATOR_METRICS.poisonRecords);
    add('PoisonRecords', poisonRecords, {
      alarmDescription:
        'Kinesis records that do not decode reached the correlator; the log has each one, the on-failure queue its range',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The tickers' lag: how far past its due-index time the oldest flow still waits (a live flow's key
    // already includes the lazy slack, so this is lateness beyond what the design accepts).
    const exportLag = tickerMetric(EXPORT_LAG_METRIC, 'Maximum', oneMinute);
    add('ExportLag', exportLag, {
      alarmDescription: `Flows wait more than ${props.exportLagAlarmSeconds} s past their due-index time for a ticker to close their export period`,
      threshold: props.exportLagAlarmSeconds,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const rejectedRows = exporterMetric(REJECTED_ROWS_METRIC, 'Sum', fiveMinutes);
    add('RejectedRows', rejectedRows, {
      alarmDescription:
        'Rows were left out of ClickHouse because a value does not fit its column; the exporter log has each row',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The exporter never pings ClickHouse (a ping would keep ClickHouse Cloud awake at rest): failed inserts
    // are the health signal. Two 5-minute periods: a failure the mapping's next delivery gets past is no alarm.
    const insertFailures = exporterMetric(INSERT_FAILURES_METRIC, 'Sum', fiveMinutes);
    add('InsertFailures', insertFailures, {
      alarmDescription:
        "ClickHouse has refused or not answered the exporter's inserts for 10 minutes; the rows wait in the flow table's stream (24 h)",
      threshold: 0,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const staleRecords = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: STALE_CONNECTION_RECORDS_METRIC,
      dimensionsMap: { service: CORRELATOR_SERVICE_NAME },
      statistic: 'Sum',
      period: fiveMinutes,
    });
    add('StaleConnectionRecords', staleRecords, {
      alarmDescription:
        'Records of an ended connection arrived after a newer connection on the same 5-tuple started; ' +
        'their counts not yet counted were dropped (docs/exactly-once.md)',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The lag metric is absent when a ticker does not run at all; this catches that case.
    for (const [name, fn] of tickers) {
      add(`${name}NotRunning`, fn.metricInvocations({ statistic: 'Sum', period: fiveMinutes }), {
        alarmDescription: `The scheduled ${name.toLowerCase()} has not run for 5 minutes`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }

    const stream = props.ingest.stream;
    const table = props.store.table;
    // Throttling the SDKs retry through is normal for a moment; ten minutes of it means too little capacity.
    const sustained = { threshold: 0, evaluationPeriods: 2, datapointsToAlarm: 2 };
    const tableThrottles = new cloudwatch.MathExpression({
      label: 'DynamoDB throttled events (table and due index, read and write)',
      expression: 'tr + tw + ir + iw',
      usingMetrics: {
        tr: table.metric('ReadThrottleEvents', { statistic: 'Sum' }),
        tw: table.metric('WriteThrottleEvents', { statistic: 'Sum' }),
        ir: table.metric('ReadThrottleEvents', {
          statistic: 'Sum',
          dimensionsMap: {
            TableName: table.tableName,
            GlobalSecondaryIndexName: props.store.schema.dueIndex.name,
          },
        }),
        iw: table.metric('WriteThrottleEvents', {
          statistic: 'Sum',
          dimensionsMap: {
            TableName: table.tableName,
            GlobalSecondaryIndexName: props.store.schema.dueIndex.name,
          },
        }),
      },
      period: fiveMinutes,
    });
    add('TableThrottled', tableThrottles, {
      alarmDescription:
        'DynamoDB throttled the flow table or its due index for 10 minutes: raise capacity (provisioned) or check hot keys',
      ...sustained,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // One alarm for both directions (an alarm is a standing cost; the description says which to look at).
    const streamThrottles = new cloudwatch.MathExpression({
      label: 'Kinesis throttled records (collectors\u2019 PutRecords) and reads (correlator)',
      expression: 'w + r',
      usingMetrics: {
        w: stream.metricPutRecordsThrottledRecords({ statistic: 'Sum' }),
        r: stream.metricReadProvisionedThroughputExceeded({ statistic: 'Sum' }),
      },
      period: fiveMinutes,
    });
    add('StreamThrottled', streamThrottles, {
      alarmDescription:
        'Kinesis throttled the collectors\u2019 PutRecords (they spool and retry: add shards or use on-demand) or the ' +
        'correlator\u2019s reads (lower the parallelization factor or add shards) for 10 minutes; the dashboard shows which',
      ...sustained,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    if (!props.dashboard) return;
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard = dashboard;
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: Object.values(this.alarms),
        width: 24,
        height: 3,
      }),
    );
    dashboard.addWidgets(
      graph(
        'Ingest stream: records and bytes in',
        [stream.metricIncomingRecords({ statistic: 'Sum' })],
        [stream.metricIncomingBytes({ statistic: 'Sum' })],
      ),
      graph(
        'Ingest stream: throttling',
        [
          stream.metricPutRecordsThrottledRecords({ statistic: 'Sum' }),
          stream.metricPutRecordsFailedRecords({ statistic: 'Sum' }),
        ],
        [stream.metricReadProvisionedThroughputExceeded({ statistic: 'Sum', period: fiveMinutes })],
      ),
    );
    dashboard.addWidgets(
      graph('Correlator: iterator age (ms)', [iteratorAge]),
      graph(
        'Correlator: invocations, errors, throttles',
        [
          props.correlator.metricInvocations(),
          props.correlator.metricErrors(),
          props.correlator.metricThrottles(),
        ],
        [props.correlator.metricDuration({ statistic: 'p99' })],
      ),
    );
    const c = CORRELATOR_METRICS;
    dashboard.addWidgets(
      graph(
        'Correlator: flow records, poison records, write conflicts, failed flow keys',
        [correlatorMetric(c.flowRecords)],
        [poisonRecords, correlatorMetric(c.writeConflicts), correlatorMetric(c.failedFlowKeys)],
      ),
      graph(
        'Correlator: DynamoDB write units (total, per flow record)',
        [correlatorMetric(c.consumedWriteUnits)],
        [correlatorMetric(c.writeUnitsPerFlowRecord, 'Average')],
      ),
    );
    const tk = TICKER_METRICS;
    dashboard.addWidgets(
      graph('Ticker: flows due, rows closed, flows closed', [
        tickerMetric(tk.flowsDue),
        tickerMetric(tk.rowsClosed),
        tickerMetric(tk.closedFlows),
      ]),
      graph(
        'Ticker: export lag (s), failed rounds, write conflicts',
        [exportLag],
        [tickerMetric(tk.failedRounds), tickerMetric(tk.conflicts)],
      ),
    );
    const ex = EXPORTER_METRICS;
    dashboard.addWidgets(
      graph('Exporter: rows inserted, rows replayed, incomplete rows', [
        exporterMetric(ex.rowsInserted),
        exporterMetric(ex.replayedRows),
        exporterMetric(ex.incompleteRows),
      ]),
      graph('Exporter: insert failures, rejected rows', [insertFailures, rejectedRows]),
    );
    dashboard.addWidgets(
      graph('Exporter: iterator age on the flow table stream (ms)', [exporterIteratorAge]),
      graph(
        'Exporter: invocations, errors, throttles',
        [props.exporter.metricInvocations(), props.exporter.metricErrors(), props.exporter.metricThrottles()],
        [props.exporter.metricDuration({ statistic: 'p99' })],
      ),
    );
    dashboard.addWidgets(
      graph('On-failure queue depth: correlator (Kinesis) and exporter (table stream)', [dlqDepth]),
      graph(
        'Ticker: invocations, errors, throttles',
        props.tickers.flatMap((fn) => [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()]),
        props.tickers.map((fn) => fn.metricDuration({ statistic: 'Maximum' })),
      ),
    );
    dashboard.addWidgets(
      graph(
        'Flow store: consumed capacity and throttles',
        [
          table.metricConsumedWriteCapacityUnits({ statistic: 'Sum' }),
          table.metricConsumedReadCapacityUnits({ statistic: 'Sum' }),
        ],
        [table.metric('ConditionalCheckFailedRequests', { statistic: 'Sum' }), tableThrottles],
      ),
    );
  }
}
