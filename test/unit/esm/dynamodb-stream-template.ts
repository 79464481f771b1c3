// A CloudFormation template with a DynamoDB stream event source mapping, synthesized by the CDK itself (a table
// with a NEW_IMAGE stream, a function, DynamoEventSource with an SQS on-failure destination): the shape of
// the Flowline stack's exporter mapping on its flow table, small enough to steer (batch size, bisect, retries).
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { CloudFormationTemplate } from '../../../local/esm/settings.ts';

export const EXPORTER_STACK = 'EsmDdb';

export function dynamoDbStreamTemplate(): CloudFormationTemplate {
  const app = new App();
  const stack = new Stack(app, EXPORTER_STACK);
  const table = new dynamodb.Table(stack, 'Flows', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.NUMBER },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    stream: dynamodb.StreamViewType.NEW_IMAGE,
  });
  const exporter = new lambda.Function(stack, 'Exporter', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => null;'),
    timeout: Duration.seconds(20),
    memorySize: 512,
  });
  exporter.addEventSource(
    new DynamoEventSource(table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 4,
      bisectBatchOnError: true,
      retryAttempts: 2,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(new sqs.Queue(stack, 'ExporterDlq')),
    }),
  );
  return app.synth().getStackByName(stack.stackName).template as CloudFormationTemplate;
}
