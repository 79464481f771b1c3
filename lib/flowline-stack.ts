// Everything of Flowline except the in-cluster collector: ingest stream -> correlator -> flow store (and
// the tickers, for flows that fell idle) -> the flow table's stream -> exporter -> ClickHouse, the
// collector's access, and monitoring. Configuration: lib/config.ts.
import { Annotations, CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { FLOW_TABLE_SCHEMA } from '../functions/flow-store/schema.ts';
import { ClickHouseSecret } from './clickhouse-secret.ts';
import { CollectorAccess } from './collector-access.ts';
import type { FlowlineConfig } from './config.ts';
import { Correlator } from './correlator.ts';
import { Exporter } from './exporter.ts';
import { type FlowSchedule, FlowStore, type FlowTableSchema } from './flow-store.ts';
import { IngestStream } from './ingest-stream.ts';
import { Monitoring } from './monitoring.ts';
import { Sinks } from './sinks.ts';
import { Ticker } from './ticker.ts';

export interface FlowlineStackProps extends StackProps {
  config: FlowlineConfig;
  /** Defaults to the schema the flow-store code defines. */
  tableSchema?: FlowTableSchema;
}

export class FlowlineStack extends Stack {
  /** Encrypts the flow data at rest: the ingest stream and the flow store. */
  readonly dataKey: kms.Key;
  readonly ingest: IngestStream;
  readonly store: FlowStore;
  readonly correlator: Correlator;
  readonly clickHouse: ClickHouseSecret;
  /** Ticker 0 of tickers (context tickerCount). */
  readonly ticker: Ticker;
  readonly tickers: Ticker[];
  readonly exporter: Exporter;
  readonly collector: CollectorAccess;
  readonly monitoring: Monitoring;
  readonly sinks: Sinks;

  constructor(scope: Construct, id: string, props: FlowlineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // One customer-managed key for the stream and the table: the same flow data, read by the same
    // functions. A key costs $1 a month (more after rotations), a third of the at-rest bill beside the
    // shard (docs/cost.md). Producers stay scoped: the collector may only have Kinesis generate data keys
    // (lib/collector-access.ts), and only the correlator, the tickers and the exporter can decrypt.
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Flowline flow data encryption (ingest stream and flow store)',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.ingest = new IngestStream(this, 'Ingest', {
      key: this.dataKey,
      mode: config.streamMode,
      shardCount: config.shardCount,
      retentionHours: config.streamRetentionHours,
      removalPolicy,
    });
    this.store = new FlowStore(this, 'FlowStore', {
      schema: props.tableSchema ?? FLOW_TABLE_SCHEMA,
      billingMode: config.tableBillingMode,
      readCapacity: config.tableReadCapacity,
      writeCapacity: config.tableWriteCapacity,
      maxReadCapacity: config.tableMaxReadCapacity,
      maxWriteCapacity: config.tableMaxWriteCapacity,
      targetUtilisationPercent: config.tableTargetUtilisationPercent,
      removalPolicy,
      deletionProtection: config.retainData,
      key: this.dataKey,
    });
    const schedule: FlowSchedule = {
      activeTimeoutSeconds: config.activeTimeoutSeconds,
      inactiveTimeoutSeconds: config.inactiveTimeoutSeconds,
      flowTtlSeconds: config.flowTtlSeconds,
      dueShardCount: config.dueShardCount,
      layout: config.flowLayout,
      flowBuckets: config.flowBuckets,
      indexMarginSeconds: config.indexMarginSeconds,
    };
    this.correlator = new Correlator(this, 'Correlator', {
      ingest: this.ingest,
      store: this.store,
      schedule,
      indexSlackSeconds: config.indexSlackSeconds,
      indexMarginSeconds: config.indexMarginSeconds,
      batchSize: config.correlatorBatchSize,
      batchingWindowSeconds: config.correlatorBatchingWindowSeconds,
      parallelizationFactor: config.correlatorParallelizationFactor,
      maxRetryAttempts: config.correlatorMaxRetryAttempts,
      maxRecordAgeSeconds: config.correlatorMaxRecordAgeSeconds,
      memoryMb: config.correlatorMemoryMb,
      timeoutSeconds: config.correlatorTimeoutSeconds,
      logRetentionDays: config.logRetentionDays,
      removalPolicy,
    });
    this.clickHouse = new ClickHouseSecret(this, 'ClickHouse', {
      username: config.clickHouseUsername,
      existingSecretArn: config.clickHouseSecretArn,
      removalPolicy,
    });
    // Ticker 0 keeps the construct id a single ticker always has, so adding tickers replaces nothing.
    this.tickers = Array.from(
      { length: config.tickerCount },
      (_, index) =>
        new Ticker(this, index === 0 ? 'Ticker' : `Ticker${index}`, {
          store: this.store,
          schedule,
          commitIntervalSeconds: config.commitIntervalSeconds,
          runForSeconds: config.tickerRunForSeconds,
          memoryMb: config.tickerMemoryMb,
          logRetentionDays: config.logRetentionDays,
          removalPolicy,
          partition: { index, count: config.tickerCount },
        }),
    );
    this.ticker = this.tickers[0]!;
    this.exporter = new Exporter(this, 'Exporter', {
      store: this.store,
      clickHouse: this.clickHouse,
      clickHouseUrl: config.clickHouseUrl,
      clickHouseDatabase: config.clickHouseDatabase,
      clickHouseUsername: config.clickHouseUsername,
      clusterUuid: config.clusterUuid,
      memoryMb: config.exporterMemoryMb,
      timeoutSeconds: config.exporterTimeoutSeconds,
      logRetentionDays: config.logRetentionDays,
      removalPolicy,
      failureQueue: this.correlator.failureQueue,
    });
    this.collector = new CollectorAccess(this, 'Collector', {
      ingest: this.ingest,
      trust: config.collectorTrust,
      oidcProviderArn: config.collectorOidcProviderArn,
      eksClusterName: config.collectorEksClusterName,
      accountTrustReason: config.collectorAccountTrustReason,
      namespace: config.collectorNamespace,
      serviceAccount: config.collectorServiceAccount,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      ingest: this.ingest,
      store: this.store,
      correlator: this.correlator.function,
      failureQueue: this.correlator.failureQueue,
      tickers: this.tickers.map((t) => t.function),
      exporter: this.exporter.function,
      alarmEmail: config.alarmEmail,
      dashboard: config.dashboard,
      iteratorAgeAlarmSeconds: config.iteratorAgeAlarmSeconds,
      exportLagAlarmSeconds: config.exportLagAlarmSeconds,
      removalPolicy,
    });
    this.sinks = new Sinks(this, 'Sinks', {
      config,
      exporter: this.exporter.function,
      store: this.store,
      alarmTopic: this.monitoring.topic,
      dashboard: this.monitoring.dashboard,
      removalPolicy,
    });

    // Synth works without them (offline, CI); the exporter fails on start, loudly, until both are set.
    if (!config.clickHouseUrl) {
      Annotations.of(this).addWarningV2(
        'flowline:clickHouseUrl',
        'context clickHouseUrl is empty: the exporter cannot export until it is set (-c clickHouseUrl=https://...)',
      );
    }
    if (!config.clusterUuid) {
      Annotations.of(this).addWarningV2(
        'flowline:clusterUuid',
        "context clusterUuid is empty: the exporter cannot export until it is set to Antrea's cluster UUID",
      );
    }

    this.outputs(config);
    this.nagSuppressions();
  }

  private outputs(config: FlowlineConfig): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out('Region', this.region, 'Region of the stream (collector: AWS_REGION)');
    out('IngestStreamName', this.ingest.stream.streamName, 'Kinesis stream the collector writes to');
    out('IngestStreamArn', this.ingest.stream.streamArn, 'Kinesis stream ARN');
    out(
      'IngestStreamKeyArn',
      this.ingest.key.keyArn,
      'KMS key of the stream and the table (producers need kms:GenerateDataKey via Kinesis)',
    );
    out(
      'CollectorRoleArn',
      this.collector.role.roleArn,
      'Role for the collector (IRSA annotation / Pod Identity)',
    );
    out(
      'CollectorPolicyArn',
      this.collector.policy.managedPolicyArn,
      'Managed policy with only the producer rights',
    );
    out('FlowTableName', this.store.table.tableName, 'DynamoDB table of aggregated flows');
    out(
      'CollectorFlowBuckets',
      String(config.flowLayout === 'buckets' ? config.flowBuckets : 0),
      "The collector's flowBuckets (Helm value collector.flowBuckets): the table's buckets, 0 for one item per flow",
    );
    out(
      'FailureQueueUrl',
      this.correlator.failureQueue.queueUrl,
      'SQS queue of the batches given up on: Kinesis (correlator) and flow table stream (exporter)',
    );
    out(
      'ClickHouseSecretArn',
      this.clickHouse.secret.secretArn,
      'Secret with the ClickHouse username and password',
    );
    out('AlarmTopicArn', this.monitoring.topic.topicArn, 'SNS topic of the alarms');
    if (this.monitoring.dashboard)
      out('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard');
    if (this.sinks.bucket) {
      out('ArchiveBucketName', this.sinks.bucket.bucketName, 'S3 bucket of the Parquet flow archive');
    }
    if (this.sinks.flowLogGroup) {
      out(
        'FlowLogGroupName',
        this.sinks.flowLogGroup.logGroupName,
        "CloudWatch Logs group of the flow log (Antrea's flow logger lines)",
      );
    }
  }

  /** Each finding the design accepts, with the reason; everything else must pass. */
  private nagSuppressions(): void {
    const functions = [this.correlator, ...this.tickers, this.exporter].map((f) => f.function);
    for (const fn of functions) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason:
          'Node.js 22 is the pinned, supported runtime this code is built and tested for (esbuild target node22); moving to a newer runtime is a deliberate, tested change',
      });
    }
    Validations.of(this.ingest.stream).acknowledge({
      id: 'AwsSolutions::AwsSolutions-KDS3',
      reason:
        'A customer-managed key on purpose: key policy and IAM can scope kms:GenerateDataKey to this stream key for the collector, and key use is auditable; cost is one key',
    });
    Validations.of(this.correlator.failureQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        "This queue is itself the on-failure destination (a DLQ) of the Kinesis and the flow table stream's event source mappings; nothing consumes it automatically, so it needs no DLQ of its own",
    });
    if (this.clickHouse.created) {
      Validations.of(this.clickHouse.secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'ClickHouse Cloud passwords are changed in ClickHouse, not by a Secrets Manager rotation function; rotate by setting the new password in both (README "Deploy to AWS")',
      });
    }
  }
}
