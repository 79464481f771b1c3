// The extra sinks in the synthesized template: off by default; opted in by context they set the exporter's
// environment, the archive bucket (KMS, TLS only, no public access, access logs, lifecycle), PutObject on
// the prefix only, the outbox's items in the flow table, and alarms on dropped rows and backlog per sink;
// cdk-nag passes (synthFlowline).
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxPrefixOf } from '../../functions/flow-store/schema.ts';
import {
  EXPORTER_SERVICE_NAME,
  SINK_BACKLOG_AGE_METRIC,
  SINK_QUEUED_ROWS_METRIC,
  SINK_RETRIES_METRIC,
  SINK_ROWS_DROPPED_METRIC,
  SINK_ROWS_SENT_METRIC,
} from '../../functions/shared/metric-names.ts';
import { ConfigError } from '../../lib/config.ts';
import { removeOutdir, resourcesOf, type Synthesized, synthFlowline } from './synth.ts';

const BASE = {
  clickHouseUrl: 'https://ch.example.com:8443',
  clusterUuid: '0b8d5f3e-3c57-4b7a-9a7e-2f6f1c0d9e11',
};
const made: Synthesized[] = [];
const synth = (overrides: Parameters<typeof synthFlowline>[0]) => {
  const s = synthFlowline({ ...BASE, ...overrides });
  made.push(s);
  return s;
};
afterAll(() => {
  for (const s of made) removeOutdir(s);
});

function exporterEnvironment(s: Synthesized): Record<string, unknown> {
  const fn = s.stack.getLogicalId(s.stack.exporter.function.node.defaultChild as never);
  const props = resourcesOf(s.template, 'AWS::Lambda::Function')[fn]!.Properties;
  return (props.Environment as { Variables: Record<string, unknown> }).Variables;
}

