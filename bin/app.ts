// The Flowline CDK app (cdk.json: `npx tsx bin/app.ts`). Configuration comes from CDK context
// (lib/config.ts, README "Configuration"); cdk-nag's AwsSolutions pack checks every synth.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from '../lib/config.ts';
import { FlowlineStack } from '../lib/flowline-stack.ts';
import { FlowlineChecks } from '../lib/nag-rules.ts';
import { tagFlowline } from '../lib/tags.ts';

const app = new App();
// cdk-nag v3 runs as a policy validation plugin: any unacknowledged finding fails the synth.
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { verbose: true }),
  new FlowlineChecks(app, { verbose: true }),
);

const config = readConfig(app.node);
tagFlowline(app, config.stackName);
new FlowlineStack(app, config.stackName, {
  config,
  description: 'Flowline: Antrea flow records via Kinesis, Lambda and DynamoDB into ClickHouse',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

app.synth();
