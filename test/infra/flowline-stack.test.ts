// The synthesized FlowlineStack template: every property the design relies on, IAM scope, and cdk-nag.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, CfnElement, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AT_REST, STANDING_RESOURCES } from '../../cost/at-rest-model.ts';
import {
  ATTR,
  FLOW_TABLE_SCHEMA,
  INTENT_PK_PREFIX,
  outboxPrefixOf,
} from '../../functions/flow-store/schema.ts';
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
} from '../../functions/shared/metric-names.ts';
import { CORRELATOR_ENTRY } from '../../lib/correlator.ts';
import { EXPORTER_ENTRY } from '../../lib/exporter.ts';
import { FlowlineChecks } from '../../lib/nag-rules.ts';
import { flowlineTags } from '../../lib/tags.ts';
import { TICKER_ENTRY } from '../../lib/ticker.ts';
import { removeOutdir, resourcesOf, type Synthesized, synthFlowline } from './synth.ts';

const CLUSTER_UUID = '0b8d5f3e-3c57-4b7a-9a7e-2f6f1c0d9e11';

/** Every acknowledged cdk-nag finding of a stack, with its reason. */
const acknowledged = (stack: Stack) =>
  stack.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.entries(m.data as Record<string, string>))
    .map(([id, reason]) => ({ id, reason }));

let s: Synthesized;
let t: Template;
const extra: Synthesized[] = [];
const synthAgain = (overrides: Parameters<typeof synthFlowline>[0]): Synthesized => {
  const result = synthFlowline(overrides);
  extra.push(result);
  return result;
};

beforeAll(() => {
  s = synthFlowline({ clickHouseUrl: 'https://ch.example.com:8443', clusterUuid: CLUSTER_UUID });
  t = s.template;
  console.log(`FlowlineStack synth (bundling skipped, cdk-nag on): ${s.synthMs.toFixed(0)} ms`);
});
afterAll(() => {
  for (const r of [s, ...extra]) if (r) removeOutdir(r);
});

/** Logical id of a construct's CloudFormation resource (L2 constructs: their default child). */
const idOf = (construct: IConstruct): string => {
  const resource = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnElement))
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return s.stack.getLogicalId(resource);
};
const functionId = (name: 'correlator' | 'ticker' | 'exporter') => idOf(s.stack[name].function);
/** The synthesized properties of a resource by logical id. */
const propertiesOf = (template: Template, id: string) => template.toJSON().Resources[id].Properties;

describe('ingest stream', () => {
  it('is one provisioned shard by default (the cheaper mode at rest), KMS-encrypted with a rotated customer key, 24 h retention', () => {
    const keyId = idOf(s.stack.ingest.key);
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: 'Flowline flow data encryption (ingest stream and flow store)',
    });
    t.resourceCountIs('AWS::Kinesis::Stream', 1);
    t.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 1,
      RetentionPeriodHours: 24,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    });
    t.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Retain' });
  });

  it('is provisioned with the configured shard count and retention when asked', () => {
    const p = synthAgain({ streamMode: 'provisioned', shardCount: 4, streamRetentionHours: 48 });
    p.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 4,
      RetentionPeriodHours: 48,
    });
  });

  it('is on-demand, with no shard count, when asked', () => {
    const p = synthAgain({ streamMode: 'on-demand' });
    p.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      ShardCount: Match.absent(),
    });
  });
});

describe('flow store', () => {
  it('has the key schema, TTL, sparse keys-only due index and NEW_IMAGE stream of functions/flow-store, on-demand, PITR, KMS', () => {
    const keyId = idOf(s.stack.store.key);
    const idx = FLOW_TABLE_SCHEMA.dueIndex;
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: FLOW_TABLE_SCHEMA.partitionKey.name, KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayWith([
        {
          AttributeName: FLOW_TABLE_SCHEMA.partitionKey.name,
          AttributeType: FLOW_TABLE_SCHEMA.partitionKey.type,
        },
        { AttributeName: idx.partitionKey.name, AttributeType: idx.partitionKey.type },
        { AttributeName: idx.sortKey.name, AttributeType: idx.sortKey.type },
      ]),
      TimeToLiveSpecification: { AttributeName: FLOW_TABLE_SCHEMA.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: idx.name,
          KeySchema: [
            { AttributeName: idx.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: idx.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      // The exporter reads each write's closed rows from the new image.
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
      DeletionProtectionEnabled: true,
    });
    expect(idx.nonKeyAttributes).toEqual([]);
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    // The stream's key: one data key for the flow data at rest.
    expect(idOf(s.stack.store.key)).toBe(idOf(s.stack.ingest.key));
  });

  it('uses provisioned capacity for table and index when asked, and can be destroyed in dev', () => {
    const p = synthAgain({
      tableBillingMode: 'provisioned',
      tableReadCapacity: 7,
      tableWriteCapacity: 9,
      retainData: false,
    });
    const capacity = { ReadCapacityUnits: 7, WriteCapacityUnits: 9 };
    p.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: Match.absent(),
      ProvisionedThroughput: capacity,
      GlobalSecondaryIndexes: [Match.objectLike({ ProvisionedThroughput: capacity })],
      DeletionProtectionEnabled: false,
    });
    p.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    p.template.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Delete' });
  });

  it('scales provisioned capacity of table and index on utilisation, between the minimum and maximum', () => {
    const p = synthAgain({
      tableBillingMode: 'provisioned',
      tableReadCapacity: 7,
      tableWriteCapacity: 9,
      tableMaxReadCapacity: 700,
      tableMaxWriteCapacity: 900,
      tableTargetUtilisationPercent: 60,
    });
    const targets = Object.values(resourcesOf(p.template, 'AWS::ApplicationAutoScaling::ScalableTarget'));
    const dimensions = targets.map((r) => r.Properties.ScalableDimension).sort();
    expect(dimensions).toEqual([
      'dynamodb:index:ReadCapacityUnits',
      'dynamodb:index:WriteCapacityUnits',
      'dynamodb:table:ReadCapacityUnits',
      'dynamodb:table:WriteCapacityUnits',
    ]);
    for (const target of targets) {
      const write = String(target.Properties.ScalableDimension).endsWith('WriteCapacityUnits');
      expect(target.Properties).toMatchObject(
        write ? { MinCapacity: 9, MaxCapacity: 900 } : { MinCapacity: 7, MaxCapacity: 700 },
      );
    }
    p.template.resourcePropertiesCountIs(
      'AWS::ApplicationAutoScaling::ScalingPolicy',
      {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 60 }),
      },
      4,
    );
    // On-demand (the default) has nothing to scale.
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });

  it('refuses an auto scaling maximum below the minimum', () => {
    expect(() =>
      synthFlowline({ tableBillingMode: 'provisioned', tableWriteCapacity: 10, tableMaxWriteCapacity: 5 }),
    ).toThrow(/tableMaxWriteCapacity must be >= the minimum/);
  });
});