describe('extra sinks', () => {
  it('are off by default: no bucket, no sink variables, no sink alarms', () => {
    const s = synth({});
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(s.stack.sinks.flowLogGroup).toBeUndefined();
    expect(
      Object.keys(exporterEnvironment(s)).filter((k) => /^(IPFIX_EXPORT|ARCHIVE|FLOW_LOG|SINK)_/.test(k)),
    ).toEqual([]);
    expect(JSON.stringify(s.template.toJSON())).not.toContain('SinkRowsDropped');
  });

  it('IPFIX/JSON export: the exporter gets the collector address, format and domain id; alarms per sink', () => {
    const s = synth({
      ipfixExportAddress: 'tls://collector.example.com:4739',
      ipfixExportFormat: 'JSON',
      ipfixExportObservationDomainId: 42,
    });
    expect(exporterEnvironment(s)).toMatchObject({
      IPFIX_EXPORT_ADDRESS: 'tls://collector.example.com:4739',
      IPFIX_EXPORT_FORMAT: 'JSON',
      IPFIX_EXPORT_OBSERVATION_DOMAIN_ID: '42',
      SINK_MAX_QUEUED_ROWS: '100000',
    });
    for (const [metric, threshold] of [
      [SINK_ROWS_DROPPED_METRIC, 0],
      [SINK_QUEUED_ROWS_METRIC, 50_000],
      [SINK_BACKLOG_AGE_METRIC, 900],
    ] as const) {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'Flowline',
        Dimensions: Match.arrayWith([
          { Name: 'service', Value: EXPORTER_SERVICE_NAME },
          { Name: 'sink', Value: 'ipfix' },
        ]),
        Threshold: threshold,
        AlarmActions: Match.anyValue(),
      });
    }
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
  });

  it('tls:// export: the client certificate stays in its secret, which the exporter alone may read', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowline/ipfix-client-AbCdEf';
    const s = synth({
      ipfixExportAddress: 'tls://collector.example.com:4739',
      ipfixExportTlsSecretArn: arn,
      ipfixExportTlsServerName: 'ipfix.example.com',
      ipfixExportTlsMinVersion: 'TLSv1.3',
    });
    const env = exporterEnvironment(s);
    expect(env).toMatchObject({
      IPFIX_EXPORT_TLS_SECRET_ID: arn,
      IPFIX_EXPORT_TLS_SERVER_NAME: 'ipfix.example.com',
      IPFIX_EXPORT_TLS_MIN_VERSION: 'TLSv1.3',
    });
    // No PEM in the environment: the key would be readable by anyone who may read the function.
    expect(Object.keys(env).filter((k) => /^IPFIX_EXPORT_TLS_(CA|CERT|KEY)$/.test(k))).toEqual([]);
    const grants = Object.entries(resourcesOf(s.template, 'AWS::IAM::Policy')).flatMap(([id, policy]) =>
      (
        policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }
      ).Statement.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(arn)).map((st) => ({
        id,
        action: st.Action,
      })),
    );
    expect(grants).toEqual([
      {
        id: expect.stringMatching(/^Exporter/),
        action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      },
    ]);
  });

  it('tls:// export without a secret: system roots, TLS 1.2 at least, no secret read', () => {
    const s = synth({ ipfixExportAddress: 'tls://collector.example.com:4739' });
    const env = exporterEnvironment(s);
    expect(env.IPFIX_EXPORT_TLS_MIN_VERSION).toBe('TLSv1.2');
    expect(env).not.toHaveProperty('IPFIX_EXPORT_TLS_SECRET_ID');
  });

  it('adds a row per sink to the operations dashboard when it is deployed', () => {
    const body = (s: Synthesized) =>
      JSON.stringify(
        Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
      );
    const both = { ipfixExportAddress: 'tcp://collector.example.com:4739', archiveEnabled: true };
    const withDashboard = body(synth({ ...both, dashboard: true }));
    for (const kind of ['ipfix', 'archive'])
      for (const metric of [
        SINK_ROWS_SENT_METRIC,
        SINK_RETRIES_METRIC,
        SINK_ROWS_DROPPED_METRIC,
        SINK_QUEUED_ROWS_METRIC,
        SINK_BACKLOG_AGE_METRIC,
      ])
        expect(withDashboard).toContain(
          `\\"${metric}\\",\\"service\\",\\"${EXPORTER_SERVICE_NAME}\\",\\"sink\\",\\"${kind}`,
        );
    synth(both).template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('flow log: its own KMS-encrypted log group with retention, the filters checked at synth, rights on it only', () => {
    const filters = [{ ingressNetworkPolicyRuleActions: ['Drop', 'Reject'] }];
    const s = synth({
      flowLogEnabled: true,
      flowLogFilters: filters as unknown as string, // cdk.json may hold the list itself
      flowLogRetentionDays: 90,
    });
    const group = s.stack.getLogicalId(s.stack.sinks.flowLogGroup!.node.defaultChild as never);
    s.template.hasOutput('FlowLogGroupName', { Value: { Ref: group } });
    s.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/flowline/Flowline/flow-log',
      RetentionInDays: 90,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinksFlowLogKey'), 'Arn'] },
    });
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: Match.stringLikeRegexp('^logs\\.[a-z0-9-]+\\.amazonaws\\.com$') },
            Condition: {
              ArnEquals: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      Match.stringLikeRegexp(':log-group:/flowline/Flowline/flow-log$'),
                    ],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
    expect(exporterEnvironment(s)).toMatchObject({
      FLOW_LOG_GROUP: { Ref: group },
      FLOW_LOG_PRETTY_PRINT: 'true',
      FLOW_LOG_FILTERS: JSON.stringify(filters),
    });
    const statements = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy')).flatMap(
      (policy) =>
        (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] })
          .Statement,
    );
    const onGroup = statements.filter((st) => JSON.stringify(st.Resource).includes(`"${group}"`));
    expect(onGroup).toEqual([
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [group, 'Arn'] },
      }),
    ]);
    expect(
      statements.filter((st) => JSON.stringify(st.Action).includes('logs:') && st.Resource === '*'),
    ).toEqual([]);
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: SINK_ROWS_DROPPED_METRIC,
      Dimensions: Match.arrayWith([{ Name: 'sink', Value: 'flowlog' }]),
    });
    expect(() =>
      synth({ flowLogEnabled: true, flowLogFilters: '[{"ingressNetworkPolicyRuleActions":["deny"]}]' }),
    ).toThrow(/context flowLogFilters: filter 0: ingressNetworkPolicyRuleActions: "deny" is not one of/);
    expect(() => synth({ flowLogFilters: '[]' })).toThrow(/flowLogFilters needs flowLogEnabled=true/);
    expect(() => synth({ flowLogEnabled: true, flowLogRetentionDays: 31 })).toThrow(ConfigError);
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
  });

  it("S3 archive format: Parquet by default; Antrea's CSV, gzipped unless archiveGzip=false", () => {
    expect(exporterEnvironment(synth({ archiveEnabled: true }))).toMatchObject({ ARCHIVE_FORMAT: 'parquet' });
    expect(exporterEnvironment(synth({ archiveEnabled: true }))).not.toHaveProperty('ARCHIVE_GZIP');
    expect(exporterEnvironment(synth({ archiveEnabled: true, archiveFormat: 'csv' }))).toMatchObject({
      ARCHIVE_FORMAT: 'csv',
      ARCHIVE_GZIP: 'true',
    });
    expect(
      exporterEnvironment(synth({ archiveEnabled: true, archiveFormat: 'csv', archiveGzip: false })),
    ).toMatchObject({ ARCHIVE_GZIP: 'false' });
  });

  it('S3 archive: KMS bucket, TLS only, no public access, lifecycle, PutObject on the prefix only', () => {
    const s = synth({ archiveEnabled: true, archiveInfrequentAccessDays: 60, archiveExpirationDays: 400 });
    const bucket = s.stack.getLogicalId(s.stack.sinks.bucket!.node.defaultChild as never);
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'archive/' }),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: 'flows/',
            Status: 'Enabled',
            ExpirationInDays: 400,
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 60 }],
          }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(exporterEnvironment(s)).toMatchObject({
      ARCHIVE_BUCKET: { Ref: bucket },
      ARCHIVE_PREFIX: 'flows/',
    });
    const policies = JSON.stringify(resourcesOf(s.template, 'AWS::IAM::Policy'));
    expect(policies).toContain('s3:PutObject');
    expect(policies).toContain('/flows/*');
    expect(policies).not.toMatch(/s3:(GetObject|DeleteObject\b|\*)/);
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: SINK_ROWS_DROPPED_METRIC,
      Dimensions: Match.arrayWith([{ Name: 'sink', Value: 'archive' }]),
    });
    s.template.hasOutput('ArchiveBucketName', { Value: { Ref: bucket } });
  });

  it('the durable outbox adds the outbox items, and only those, to the exporter; the tickers get nothing', () => {
    /** The DynamoDB actions of a role's policies, each with the partition keys it is limited to. */
    const dynamoGrants = (s: Synthesized, fn: { role?: unknown }) => {
      const role = s.stack.getLogicalId((fn.role as { node: { defaultChild: never } }).node.defaultChild);
      return Object.values(resourcesOf(s.template, 'AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement)
        .flatMap((st) =>
          [st.Action]
            .flat()
            .filter((a): a is string => typeof a === 'string' && a.startsWith('dynamodb:'))
            .map((action) => {
              const keys = (st.Condition as Record<string, Record<string, unknown>> | undefined)?.[
                'ForAllValues:StringLike'
              ]?.['dynamodb:LeadingKeys'];
              return keys ? `${action} ${JSON.stringify(keys)}` : action;
            }),
        )
        .sort();
    };
    const off = synth({});
    const on = synth({ ipfixExportAddress: 'tcp://collector.example.com:4739', archiveEnabled: true });
    const outbox = JSON.stringify([`${outboxPrefixOf(0)}*`]);
    expect(dynamoGrants(on, on.stack.exporter.function)).toEqual(
      [
        ...dynamoGrants(off, off.stack.exporter.function),
        `dynamodb:BatchGetItem ${outbox}`,
        `dynamodb:BatchWriteItem ${outbox}`,
        `dynamodb:PutItem ${outbox}`,
      ].sort(),
    );
    expect(dynamoGrants(on, on.stack.ticker.function)).toEqual(dynamoGrants(off, off.stack.ticker.function));
  });

  it('refuses a bad collector address or an expiry before the transition', () => {
    expect(() => synthFlowline({ ...BASE, ipfixExportAddress: 'collector:4739' })).toThrow(ConfigError);
    expect(() =>
      synthFlowline({
        ...BASE,
        archiveEnabled: true,
        archiveInfrequentAccessDays: 60,
        archiveExpirationDays: 30,
      }),
    ).toThrow(/archiveExpirationDays/);
  });
});
