import { describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  DEFAULT_STREAM_MAPPING_SETTINGS,
  readKinesisMappings,
  synthesizeAppTemplate,
  TemplateSettingsError,
} from '../../../local/esm/settings.ts';

/** Handwritten CloudFormation, in the shape CDK synthesizes for a KinesisEventSource with an SqsDlq. */
function template(mappingProps: Record<string, unknown>): CloudFormationTemplate {
  return {
    Resources: {
      Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 2, RetentionPeriodHours: 24 } },
      Queue: { Type: 'AWS::SQS::Queue' },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Handler: 'index.handler', Runtime: 'nodejs22.x', Timeout: 60, MemorySize: 1024 },
        Metadata: { 'aws:cdk:path': 'S/Fn/Resource', 'flowline:entry': 'functions/x/handler.ts' },
      },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'Fn' },
          EventSourceArn: { 'Fn::GetAtt': ['Stream', 'Arn'] },
          StartingPosition: 'TRIM_HORIZON',
          ...mappingProps,
        },
      },
      QueueMapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
      },
    },
  };
}

describe('readKinesisMappings', () => {
  it('reads every ESM property with its stream, function and destination', () => {
    const [mapping, ...others] = readKinesisMappings(
      template({
        BatchSize: 250,
        MaximumBatchingWindowInSeconds: 5,
        ParallelizationFactor: 3,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 4,
        MaximumRecordAgeInSeconds: 3600,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
      }),
    );
    expect(others).toEqual([]); // the SQS mapping is not a Kinesis mapping
    expect(mapping).toEqual({
      logicalId: 'Mapping',
      settings: {
        batchSize: 250,
        maximumBatchingWindowSeconds: 5,
        parallelizationFactor: 3,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 4,
        maximumRecordAgeSeconds: 3600,
        reportBatchItemFailures: true,
        startingPosition: 'TRIM_HORIZON',
        enabled: true,
      },
      stream: { logicalId: 'Stream', shardCount: 2, retentionPeriodHours: 24 },
      function: {
        logicalId: 'Fn',
        cdkPath: 'S/Fn/Resource',
        entry: 'functions/x/handler.ts',
        handler: 'index.handler',
        runtime: 'nodejs22.x',
        timeoutSeconds: 60,
        memorySizeMb: 1024,
        environment: {},
      },
      onFailure: { logicalId: 'Queue', type: 'AWS::SQS::Queue' },
    });
  });

  it("applies AWS's defaults for absent properties", () => {
    const [mapping] = readKinesisMappings(template({ StartingPosition: undefined }));
    expect(mapping?.settings).toEqual(DEFAULT_STREAM_MAPPING_SETTINGS);
    expect(mapping?.onFailure).toBeUndefined();
  });

  it.each([
    [{ BatchSize: 0 }, /BatchSize/],
    [{ BatchSize: 10_001 }, /BatchSize/],
    [{ ParallelizationFactor: 11 }, /ParallelizationFactor/],
    [{ MaximumRecordAgeInSeconds: 30 }, /MaximumRecordAgeInSeconds/],
    [{ MaximumBatchingWindowInSeconds: 301 }, /MaximumBatchingWindowInSeconds/],
    [{ FunctionResponseTypes: ['Other'] }, /FunctionResponseTypes/],
    [
      { FilterCriteria: { Filters: [{ Pattern: '{"data":{"n":[1]}}' }] } },
      /FilterCriteria on a Kinesis mapping is not supported/,
    ],
    [{ FilterCriteria: { Filters: [] } }, /FilterCriteria must have Filters/],
    [{ TumblingWindowInSeconds: 60 }, /TumblingWindowInSeconds is not supported/],
    [{ StartingPosition: 'AT_TIMESTAMP' }, /StartingPositionTimestamp/],
    [{ BisectBatchOnFunctionError: 'yes' }, /BisectBatchOnFunctionError/],
  ])('rejects %j', (props, message) => {
    expect(() => readKinesisMappings(template(props))).toThrow(TemplateSettingsError);
    expect(() => readKinesisMappings(template(props))).toThrow(message);
  });

  it('reads the mapping the Flowline CDK app synthesizes, with cdk.json context and overrides', async () => {
    const synthesized = await synthesizeAppTemplate({ context: { correlatorBatchSize: 321 } });
    const mappings = readKinesisMappings(synthesized);
    expect(mappings).toHaveLength(1);
    const [mapping] = mappings;
    expect(mapping?.settings).toMatchObject({
      batchSize: 321,
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: true,
      startingPosition: 'TRIM_HORIZON',
    });
    expect(mapping?.function.entry).toBe('functions/correlator/handler.ts');
    expect(mapping?.onFailure?.type).toBe('AWS::SQS::Queue');
    // The rest equals what the template says, property by property.
    const props = synthesized.Resources?.[mapping?.logicalId ?? '']?.Properties ?? {};
    expect(mapping?.settings.maximumBatchingWindowSeconds).toBe(props.MaximumBatchingWindowInSeconds ?? 0);
    expect(mapping?.settings.maximumRetryAttempts).toBe(props.MaximumRetryAttempts);
    expect(mapping?.settings.maximumRecordAgeSeconds).toBe(props.MaximumRecordAgeInSeconds);
    expect(mapping?.settings.parallelizationFactor).toBe(props.ParallelizationFactor ?? 1);
  });
});