describe('correlator', () => {
  it('is a Node 22 arm64 function with its own log group and the schedule environment', () => {
    const id = functionId('correlator');
    const fn = t.toJSON().Resources[id];
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 60,
      LoggingConfig: {
        LogGroup: { Ref: idOf(s.stack.correlator.functionConstruct.logGroup) },
      },
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: idOf(s.stack.store.table) },
          DUE_INDEX_NAME: FLOW_TABLE_SCHEMA.dueIndex.name,
          ACTIVE_TIMEOUT_SECONDS: '60',
          INACTIVE_TIMEOUT_SECONDS: '90',
          FLOW_TTL_SECONDS: '86400',
          DUE_SHARD_COUNT: '16',
          INDEX_SLACK_SECONDS: '1200',
          INDEX_MARGIN_SECONDS: '120',
          POWERTOOLS_SERVICE_NAME: CORRELATOR_SERVICE_NAME,
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
    // It wakes no function: a new flow's first row leaves with the write that creates it.
    expect(Object.keys(fn.Properties.Environment.Variables)).not.toContain('FLUSHER_FUNCTION_NAME');
    expect(fn.Metadata['flowline:entry']).toBe(CORRELATOR_ENTRY);
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('takes the lazy due-index key from context, and refuses a margin below a batching window', () => {
    const p = synthAgain({ indexSlackSeconds: 600, indexMarginSeconds: 60 });
    expect(
      propertiesOf(
        p.template,
        p.stack.getLogicalId(p.stack.correlator.function.node.defaultChild as CfnElement),
      ).Environment.Variables,
    ).toMatchObject({ INDEX_SLACK_SECONDS: '600', INDEX_MARGIN_SECONDS: '60' });
    expect(() => synthFlowline({ indexMarginSeconds: 10 })).toThrow(
      /indexMarginSeconds must be >= correlatorBatchingWindowSeconds/,
    );
    expect(() => synthFlowline({ indexSlackSeconds: 120 })).toThrow(
      /indexMarginSeconds must be below indexSlackSeconds/,
    );
  });

  it('reads the stream through an event source mapping with every failure-handling setting', () => {
    // The correlator's and the exporter's.
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId('correlator') },
      EventSourceArn: {
        'Fn::GetAtt': [idOf(s.stack.ingest.stream), 'Arn'],
      },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10_000,
      MaximumBatchingWindowInSeconds: 20,
      ParallelizationFactor: 8,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: {
          Destination: {
            'Fn::GetAtt': [idOf(s.stack.correlator.failureQueue), 'Arn'],
          },
        },
      },
    });
  });

  it('takes the event source settings from context, as plain template values', () => {
    const p = synthAgain({
      correlatorBatchSize: 250,
      correlatorBatchingWindowSeconds: 10,
      correlatorParallelizationFactor: 4,
      correlatorMaxRetryAttempts: 2,
      correlatorMaxRecordAgeSeconds: 3600,
    });
    p.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: {
        Ref: p.stack.getLogicalId(p.stack.correlator.function.node.defaultChild as CfnElement),
      },
      BatchSize: 250,
      MaximumBatchingWindowInSeconds: 10,
      ParallelizationFactor: 4,
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('sends given-up batches to a KMS-encrypted, TLS-only queue kept 14 days', () => {
    expectEncryptedFailureQueue(idOf(s.stack.correlator.failureQueue));
  });
});

/** A queue encrypted with SQS's key, kept 14 days, refusing every request without TLS. */
function expectEncryptedFailureQueue(queueId: string): void {
  expect(propertiesOf(t, queueId)).toMatchObject({
    KmsMasterKeyId: 'alias/aws/sqs',
    MessageRetentionPeriod: 1_209_600,
  });
  t.hasResourceProperties('AWS::SQS::QueuePolicy', {
    Queues: [{ Ref: queueId }],
    PolicyDocument: {
      Statement: [
        Match.objectLike({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Principal: { AWS: '*' },
        }),
      ],
    },
  });
}

