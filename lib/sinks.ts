// The exporter's extra sinks (functions/sinks, docs/sinks.md), each opt-in by context: the IPFIX/JSON
// export to an external collector, the S3 Parquet archive (a bucket of its own: KMS, TLS only, no
// public access, lifecycle to Standard-IA then expiry) and the flow log (a CloudWatch Logs group of its
// own: KMS, retention). All run inside the exporter, so this construct only adds the exporter's
// environment and rights, those resources, and the sinks' alarms. Their durable outbox lives in
// the flow table (functions/flow-store/sink-outbox.ts): with a sink on, the exporter may read and write
// the outbox's items, and only those (their partition key prefix).
import { ArnFormat, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { outboxPrefixOf } from '../functions/flow-store/schema.ts';
import {
  EXPORTER_SERVICE_NAME,
  METRICS_NAMESPACE,
  SINK_BACKLOG_AGE_METRIC,
  SINK_QUEUED_ROWS_METRIC,
  SINK_RETRIES_METRIC,
  SINK_ROWS_DROPPED_METRIC,
  SINK_ROWS_SENT_METRIC,
} from '../functions/shared/metric-names.ts';
import type { FlowlineConfig } from './config.ts';
import type { FlowStore } from './flow-store.ts';

export type SinksConfig = Pick<
  FlowlineConfig,
  | 'ipfixExportAddress'
  | 'ipfixExportFormat'
  | 'ipfixExportObservationDomainId'
  | 'ipfixExportTlsSecretArn'
  | 'ipfixExportTlsServerName'
  | 'ipfixExportTlsMinVersion'
  | 'archiveEnabled'
  | 'archivePrefix'
  | 'archiveFormat'
  | 'archiveGzip'
  | 'archiveInfrequentAccessDays'
  | 'archiveExpirationDays'
  | 'flowLogEnabled'
  | 'flowLogPrettyPrint'
  | 'flowLogFilters'
  | 'flowLogRetentionDays'
  | 'sinkMaxQueuedRows'
>;

/**
 * What the outbox does to its items (functions/flow-store/sink-outbox.ts): read head, cursors and entries,
 * write chunks, headers and removals in batches, replace the head and cursors by conditional puts.
 */
export const OUTBOX_TABLE_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'];

/** The exporter's outbox is partition 0's (functions/exporter/handler.ts). */
export const EXPORTER_OUTBOX_PK_PREFIX = outboxPrefixOf(0);

export interface SinksProps {
  config: SinksConfig;
  /** The exporter, which runs the sinks for every batch it inserts. */
  exporter: lambda.Function;
  /** The flow table, which holds the sinks' outbox. */
  store: FlowStore;
  alarmTopic: sns.ITopic;
  /** The operations dashboard, when deployed (context dashboard): a row of graphs per sink. */
  dashboard: cloudwatch.Dashboard | undefined;
  removalPolicy: RemovalPolicy;
}

/** A sink's metric as the exporter publishes it (Powertools EMF; `service` and `sink` dimensions). */
const sinkMetric = (kind: string, metricName: string, statistic: string) =>
  new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: EXPORTER_SERVICE_NAME, sink: kind },
    statistic,
    period: Duration.minutes(5),
  });

/** The alarms' name prefix of each sink kind (the metric dimension `sink`). */
const ALARM_PREFIXES: Record<string, string> = {
  ipfix: 'IpfixExport',
  archive: 'Archive',
  flowlog: 'FlowLog',
};

