// Synthesizes FlowlineStack the way bin/app.ts does (cdk-nag AwsSolutions as a validation plugin), with
// bundling skipped so no esbuild runs: the template is all these tests need.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type FlowlineConfig, readConfig } from '../../lib/config.ts';
import { FlowlineStack } from '../../lib/flowline-stack.ts';
import { FlowlineChecks } from '../../lib/nag-rules.ts';
import { tagFlowline } from '../../lib/tags.ts';

export interface Synthesized {
  app: App;
  stack: FlowlineStack;
  template: Template;
  outdir: string;
  synthMs: number;
}

export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

/**
 * `cloudFormationValidation`: also run CDK's built-in CloudFormation validation (a WASM rule engine, 2-3 s
 * of CPU per synth) with its findings as errors, as `cdk synth` runs it with warnings; off by default, one
 * test turns it on.
 */
export function synthFlowline(
  overrides: Partial<FlowlineConfig> = {},
  options: { cloudFormationValidation?: boolean } = {},
): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowline-infra-'));
  const started = performance.now();
  const app = new App({
    outdir,
    context: {
      'aws:cdk:bundling-stacks': [],
      '@aws-cdk/core:validateAgainstDefaultRules': options.cloudFormationValidation === true,
    },
    builtinCloudFormationValidation: options.cloudFormationValidation === true,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new FlowlineChecks(app));
  const config = readConfig(app.node, overrides);
  tagFlowline(app, config.stackName);
  const stack = new FlowlineStack(app, config.stackName, { config, env: TEST_ENV });
  app.synth(); // throws ValidationFailed on any unacknowledged cdk-nag finding (or CloudFormation one)
  const template = Template.fromStack(stack);
  return { app, stack, template, outdir, synthMs: performance.now() - started };
}

/** Every resource of a type, by logical id. */
export function resourcesOf(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}

export function removeOutdir(s: Pick<Synthesized, 'outdir'>): void {
  fs.rmSync(s.outdir, { recursive: true, force: true });
}

export type { Stack };