describe('ticker', () => {
  it('runs one at a time for RUN_FOR_SECONDS with the schedule settings, and nothing of ClickHouse', () => {
    const id = functionId('ticker');
    const fn = t.toJSON().Resources[id];
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 1,
      Timeout: 40 + 15,
      MemorySize: 1769,
      LoggingConfig: { LogGroup: { Ref: idOf(s.stack.ticker.functionConstruct.logGroup) } },
    });
    expect(fn.Properties.Environment.Variables).toEqual({
      TABLE_NAME: { Ref: idOf(s.stack.store.table) },
      DUE_INDEX_NAME: FLOW_TABLE_SCHEMA.dueIndex.name,
      ACTIVE_TIMEOUT_SECONDS: '60',
      INACTIVE_TIMEOUT_SECONDS: '90',
      FLOW_TTL_SECONDS: '86400',
      DUE_SHARD_COUNT: '16',
      FLOW_LAYOUT: 'per-flow',
      INDEX_MARGIN_SECONDS: '120',
      COMMIT_INTERVAL_SECONDS: '8',
      RUN_FOR_SECONDS: '40',
      TICKER_INDEX: '0',
      TICKER_COUNT: '1',
      POWERTOOLS_SERVICE_NAME: TICKER_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(fn.Metadata['flowline:entry']).toBe(TICKER_ENTRY);
  });

  it('is started every minute, and a tick that cannot start is dropped, not queued', () => {
    const id = functionId('ticker');
    t.resourceCountIs('AWS::Events::Rule', 1);
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [id, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [id, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
  });

  it('takes its run length and memory from context', () => {
    const p = synthAgain({ tickerRunForSeconds: 40, tickerMemoryMb: 512, commitIntervalSeconds: 10 });
    const props = propertiesOf(
      p.template,
      p.stack.getLogicalId(p.stack.ticker.function.node.defaultChild as CfnElement),
    );
    expect(props).toMatchObject({ Timeout: 40 + 15, MemorySize: 512 });
    expect(props.Environment.Variables).toMatchObject({
      RUN_FOR_SECONDS: '40',
      COMMIT_INTERVAL_SECONDS: '10',
    });
  });

  it('deploys tickerCount tickers, each on its own due shards, schedule and alarms', () => {
    const n = synthAgain({ clusterUuid: CLUSTER_UUID, tickerCount: 4 });
    const ids = n.stack.tickers.map((f) => n.stack.getLogicalId(f.function.node.defaultChild as CfnElement));
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toBe(functionId('ticker')); // ticker 0 keeps a single ticker's logical id
    ids.forEach((id, index) => {
      expect(propertiesOf(n.template, id)).toMatchObject({
        ReservedConcurrentExecutions: 1,
        Environment: {
          Variables: { TICKER_INDEX: String(index), TICKER_COUNT: '4', DUE_SHARD_COUNT: '16' },
        },
      });
      n.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })],
      });
      const alarm = index === 0 ? 'Ticker' : `Ticker${index}`;
      for (const suffix of ['Errors', 'NotRunning'])
        expect(n.stack.monitoring.alarms[`${alarm}${suffix}`]).toBeDefined();
    });
    n.template.resourceCountIs('AWS::Events::Rule', 4);
    // Still one exporter: the table's stream has one mapping.
    n.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });

  it('refuses more tickers than due shards: a ticker without a shard would advance nothing', () => {
    expect(() => synthFlowline({ tickerCount: 17 })).toThrow(/tickerCount must be <= dueShardCount/);
  });
});

describe('exporter', () => {
  it('has the ClickHouse settings, the cluster UUID and the table, and no reserved concurrency', () => {
    const id = functionId('exporter');
    const fn = t.toJSON().Resources[id];
    const secretRef = { Ref: idOf(s.stack.clickHouse.secret) };
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 60,
      MemorySize: 1769,
      LoggingConfig: { LogGroup: { Ref: idOf(s.stack.exporter.functionConstruct.logGroup) } },
    });
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn.Properties.Environment.Variables).toEqual({
      TABLE_NAME: { Ref: idOf(s.stack.store.table) },
      CLICKHOUSE_URL: 'https://ch.example.com:8443',
      CLICKHOUSE_DATABASE: 'default',
      CLICKHOUSE_USER: 'default',
      CLICKHOUSE_SECRET_ARN: secretRef,
      CLICKHOUSE_SECRET_ID: secretRef,
      CLUSTER_UUID: CLUSTER_UUID,
      POWERTOOLS_SERVICE_NAME: EXPORTER_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(fn.Metadata['flowline:entry']).toBe(EXPORTER_ENTRY);
    const p = synthAgain({ exporterMemoryMb: 1024, exporterTimeoutSeconds: 120 });
    expect(
      propertiesOf(
        p.template,
        p.stack.getLogicalId(p.stack.exporter.function.node.defaultChild as CfnElement),
      ),
    ).toMatchObject({ MemorySize: 1024, Timeout: 120 });
  });

  it('reads the table stream from its start, without bisect, retrying until the stream drops a record', () => {
    const mappings = Object.values(resourcesOf(t, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: functionId('exporter') }),
    );
    expect(mappings).toHaveLength(1);
    const { Tags: _tags, ...properties } = mappings[0]!.Properties;
    expect(properties).toEqual({
      FunctionName: { Ref: functionId('exporter') },
      EventSourceArn: { 'Fn::GetAtt': [idOf(s.stack.store.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 3000,
      MaximumBatchingWindowInSeconds: 5,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: false,
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: -1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(s.stack.exporter.failureQueue), 'Arn'] } },
      },
      // Only writes whose new image holds closed rows, a binary attribute (DynamoDB JSON: its type's leaf).
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ dynamodb: { NewImage: { [ATTR.rows]: { B: [{ exists: true }] } } } }) },
        ],
      },
    });
    // No ReportBatchItemFailures: a batch succeeds or is delivered again whole.
    expect(properties).not.toHaveProperty('FunctionResponseTypes');
  });

  it('creates a generated-password secret it may read, or uses an existing one', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ username: 'default' }),
        GenerateStringKey: 'password',
      },
    });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowline/clickhouse-AbCdEf';
    const p = synthAgain({ clickHouseSecretArn: arn });
    p.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const exporter = propertiesOf(
      p.template,
      p.stack.getLogicalId(p.stack.exporter.function.node.defaultChild as CfnElement),
    );
    expect(exporter.Environment.Variables).toMatchObject({
      CLICKHOUSE_SECRET_ARN: arn,
      CLICKHOUSE_SECRET_ID: arn,
    });
    expect(JSON.stringify(resourcesOf(p.template, 'AWS::IAM::Policy'))).toContain(arn);
  });

  it("sends batches that outlived the stream to the correlator's KMS-encrypted, TLS-only queue kept 14 days", () => {
    // One queue and one alarm for both mappings (the at-rest month counts alarms); the messages say which.
    const queueId = idOf(s.stack.exporter.failureQueue);
    expect(queueId).toBe(idOf(s.stack.correlator.failureQueue));
    expectEncryptedFailureQueue(queueId);
  });
});

