// lib/config.ts: the documented defaults (cdk.json = DEFAULT_CONFIG) and rejection of bad context values.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG,
  type FlowlineConfig,
  oidcIssuerOf,
  readConfig,
} from '../../lib/config.ts';
import { PROJECT_ROOT } from '../../lib/flowline-function.ts';

const contextOf = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });
const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'));

describe('readConfig', () => {
  it('returns the defaults for an empty context', () => {
    expect(readConfig(contextOf({}))).toEqual(DEFAULT_CONFIG);
  });

  it('cdk.json carries every default (optional keys without a default excepted), with the same value', () => {
    const defined = Object.entries(DEFAULT_CONFIG).filter(([, v]) => v !== undefined);
    // cli-telemetry: the CDK CLI's own setting (no usage reports: synth stays offline).
    const { 'cli-telemetry': telemetry, ...flowlineContext } = cdkJson.context;
    expect(telemetry).toBe(false);
    expect(flowlineContext).toEqual(Object.fromEntries(defined));
    expect(readConfig(contextOf(flowlineContext))).toEqual(DEFAULT_CONFIG);
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
  });

  it('parses `-c key=value` strings', () => {
    const config = readConfig(
      contextOf({
        streamMode: 'provisioned',
        shardCount: '8',
        retainData: 'false',
        alarmEmail: 'ops@example.com',
      }),
    );
    expect(config).toMatchObject({
      streamMode: 'provisioned',
      shardCount: 8,
      retainData: false,
      alarmEmail: 'ops@example.com',
    });
  });

  const rejects: [Partial<Record<keyof FlowlineConfig, unknown>>, RegExp][] = [
    [{ streamMode: 'burst' }, /streamMode.*on-demand, provisioned/],
    [{ shardCount: '0' }, /shardCount/],
    [{ shardCount: 2.5 }, /shardCount/],
    [{ streamRetentionHours: 12 }, /streamRetentionHours/],
    [{ commitIntervalSeconds: 60 }, /commitIntervalSeconds/],
    [
      { commitIntervalSeconds: 30, tickerRunForSeconds: 20 },
      /commitIntervalSeconds must be <= tickerRunForSeconds/,
    ],
    [{ tickerCount: 17 }, /tickerCount must be <= dueShardCount/],
    [{ tickerCount: 0 }, /tickerCount/],
    [
      { correlatorBatchingWindowSeconds: 200 },
      /indexMarginSeconds must be >= correlatorBatchingWindowSeconds/,
    ],
    [{ indexSlackSeconds: 100 }, /indexMarginSeconds must be below indexSlackSeconds/],
    [{ indexSlackSeconds: 30 }, /indexSlackSeconds/],
    [{ exporterTimeoutSeconds: 5 }, /exporterTimeoutSeconds/],
    [{ exporterMemoryMb: 64 }, /exporterMemoryMb/],
    [{ inactiveTimeoutSeconds: 30 }, /inactiveTimeoutSeconds must be >= activeTimeoutSeconds/],
    [{ correlatorParallelizationFactor: 11 }, /correlatorParallelizationFactor/],
    [
      { correlatorMaxRecordAgeSeconds: 86_400 },
      /correlatorMaxRecordAgeSeconds must be below streamRetentionHours/,
    ],
    [{ logRetentionDays: 31 }, /logRetentionDays/],
    [{ clickHouseUrl: 'ch.example.com' }, /clickHouseUrl/],
    [{ clusterUuid: 'not-a-uuid' }, /clusterUuid/],
    [{ retainData: 'yes' }, /retainData/],
    [{ collectorTrust: 'irsa' }, /needs collectorOidcProviderArn/],
    [{ collectorOidcProviderArn: 'arn:aws:iam::123:role/x' }, /collectorOidcProviderArn/],
    [{ alarmEmail: 'nobody' }, /alarmEmail/],
    [
      {
        ipfixExportAddress: 'tcp://collector.example.com:4739',
        ipfixExportTlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ipfix-AbCdEf',
      },
      /need a tls:\/\/ ipfixExportAddress/,
    ],
    [{ ipfixExportTlsSecretArn: 'ipfix-client-cert' }, /ipfixExportTlsSecretArn/],
    [{ ipfixExportTlsMinVersion: 'TLSv1.1' }, /ipfixExportTlsMinVersion/],
    [{ archiveFormat: 'orc' }, /archiveFormat/],
  ];
  it.each(rejects)('rejects %j', (values, message) => {
    expect(() => readConfig(contextOf(values))).toThrow(ConfigError);
    expect(() => readConfig(contextOf(values))).toThrow(message);
  });
});

describe('oidcIssuerOf', () => {
  it('is the provider ARN after oidc-provider/', () => {
    expect(
      oidcIssuerOf('arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB12'),
    ).toBe('oidc.eks.us-east-1.amazonaws.com/id/AB12');
    expect(() => oidcIssuerOf('arn:aws:iam::123456789012:role/x')).toThrow(ConfigError);
  });
});
