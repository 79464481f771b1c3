// Tags on every taggable resource of the app (cost allocation, ownership, finding the stack's resources):
// CDK Tags.of(app) applies them to each resource whose CloudFormation type takes tags. bin/app.ts and the
// infra tests' synth call this, so the tested template is tagged as the deployed one.
import { type App, Tags } from 'aws-cdk-lib';

export function flowlineTags(stackName: string): Record<string, string> {
  return { project: 'flowline', 'flowline:stack': stackName };
}

export function tagFlowline(app: App, stackName: string): void {
  for (const [key, value] of Object.entries(flowlineTags(stackName))) Tags.of(app).add(key, value);
}