describe('collector access', () => {
  it('allows only PutRecords, ListShards, DescribeStreamSummary on this stream and the stream key', () => {
    t.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Sid: 'PutFlowRecords',
            Effect: 'Allow',
            Action: ['kinesis:PutRecords', 'kinesis:ListShards', 'kinesis:DescribeStreamSummary'],
            Resource: {
              'Fn::GetAtt': [idOf(s.stack.ingest.stream), 'Arn'],
            },
          },
          {
            Sid: 'EncryptWithStreamKey',
            Effect: 'Allow',
            Action: 'kms:GenerateDataKey',
            Resource: { 'Fn::GetAtt': [idOf(s.stack.ingest.key), 'Arn'] },
            Condition: {
              StringEquals: {
                'kms:ViaService': `kinesis.${s.stack.region}.amazonaws.com`,
              },
            },
          },
        ],
      },
    });
    const roleId = idOf(s.stack.collector.role);
    const role = t.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toEqual([{ Ref: idOf(s.stack.collector.policy) }]);
    expect(role.Properties.Policies).toBeUndefined();
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).not.toContain(':root');
  });

  it('trusts one service account through IRSA when configured', () => {
    const provider = 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123';
    const issuer = 'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123';
    const p = synthAgain({
      collectorTrust: 'irsa',
      collectorOidcProviderArn: provider,
      collectorNamespace: 'obs',
    });
    p.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: provider },
            Condition: {
              StringEquals: {
                [`${issuer}:sub`]: 'system:serviceaccount:obs:flowline-collector',
                [`${issuer}:aud`]: 'sts.amazonaws.com',
              },
            },
          },
        ],
      },
    });
  });

  it('trusts EKS Pod Identity by default, only from this account, its clusters and the collector service account', () => {
    const trust = t.toJSON().Resources[idOf(s.stack.collector.role)].Properties.AssumeRolePolicyDocument;
    expect(trust.Statement).toEqual([
      {
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Condition: {
          StringEquals: {
            'aws:SourceAccount': '123456789012',
            'aws:RequestTag/kubernetes-namespace': 'flow-aggregator',
            'aws:RequestTag/kubernetes-service-account': 'flowline-collector',
          },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:eu-west-1:123456789012:cluster/*']],
            },
          },
        },
      },
    ]);
    const named = synthAgain({ collectorEksClusterName: 'prod-1' });
    named.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Condition: {
              StringEquals: Match.objectLike({ 'aws:RequestTag/eks-cluster-name': 'prod-1' }),
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':eks:eu-west-1:123456789012:cluster/prod-1'],
                  ],
                },
              },
            },
          }),
        ],
      },
    });
  });

  it("account-wide trust only as an explicit opt-in, which cdk-nag's Flowline-IAM1 flags", () => {
    expect(() => synthAgain({ collectorTrust: 'account' })).toThrow(/needs|collectorAccountTrustReason/);
    const reason = 'Collector runs on EC2 nodes with an instance profile in this sandbox account';
    const p = synthAgain({ collectorTrust: 'account', collectorAccountTrustReason: reason });
    const role = p.template.toJSON().Resources[idOf(p.stack.collector.role)];
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain(':root');
    expect(acknowledged(p.stack)).toContainEqual({ id: 'Flowline::Flowline-IAM1', reason });
    // Without the acknowledgement the same trust fails the synth.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new FlowlineChecks(app));
    new iam.Role(new Stack(app, 'Probe'), 'AccountTrust', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => app.synth()).toThrow(/Flowline-IAM1/);
  });

  it('outputs what the collector and operators need', () => {
    const outputs = Object.keys(t.toJSON().Outputs);
    expect(outputs.sort()).toEqual(
      [
        'AlarmTopicArn',
        'ClickHouseSecretArn',
        'CollectorFlowBuckets',
        'CollectorPolicyArn',
        'CollectorRoleArn',
        'FailureQueueUrl',
        'FlowTableName',
        'IngestStreamArn',
        'IngestStreamKeyArn',
        'IngestStreamName',
        'Region',
      ].sort(),
    );
    t.hasOutput('CollectorRoleArn', {
      Value: { 'Fn::GetAtt': [idOf(s.stack.collector.role), 'Arn'] },
    });
    t.hasOutput('CollectorFlowBuckets', { Value: '0' }); // one item per flow: the collector routes by flow
  });
});

describe('least privilege', () => {
  type Statement = {
    Effect: string;
    Action: string | string[];
    Resource?: unknown;
    Principal?: unknown;
    Condition?: unknown;
    Sid?: string;
  };
  const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  const statementsOf = (template: Template) => {
    const out: { logicalId: string; type: string; statement: Statement }[] = [];
    for (const [logicalId, r] of Object.entries(
      template.toJSON().Resources as Record<
        string,
        { Type: string; Properties: Record<string, { Statement: Statement[] }> }
      >,
    )) {
      const doc = r.Properties?.PolicyDocument ?? r.Properties?.KeyPolicy;
      if (!doc) continue;
      for (const statement of doc.Statement) out.push({ logicalId, type: r.Type, statement });
    }
    return out;
  };
  const policyOf = (role: string) =>
    statementsOf(t)
      .filter(
        (x) => x.type === 'AWS::IAM::Policy' && x.logicalId.startsWith(`${role}HandlerRoleDefaultPolicy`),
      )
      .map((x) => x.statement);
  const tableArn = () => ({ 'Fn::GetAtt': [idOf(s.stack.store.table), 'Arn'] });
  const onTable = (statements: Statement[]) =>
    statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(tableArn()));

  /**
   * The only Allow statements with `*`: KMS key policies, whose Resource must be "*" (it means "this key")
   * and whose account-root kms:* statement is the AWS default that delegates key use to IAM policies; and
   * dynamodb:ListStreams, which has no resource-level permission (the exporter's mapping polls the stream).
   */
  const isWildcardException = ({ type, statement }: { type: string; statement: Statement }) =>
    (type === 'AWS::KMS::Key' && statement.Resource === '*') ||
    (type === 'AWS::IAM::Policy' &&
      statement.Action === 'dynamodb:ListStreams' &&
      statement.Resource === '*');

  it('has no wildcard action or resource in any Allow statement outside the listed exceptions', () => {
    const allows = statementsOf(t).filter((x) => x.statement.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(10);
    const offenders = allows.filter(
      (x) =>
        !isWildcardException(x) &&
        (asList(x.statement.Action).some((a) => a.includes('*')) ||
          JSON.stringify(x.statement.Resource ?? null).includes('"*"') ||
          x.statement.Resource === undefined),
    );
    expect(offenders).toEqual([]);
  });

  it('lists the exceptions: the two key policies (flow data, alarm topic), each only root + named service principals, and the exporter\u2019s ListStreams', () => {
    const exceptions = statementsOf(t).filter(
      (x) => x.statement.Effect === 'Allow' && isWildcardException(x),
    );
    const keyPolicies = exceptions.filter((x) => x.type === 'AWS::KMS::Key');
    expect(new Set(keyPolicies.map((x) => x.logicalId)).size).toBe(2);
    const principals = keyPolicies.map((x) => JSON.stringify(x.statement.Principal));
    for (const p of principals) expect(p).toMatch(/:root"|cloudwatch\.amazonaws\.com/);
    const cloudwatch = keyPolicies.filter((x) =>
      JSON.stringify(x.statement.Principal).includes('cloudwatch'),
    );
    expect(cloudwatch.map((x) => x.statement.Action)).toEqual([['kms:Decrypt', 'kms:GenerateDataKey']]);
    const listStreams = exceptions.filter((x) => x.type === 'AWS::IAM::Policy');
    expect(listStreams.map((x) => x.logicalId)).toEqual([
      expect.stringMatching(/^ExporterHandlerRoleDefaultPolicy/),
    ]);
  });

  it('with buckets of flows: both functions read the layout, write with PutItem only, and the collector learns the buckets', () => {
    const bucketed = synthAgain({ flowLayout: 'buckets', flowBuckets: 2048 });
    const b = bucketed.template;
    const variables = (name: string) =>
      b.toJSON().Resources[
        Object.keys(b.toJSON().Resources).find(
          (id) =>
            id.startsWith(`${name}Handler`) && b.toJSON().Resources[id].Type === 'AWS::Lambda::Function',
        )!
      ].Properties.Environment.Variables;
    for (const fn of ['Correlator', 'Ticker']) {
      expect(variables(fn)).toMatchObject({
        FLOW_LAYOUT: 'buckets',
        FLOW_BUCKETS: '2048',
        INDEX_MARGIN_SECONDS: '120',
      });
    }
    b.hasOutput('CollectorFlowBuckets', { Value: '2048' });
    const table = { 'Fn::GetAtt': [idOf(bucketed.stack.store.table), 'Arn'] };
    const tableActions = (role: string) =>
      statementsOf(b)
        .filter(
          (x) => x.type === 'AWS::IAM::Policy' && x.logicalId.startsWith(`${role}HandlerRoleDefaultPolicy`),
        )
        .map((x) => x.statement)
        .filter((st) => JSON.stringify(st.Resource) === JSON.stringify(table))
        .flatMap((st) => asList(st.Action))
        .sort();
    expect(tableActions('Correlator')).toEqual(['dynamodb:BatchGetItem', 'dynamodb:PutItem']);
    expect(tableActions('Ticker')).toEqual(['dynamodb:BatchGetItem', 'dynamodb:PutItem']);
  });

  it('gives each function exactly the table actions its code uses, and no managed policies', () => {
    const actions = (statements: Statement[]) => statements.flatMap((st) => asList(st.Action)).sort();
    expect(actions(onTable(policyOf('Correlator')))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actions(onTable(policyOf('Ticker')))).toEqual(['dynamodb:BatchGetItem', 'dynamodb:PartiQLUpdate']);
    expect(policyOf('Ticker')).toContainEqual(
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [tableArn(), `/index/${FLOW_TABLE_SCHEMA.dueIndex.name}`]] },
      }),
    );
    // The exporter reads and writes its intent items only: every key of a request must carry their prefix.
    expect(onTable(policyOf('Exporter'))).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: tableArn(),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${INTENT_PK_PREFIX}*`] } },
      },
    ]);
    // The table key only through DynamoDB.
    for (const role of ['Correlator', 'Ticker', 'Exporter']) {
      expect(policyOf(role)).toContainEqual(
        expect.objectContaining({
          Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
          Condition: { StringEquals: { 'kms:ViaService': `dynamodb.${s.stack.region}.amazonaws.com` } },
        }),
      );
    }
    // Only the collector role has a managed policy, and it is the stack's own.
    for (const [, role] of Object.entries(resourcesOf(t, 'AWS::IAM::Role'))) {
      for (const arn of (role.Properties.ManagedPolicyArns as unknown[] | undefined) ?? []) {
        expect(JSON.stringify(arn)).not.toContain('iam::aws:policy');
      }
    }
  });

  it('lets the exporter read the table stream, the ClickHouse secret and its failure queue, and no other function', () => {
    const streamArn = { 'Fn::GetAtt': [idOf(s.stack.store.table), 'StreamArn'] };
    expect(policyOf('Exporter')).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        Resource: streamArn,
      }),
    );
    expect(policyOf('Exporter')).toContainEqual(
      expect.objectContaining({
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: { Ref: idOf(s.stack.clickHouse.secret) },
      }),
    );
    expect(policyOf('Exporter')).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Resource: { 'Fn::GetAtt': [idOf(s.stack.exporter.failureQueue), 'Arn'] },
      }),
    );
    const everyPolicy = statementsOf(t).filter((x) => x.type === 'AWS::IAM::Policy');
    const holders = (pattern: RegExp) =>
      [
        ...new Set(
          everyPolicy
            .filter((x) => asList(x.statement.Action).some((a) => pattern.test(a)))
            .map((x) => x.logicalId.replace(/HandlerRoleDefaultPolicy.*$/, '')),
        ),
      ].sort();
    expect(holders(/^secretsmanager:/)).toEqual(['Exporter']);
    expect(holders(/^dynamodb:(GetRecords|GetShardIterator|DescribeStream|ListStreams)$/)).toEqual([
      'Exporter',
    ]);
    // No function invokes another: the correlator wakes nothing in the stream model.
    expect(holders(/^lambda:/)).toEqual([]);
  });

  it('with a sink on, adds the outbox items to the exporter, and only those', () => {
    const p = synthAgain({
      clickHouseUrl: 'https://ch.example.com:8443',
      clusterUuid: CLUSTER_UUID,
      ipfixExportAddress: 'tcp://collector.example.com:4739',
    });
    const table = {
      'Fn::GetAtt': [p.stack.getLogicalId(p.stack.store.table.node.defaultChild as CfnElement), 'Arn'],
    };
    const exporterRole = p.stack.getLogicalId(
      p.stack.exporter.function.role!.node.defaultChild as CfnElement,
    );
    const statements = Object.values(resourcesOf(p.template, 'AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: exporterRole }]))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((st) => JSON.stringify(st.Resource) === JSON.stringify(table));
    expect(statements).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${INTENT_PK_PREFIX}*`] } },
      }),
      expect.objectContaining({
        Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${outboxPrefixOf(0)}*`] } },
      }),
    ]);
  });
});

describe('monitoring', () => {
  const alarmOn = (metricName: string, namespace: string) =>
    Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === metricName && a.Properties.Namespace === namespace,
    );
  /** The AWS/Lambda alarms on `metricName`, by the function they watch. */
  const lambdaAlarmsOn = (metricName: string) =>
    Object.fromEntries(
      alarmOn(metricName, 'AWS/Lambda').map((a) => [
        JSON.stringify((a.Properties.Dimensions as { Value: unknown }[])[0]?.Value),
        a.Properties,
      ]),
    );
  const ref = (name: 'correlator' | 'ticker' | 'exporter') => JSON.stringify({ Ref: functionId(name) });

  it('alarms on iterator age, failure queues, errors, throttles, export lag, rejected rows, stale-connection drops and a stopped ticker', () => {
    expect(Object.keys(s.stack.monitoring.alarms).sort()).toEqual(
      [
        'CorrelatorErrors',
        'CorrelatorIteratorAge',
        'CorrelatorThrottles',
        'ExportLag',
        'ExporterIteratorAge',
        'FailureQueueNotEmpty',
        'InsertFailures',
        'PoisonRecords',
        'RejectedRows',
        'StaleConnectionRecords',
        'StreamThrottled',
        'TableThrottled',
        'TickerErrors',
        'TickerNotRunning',
      ].sort(),
    );
    t.resourceCountIs('AWS::CloudWatch::Alarm', 14);
    expect(alarmOn(STALE_CONNECTION_RECORDS_METRIC, METRICS_NAMESPACE)[0]?.Properties).toMatchObject({
      Threshold: 0,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'service', Value: CORRELATOR_SERVICE_NAME }],
    });
    // Both stream readers: the correlator on Kinesis, the exporter on the flow table's stream.
    const iteratorAge = lambdaAlarmsOn('IteratorAge');
    expect(Object.keys(iteratorAge).sort()).toEqual([ref('correlator'), ref('exporter')].sort());
    for (const alarm of Object.values(iteratorAge))
      expect(alarm).toMatchObject({ Threshold: 300_000, Statistic: 'Maximum', EvaluationPeriods: 5 });
    const queues = alarmOn('ApproximateNumberOfMessagesVisible', 'AWS/SQS');
    expect(queues.map((a) => JSON.stringify(a.Properties.Dimensions)).sort()).toEqual(
      [s.stack.correlator.failureQueue]
        .map((q) => JSON.stringify([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(q), 'QueueName'] } }]))
        .sort(),
    );
    for (const queue of queues)
      expect(queue.Properties).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    // The exporter's failures count in InsertFailures and show in its iterator age; the ticker's timeout
    // ends before its next run, so its reserved concurrency never throttles it.
    expect(Object.keys(lambdaAlarmsOn('Errors')).sort()).toEqual([ref('correlator'), ref('ticker')].sort());
    expect(Object.keys(lambdaAlarmsOn('Throttles')).sort()).toEqual([ref('correlator')]);
    expect(alarmOn(EXPORT_LAG_METRIC, METRICS_NAMESPACE)[0]?.Properties).toMatchObject({
      Threshold: 120,
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'service', Value: TICKER_SERVICE_NAME }],
    });
    expect(alarmOn(REJECTED_ROWS_METRIC, METRICS_NAMESPACE)[0]?.Properties).toMatchObject({
      Threshold: 0,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'service', Value: EXPORTER_SERVICE_NAME }],
    });
    expect(lambdaAlarmsOn('Invocations')[ref('ticker')]).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    const topicRef = { Ref: idOf(s.stack.monitoring.topic) };
    for (const alarm of Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
  });

  it('alarms on failed inserts, the health signal of an exporter that never pings ClickHouse', () => {
    expect(alarmOn(INSERT_FAILURES_METRIC, METRICS_NAMESPACE)[0]?.Properties).toMatchObject({
      Threshold: 0,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Dimensions: [{ Name: 'service', Value: EXPORTER_SERVICE_NAME }],
    });
  });

  it('alarms on poison records, and on DynamoDB and Kinesis throttling sustained for 10 minutes', () => {
    expect(alarmOn(CORRELATOR_METRICS.poisonRecords, METRICS_NAMESPACE)[0]?.Properties).toMatchObject({
      Threshold: 0,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'service', Value: CORRELATOR_SERVICE_NAME }],
    });
    const sustained = { Threshold: 0, EvaluationPeriods: 2, DatapointsToAlarm: 2 };
    const mathAlarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).filter((a) =>
      Array.isArray(a.Properties.Metrics),
    );
    const streamAlarm = mathAlarms.find((a) => JSON.stringify(a.Properties.Metrics).includes('AWS/Kinesis'));
    expect(streamAlarm?.Properties).toMatchObject(sustained);
    for (const name of ['PutRecords.ThrottledRecords', 'ReadProvisionedThroughputExceeded']) {
      expect(JSON.stringify(streamAlarm?.Properties.Metrics)).toContain(name);
    }
    expect(JSON.stringify(streamAlarm?.Properties.Metrics)).toContain('"Period":300');
    const tableId = idOf(s.stack.store.table);
    const tableAlarm = mathAlarms.find((a) => JSON.stringify(a.Properties.Metrics).includes('AWS/DynamoDB'));
    expect(tableAlarm?.Properties).toMatchObject(sustained);
    const queries = JSON.stringify(tableAlarm?.Properties.Metrics);
    for (const name of [
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      FLOW_TABLE_SCHEMA.dueIndex.name,
      tableId,
    ]) {
      expect(queries).toContain(name);
    }
  });

  it('notifies an encrypted, TLS-only topic, with e-mail only when configured', () => {
    t.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [idOf(s.stack.monitoring.topic.masterKey!), 'Arn'] },
    });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ],
      },
    });
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    const p = synthAgain({ alarmEmail: 'oncall@example.com' });
    p.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('has, when asked, a dashboard showing the pipeline and the alarms', () => {
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0); // opt-in: a standing $3 a month
    const withDashboard = synthAgain({ dashboard: true }).template;
    withDashboard.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(withDashboard.toJSON().Outputs)).toContain('DashboardName');
    const body = JSON.stringify(
      Object.values(resourcesOf(withDashboard, 'AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    for (const needle of [
      'IncomingRecords',
      'IteratorAge',
      EXPORT_LAG_METRIC,
      'ApproximateNumberOfMessagesVisible',
      'ConsumedWriteCapacityUnits',
      'ReadThrottleEvents',
      'ReadProvisionedThroughputExceeded',
      'Alarms',
    ]) {
      expect(body).toContain(needle);
    }
    // The functions' own metrics, each under its function's service dimension.
    for (const name of Object.values(CORRELATOR_METRICS)) {
      expect(body).toContain(
        `"${METRICS_NAMESPACE}\\",\\"${name}\\",\\"service\\",\\"${CORRELATOR_SERVICE_NAME}`,
      );
    }
    for (const [service, names] of [
      [TICKER_SERVICE_NAME, TICKER_METRICS],
      [EXPORTER_SERVICE_NAME, EXPORTER_METRICS],
    ] as const) {
      for (const name of Object.values(names)) {
        expect(body).toContain(`"${METRICS_NAMESPACE}\\",\\"${name}\\",\\"service\\",\\"${service}`);
      }
    }
    // Both functions' invocations and both stream readers' iterator age.
    for (const fn of [functionId('ticker'), functionId('exporter')]) expect(body).toContain(fn);
  });
});