export class Sinks extends Construct {
  readonly bucket: s3.Bucket | undefined;
  readonly flowLogGroup: logs.LogGroup | undefined;
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: SinksProps) {
    super(scope, id);
    const { config, exporter } = props;
    const kinds: string[] = [];
    if (config.ipfixExportAddress) kinds.push('ipfix');
    if (config.archiveEnabled) {
      kinds.push('archive');
      this.bucket = this.archiveBucket(config, props.removalPolicy);
    }
    if (config.flowLogEnabled) {
      kinds.push('flowlog');
      this.flowLogGroup = this.flowLog(config, props.removalPolicy);
    }
    this.equip(exporter, config, kinds);
    if (kinds.length > 0)
      props.store.grantItemActions(exporter, OUTBOX_TABLE_ACTIONS, [`${EXPORTER_OUTBOX_PK_PREFIX}*`]);
    for (const kind of kinds) {
      this.sinkAlarms(kind, config.sinkMaxQueuedRows, props.alarmTopic);
      props.dashboard?.addWidgets(...sinkGraphs(kind));
    }
  }

  /** The exporter's environment and rights for the sinks in `kinds`. */
  private equip(exporter: lambda.Function, config: SinksConfig, kinds: readonly string[]): void {
    if (config.ipfixExportAddress) {
      exporter.addEnvironment('IPFIX_EXPORT_ADDRESS', config.ipfixExportAddress);
      exporter.addEnvironment('IPFIX_EXPORT_FORMAT', config.ipfixExportFormat);
      if (config.ipfixExportObservationDomainId !== undefined) {
        exporter.addEnvironment(
          'IPFIX_EXPORT_OBSERVATION_DOMAIN_ID',
          String(config.ipfixExportObservationDomainId),
        );
      }
      if (config.ipfixExportAddress.startsWith('tls://')) this.equipTls(exporter, config);
    }
    if (this.bucket) {
      exporter.addEnvironment('ARCHIVE_BUCKET', this.bucket.bucketName);
      exporter.addEnvironment('ARCHIVE_PREFIX', config.archivePrefix);
      exporter.addEnvironment('ARCHIVE_FORMAT', config.archiveFormat);
      if (config.archiveFormat === 'csv') exporter.addEnvironment('ARCHIVE_GZIP', String(config.archiveGzip));
      // PutObject only (a replayed batch overwrites its own object), under the prefix; the key only to
      // encrypt new objects.
      exporter.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [this.bucket.arnForObjects(`${config.archivePrefix}*`)],
        }),
      );
      exporter.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey'],
          resources: [this.bucket.encryptionKey!.keyArn],
        }),
      );
      Validations.of(exporter.role!).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${config.archivePrefix}*]`,
        reason:
          'Archive objects are named by batch token under the prefix (docs/sinks.md), so PutObject is granted on the prefix; no other S3 action',
      });
    }
    if (this.flowLogGroup) this.equipFlowLog(exporter, config, this.flowLogGroup);
    if (kinds.length > 0) exporter.addEnvironment('SINK_MAX_QUEUED_ROWS', String(config.sinkMaxQueuedRows));
  }

  /** The flow log's settings, and the right to create streams in its group and write to them, no more. */
  private equipFlowLog(exporter: lambda.Function, config: SinksConfig, group: logs.LogGroup): void {
    exporter.addEnvironment('FLOW_LOG_GROUP', group.logGroupName);
    exporter.addEnvironment('FLOW_LOG_PRETTY_PRINT', String(config.flowLogPrettyPrint));
    if (config.flowLogFilters) exporter.addEnvironment('FLOW_LOG_FILTERS', config.flowLogFilters);
    exporter.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [group.logGroupArn],
      }),
    );
  }

  /**
   * The flow log's group: its own customer managed key (the lines hold Pod names and addresses), which
   * CloudWatch Logs may use for this group only.
   */
  private flowLog(config: SinksConfig, removalPolicy: RemovalPolicy): logs.LogGroup {
    const key = new kms.Key(this, 'FlowLogKey', {
      description: 'Flowline flow log encryption',
      enableKeyRotation: true,
      removalPolicy,
    });
    const stack = Stack.of(this);
    // Named, so that the key's policy can name the one group CloudWatch Logs may use it for (a generated
    // name would make the key and the group depend on each other).
    const logGroupName = `/flowline/${stack.stackName}/flow-log`;
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: logGroupName,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return new logs.LogGroup(this, 'FlowLog', {
      logGroupName,
      encryptionKey: key,
      retention: config.flowLogRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
  }

  /**
   * The tls:// export's settings; its PEMs stay in the secret (a private key has no place in the
   * function's environment), which the exporter may read and nothing else may.
   */
  private equipTls(exporter: lambda.Function, config: SinksConfig): void {
    exporter.addEnvironment('IPFIX_EXPORT_TLS_MIN_VERSION', config.ipfixExportTlsMinVersion);
    if (config.ipfixExportTlsServerName)
      exporter.addEnvironment('IPFIX_EXPORT_TLS_SERVER_NAME', config.ipfixExportTlsServerName);
    if (config.ipfixExportTlsSecretArn) {
      const secret = secretsmanager.Secret.fromSecretCompleteArn(
        this,
        'IpfixExportTlsSecret',
        config.ipfixExportTlsSecretArn,
      );
      secret.grantRead(exporter);
      exporter.addEnvironment('IPFIX_EXPORT_TLS_SECRET_ID', secret.secretArn);
    }
  }

  private archiveBucket(config: SinksConfig, removalPolicy: RemovalPolicy): s3.Bucket {
    const key = new kms.Key(this, 'ArchiveKey', {
      description: 'Flowline flow archive encryption',
      enableKeyRotation: true,
      removalPolicy,
    });
    const accessLogs = new s3.Bucket(this, 'ArchiveAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // S3 server access logging cannot write to SSE-KMS buckets
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
    });
    return new s3.Bucket(this, 'Archive', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true, // one KMS request per bucket key period, not one per object
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: [
        {
          id: 'archive-tiering',
          prefix: config.archivePrefix,
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(config.archiveInfrequentAccessDays),
            },
          ],
          expiration:
            config.archiveExpirationDays > 0 ? Duration.days(config.archiveExpirationDays) : undefined,
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });
  }

  /**
   * Rows dropped (the sink's outbox backlog went over its bound), a backlog over half the bound, and a
   * batch the sink has failed to take for 15 minutes (catches a sink that is down while traffic is low).
   */
  private sinkAlarms(kind: string, maxQueuedRows: number, topic: sns.ITopic): void {
    const metric = (name: string, statistic: string) => sinkMetric(kind, name, statistic);
    const notify = new cwActions.SnsAction(topic);
    const add = (id: string, alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      this.alarms[id] = alarm;
    };
    const prefix = ALARM_PREFIXES[kind]!;
    add(
      `${prefix}RowsDropped`,
      metric(SINK_ROWS_DROPPED_METRIC, 'Sum').createAlarm(this, `${prefix}RowsDropped`, {
        alarmDescription: `The ${kind} sink dropped rows: it was down long enough to fill its queue (ClickHouse has them; docs/sinks.md)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    add(
      `${prefix}Backlog`,
      metric(SINK_QUEUED_ROWS_METRIC, 'Maximum').createAlarm(this, `${prefix}Backlog`, {
        alarmDescription: `The ${kind} sink has been failing for 15 minutes: its outbox backlog is over half its bound (docs/sinks.md)`,
        threshold: Math.floor(maxQueuedRows / 2),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    add(
      `${prefix}Stalled`,
      metric(SINK_BACKLOG_AGE_METRIC, 'Maximum').createAlarm(this, `${prefix}Stalled`, {
        alarmDescription: `The ${kind} sink has not taken its oldest outbox batch for 15 minutes (docs/sinks.md)`,
        threshold: 900,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

/** The dashboard's row for one sink: what it sent, retried and dropped; its outbox backlog and its age. */
function sinkGraphs(kind: string): cloudwatch.GraphWidget[] {
  const graph = (title: string, left: cloudwatch.IMetric[]) =>
    new cloudwatch.GraphWidget({ title, left, width: 12, height: 6 });
  return [
    graph(`Sink ${kind}: rows sent, retried, dropped`, [
      sinkMetric(kind, SINK_ROWS_SENT_METRIC, 'Sum'),
      sinkMetric(kind, SINK_RETRIES_METRIC, 'Sum'),
      sinkMetric(kind, SINK_ROWS_DROPPED_METRIC, 'Sum'),
    ]),
    graph(`Sink ${kind}: outbox backlog (rows) and age of its oldest batch (s)`, [
      sinkMetric(kind, SINK_QUEUED_ROWS_METRIC, 'Maximum'),
      sinkMetric(kind, SINK_BACKLOG_AGE_METRIC, 'Maximum'),
    ]),
  ];
}
