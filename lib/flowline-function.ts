// One Flowline Lambda function: a NodejsFunction bundled by the local esbuild (never Docker), with its own
// role (no AWS managed policies) and its own log group with a retention. Callers add the grants they need.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLE_SETTINGS } from './bundle-settings.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;

export interface FlowlineFunctionProps {
  /** Handler module, relative to the project root, exporting `handler`. */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  reservedConcurrentExecutions?: number;
}

export class FlowlineFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: FlowlineFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs:* on every group): write to this function's group only.
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      // Stack traces in the logs point into the TypeScript sources (the bundle ships its source map).
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: LAMBDA_BUNDLE_SETTINGS.target,
        minify: LAMBDA_BUNDLE_SETTINGS.minify,
        sourceMap: LAMBDA_BUNDLE_SETTINGS.sourcemap,
        sourcesContent: LAMBDA_BUNDLE_SETTINGS.sourcesContent,
        externalModules: [...LAMBDA_BUNDLE_SETTINGS.external],
        mainFields: [...LAMBDA_BUNDLE_SETTINGS.mainFields],
        banner: LAMBDA_BUNDLE_SETTINGS.banner,
      },
    });
    // Lets the local-mode emulator map a function in the synthesized template to its handler module.
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('flowline:entry', props.entry);
  }
}