describe('tags', () => {
  // CloudFormation types that take no tags (or none CDK can set); everything else must carry them.
  const UNTAGGABLE = new Set([
    'AWS::CDK::Metadata',
    'AWS::CloudWatch::Alarm',
    'AWS::CloudWatch::Dashboard',
    'AWS::IAM::Policy',
    'AWS::IAM::ManagedPolicy',
    'AWS::Lambda::Permission',
    'AWS::SNS::TopicPolicy',
    'AWS::SQS::QueuePolicy',
    'AWS::Events::Rule',
    'AWS::Lambda::EventSourceMapping',
    'AWS::Lambda::EventInvokeConfig',
  ]);

  it('puts the project and stack tags on every taggable resource', () => {
    const expected = Object.entries(flowlineTags(s.stack.stackName)).map(([Key, Value]) => ({ Key, Value }));
    const resources = t.toJSON().Resources as Record<
      string,
      { Type: string; Properties?: { Tags?: unknown } }
    >;
    const tagged = new Set<string>();
    for (const [id, resource] of Object.entries(resources)) {
      if (UNTAGGABLE.has(resource.Type)) continue;
      const tags = resource.Properties?.Tags;
      // Most types take a list of {Key, Value}; a few (e.g. SSM) a map.
      const list = Array.isArray(tags)
        ? tags
        : Object.entries((tags as Record<string, string>) ?? {}).map(([Key, Value]) => ({ Key, Value }));
      expect(list, `${id} (${resource.Type})`).toEqual(expect.arrayContaining(expected));
      tagged.add(resource.Type);
    }
    for (const type of [
      'AWS::Kinesis::Stream',
      'AWS::DynamoDB::Table',
      'AWS::Lambda::Function',
      'AWS::SQS::Queue',
    ]) {
      expect(tagged).toContain(type);
    }
  });
});

