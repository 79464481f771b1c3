// Event source mappings on a DynamoDB table's stream, read from a template: the CDK's own DynamoEventSource
// output, errors for what AWS would refuse, and the Flowline template's exporter mapping on its flow table.
import { describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  readDynamoDbStreamMappings,
  readKinesisMappings,
  synthesizeAppTemplate,
  TemplateSettingsError,
} from '../../../local/esm/settings.ts';
import { createTableInputOf } from '../../../local/runner/provision.ts';
import { readLocalTopology, readTableDefinition } from '../../../local/runner/template.ts';
import { dynamoDbStreamTemplate, EXPORTER_STACK } from './dynamodb-stream-template.ts';

describe('readDynamoDbStreamMappings', () => {
  const synthesized = dynamoDbStreamTemplate();

  it('reads the mapping CDK synthesizes for a DynamoEventSource: settings, table stream, function, destination', () => {
    const [mapping, ...others] = readDynamoDbStreamMappings(synthesized);
    expect(others).toEqual([]);
    expect(mapping).toMatchObject({
      settings: {
        batchSize: 4,
        maximumBatchingWindowSeconds: 0,
        parallelizationFactor: 1,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 2,
        maximumRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        startingPosition: 'TRIM_HORIZON',
        enabled: true,
      },
      table: { logicalId: expect.stringMatching(/^Flows/), streamViewType: 'NEW_IMAGE' },
      function: { logicalId: expect.stringMatching(/^Exporter/), timeoutSeconds: 20, memorySizeMb: 512 },
      onFailure: { logicalId: expect.stringMatching(/^ExporterDlq/), type: 'AWS::SQS::Queue' },
    });
    const esm = synthesized.Resources?.[mapping?.logicalId ?? ''];
    expect(esm?.Properties?.EventSourceArn).toEqual({
      'Fn::GetAtt': [mapping?.table.logicalId, 'StreamArn'],
    });
  });

  it('is not a Kinesis mapping: readKinesisMappings skips it instead of failing on the StreamArn', () => {
    expect(readKinesisMappings(synthesized)).toEqual([]);
  });

  it("gives local mode the table with its stream, so CreateTable makes the mapping's source", () => {
    const [mapping] = readDynamoDbStreamMappings(synthesized);
    const tableId = mapping?.table.logicalId ?? '';
    const table = readTableDefinition(
      EXPORTER_STACK,
      tableId,
      synthesized.Resources?.[tableId] ?? { Type: '' },
    );
    expect(createTableInputOf(table)).toMatchObject({
      TableName: `${EXPORTER_STACK}-${tableId}`,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    });
  });

  it('refuses AT_TIMESTAMP, which DynamoDB Streams does not have, and a table without a stream', () => {
    const withProps = (
      mappingProps: Record<string, unknown>,
      tableProps: Record<string, unknown>,
    ): CloudFormationTemplate => ({
      Resources: {
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], ...tableProps },
        },
        Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
        Mapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'Fn' },
            EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
            ...mappingProps,
          },
        },
      },
    });
    const stream = { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } };
    expect(readDynamoDbStreamMappings(withProps({ StartingPosition: 'LATEST' }, stream))).toHaveLength(1);
    const atTimestamp = withProps({ StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: 1 }, stream);
    expect(() => readDynamoDbStreamMappings(atTimestamp)).toThrow(TemplateSettingsError);
    expect(() => readDynamoDbStreamMappings(atTimestamp)).toThrow(/no AT_TIMESTAMP/);
    expect(() => readDynamoDbStreamMappings(withProps({}, {}))).toThrow(/no StreamSpecification/);
    const tableArn = withProps({}, stream);
    (tableArn.Resources?.Mapping?.Properties as Record<string, unknown>).EventSourceArn = {
      'Fn::GetAtt': ['Table', 'Arn'],
    };
    expect(() => readDynamoDbStreamMappings(tableArn)).toThrow(/must be the StreamArn of Table/);
  });

  it("finds the exporter's mapping in the Flowline template, on the flow table's NEW_IMAGE stream", async () => {
    const flowline = await synthesizeAppTemplate();
    const [exporter, ...others] = readDynamoDbStreamMappings(flowline);
    expect(others).toEqual([]);
    expect(readKinesisMappings(flowline)).toHaveLength(1);
    const { table } = readLocalTopology(flowline);
    expect(exporter).toMatchObject({
      table: { logicalId: table.logicalId, streamViewType: 'NEW_IMAGE' },
      function: { entry: 'functions/exporter/handler.ts' },
      settings: { bisectBatchOnFunctionError: false, maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1 },
    });
    expect(exporter?.settings.filterPatterns).toHaveLength(1);
    expect(createTableInputOf(table)).toMatchObject({
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    });
  });
});