describe('what the at-rest cost model counts (cost/at-rest-model.ts)', () => {
  it('matches the template: KMS keys, secrets, alarms, dashboards, the ticker schedule and memory, the stream', () => {
    t.resourceCountIs('AWS::KMS::Key', STANDING_RESOURCES.kmsKeys);
    t.resourceCountIs('AWS::SecretsManager::Secret', STANDING_RESOURCES.secrets);
    t.resourceCountIs('AWS::CloudWatch::Alarm', STANDING_RESOURCES.alarms);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', STANDING_RESOURCES.dashboards);
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${STANDING_RESOURCES.tickerScheduleSeconds / 60} minute)`,
    });
    t.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: DEFAULT_AT_REST.shardCount });
    // At rest the ticker is the only function that runs (one round a minute).
    expect(propertiesOf(t, functionId('ticker'))).toMatchObject({
      MemorySize: DEFAULT_AT_REST.tickerMemoryMb,
      Environment: { Variables: { DUE_SHARD_COUNT: String(DEFAULT_AT_REST.dueShardCount) } },
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no violation (synth would have thrown) and no error annotation', () => {
    const report = JSON.parse(fs.readFileSync(path.join(s.outdir, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations);
    expect(violations).toEqual([]);
    expect(Annotations.fromStack(s.stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges exactly the accepted findings, each with a specific reason', () => {
    const acks = acknowledged(s.stack);
    expect(acks.map((a) => a.id).sort()).toEqual(
      ['IAM5[Resource::*]', 'KDS3', 'L1', 'L1', 'L1', 'SMG4', 'SQS3'].map(
        (rule) => `AwsSolutions::AwsSolutions-${rule}`,
      ),
    );
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(60);
  });

  it("passes CDK's built-in CloudFormation validation, its findings as errors", () => {
    const strict = synthFlowline(
      { clickHouseUrl: 'https://ch.example.com:8443', clusterUuid: CLUSTER_UUID },
      { cloudFormationValidation: true },
    ); // would throw ValidationFailed
    removeOutdir(strict);
    const probe = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
    new CfnResource(new Stack(probe, 'Probe'), 'Queue', {
      type: 'AWS::SQS::Queue',
      properties: { MessageRetentionPeriod: 'often' },
    });
    expect(() => probe.synth()).toThrow();
  });

  it('is really checking: an unacknowledged finding fails the synth', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    new sqs.Queue(new Stack(app, 'Probe'), 'PlainQueue');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  it('warns (not fails) when the ClickHouse URL or cluster UUID is missing', () => {
    const p = synthAgain({});
    const warnings = Annotations.fromStack(p.stack)
      .findWarning('*', Match.anyValue())
      .map((w) => String(w.entry.data));
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toMatch(/clickHouseUrl is empty[\s\S]*clusterUuid is empty/);
  });
});
