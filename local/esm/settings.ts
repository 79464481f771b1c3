// Event source mapping settings, read from the synthesized CloudFormation template so local mode runs with
// exactly what the stack deploys. Property names and defaults are CloudFormation's AWS::Lambda::EventSourceMapping.
// A mapping's source is what its EventSourceArn references: a Kinesis stream's Arn, or a DynamoDB table's
// StreamArn (the table's stream); mappings of other sources (SQS...) are not the emulator's.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compilePattern, FilterPatternError } from './filter.ts';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

export interface StreamMappingSettings {
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly parallelizationFactor: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1: retry until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1: no age limit. */
  readonly maximumRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly startingPosition: StartingPosition;
  /** Epoch seconds, for AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
  readonly enabled: boolean;
  /** FilterCriteria.Filters[].Pattern (local/esm/filter.ts); absent: every record reaches the function. */
  readonly filterPatterns?: readonly string[];
}

/** AWS's defaults for a Kinesis or DynamoDB Streams mapping when a property is absent. */
export const DEFAULT_STREAM_MAPPING_SETTINGS: StreamMappingSettings = {
  batchSize: 100,
  maximumBatchingWindowSeconds: 0,
  parallelizationFactor: 1,
  bisectBatchOnFunctionError: false,
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  reportBatchItemFailures: false,
  startingPosition: 'TRIM_HORIZON',
  enabled: true,
};

export interface CloudFormationTemplate {
  Resources?: Record<string, CloudFormationResource>;
}

export interface CloudFormationResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface KinesisMappingDefinition {
  readonly logicalId: string;
  readonly settings: StreamMappingSettings;
  readonly stream: {
    readonly logicalId: string;
    /** The Name property; CloudFormation generates one when absent. */
    readonly name?: string;
    readonly shardCount?: number;
    readonly streamMode?: string;
    readonly retentionPeriodHours?: number;
  };
  readonly function: MappingFunctionDefinition;
  readonly onFailure?: MappingDestinationDefinition;
}

/** A mapping whose EventSourceArn is `{"Fn::GetAtt": [Table, "StreamArn"]}`: it reads the table's stream. */
export interface DynamoDbStreamMappingDefinition {
  readonly logicalId: string;
  readonly settings: StreamMappingSettings;
  readonly table: {
    readonly logicalId: string;
    /** The TableName property; CloudFormation generates one when absent. */
    readonly name?: string;
    /** StreamSpecification.StreamViewType: what each record carries (KEYS_ONLY, NEW_IMAGE...). */
    readonly streamViewType: string;
  };
  readonly function: MappingFunctionDefinition;
  readonly onFailure?: MappingDestinationDefinition;
}

export interface MappingDestinationDefinition {
  readonly logicalId: string;
  readonly type: string;
}

export interface MappingFunctionDefinition {
  readonly logicalId: string;
  readonly name?: string;
  /** The construct path (`aws:cdk:path` metadata), e.g. `Flowline/Correlator/Handler/Function/Resource`. */
  readonly cdkPath?: string;
  /** The handler module, relative to the project root (`flowline:entry` metadata of FlowlineFunction). */
  readonly entry?: string;
  readonly handler?: string;
  readonly runtime?: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  /** Environment variables as synthesized: values may still be CloudFormation intrinsics. */
  readonly environment: Readonly<Record<string, unknown>>;
}

export class TemplateSettingsError extends Error {
  override readonly name = 'TemplateSettingsError';
}

/** Every Kinesis event source mapping of the template, with its stream, function and failure destination. */
export function readKinesisMappings(template: CloudFormationTemplate): KinesisMappingDefinition[] {
  return streamMappingsOf(template, 'AWS::Kinesis::Stream', 'Arn').map((mapping) => {
    // Lambda filters a Kinesis record on its data decoded as JSON, which the emulator does not do.
    if (mapping.settings.filterPatterns) {
      throw new TemplateSettingsError(
        `EventSourceMapping ${mapping.logicalId}: FilterCriteria on a Kinesis mapping is not supported by the local emulator`,
      );
    }
    return {
      logicalId: mapping.logicalId,
      settings: mapping.settings,
      stream: readStream(mapping.sourceId, mapping.source.Properties ?? {}),
      function: mapping.function,
      ...mapping.onFailure,
    };
  });
}

/**
 * Every event source mapping of the template that reads a DynamoDB table's stream, with the table, function and
 * failure destination. DynamoDB Streams has no AT_TIMESTAMP iterator, so that StartingPosition is refused.
 */
export function readDynamoDbStreamMappings(
  template: CloudFormationTemplate,
): DynamoDbStreamMappingDefinition[] {
  return streamMappingsOf(template, 'AWS::DynamoDB::Table', 'StreamArn').map((mapping) => {
    const where = `EventSourceMapping ${mapping.logicalId}`;
    if (mapping.settings.startingPosition === 'AT_TIMESTAMP') {
      throw new TemplateSettingsError(
        `${where}: a DynamoDB stream has no AT_TIMESTAMP position (TRIM_HORIZON or LATEST)`,
      );
    }
    const props = mapping.source.Properties ?? {};
    const spec = props.StreamSpecification as { StreamViewType?: unknown } | undefined;
    if (typeof spec?.StreamViewType !== 'string') {
      throw new TemplateSettingsError(
        `${where}: table ${mapping.sourceId} has no StreamSpecification.StreamViewType, so no StreamArn`,
      );
    }
    return {
      logicalId: mapping.logicalId,
      settings: mapping.settings,
      table: {
        logicalId: mapping.sourceId,
        ...(typeof props.TableName === 'string' ? { name: props.TableName } : {}),
        streamViewType: spec.StreamViewType,
      },
      function: mapping.function,
      ...mapping.onFailure,
    };
  });
}

interface StreamMappingResource {
  readonly logicalId: string;
  readonly settings: StreamMappingSettings;
  readonly sourceId: string;
  readonly source: CloudFormationResource;
  readonly function: MappingFunctionDefinition;
  readonly onFailure: { onFailure?: MappingDestinationDefinition };
}

/** The mappings whose EventSourceArn is `attribute` (or a Ref) of a resource of `sourceType`. */
function streamMappingsOf(
  template: CloudFormationTemplate,
  sourceType: string,
  attribute: string,
): StreamMappingResource[] {
  const resources = template.Resources ?? {};
  const mappings: StreamMappingResource[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const props = resource.Properties ?? {};
    const where = `EventSourceMapping ${logicalId}`;
    const reference = referenceOf(props.EventSourceArn, `${where} EventSourceArn`);
    const source = resources[reference.logicalId];
    if (source?.Type !== sourceType) continue; // another source (SQS, the other kind of stream...)
    if (reference.attribute !== undefined && reference.attribute !== attribute) {
      throw new TemplateSettingsError(
        `${where}: EventSourceArn must be the ${attribute} of ${reference.logicalId}, not its ${reference.attribute}`,
      );
    }
    const functionId = referencedLogicalId(props.FunctionName, undefined, `${where} FunctionName`);
    const fn = resources[functionId];
    if (fn?.Type !== 'AWS::Lambda::Function') {
      throw new TemplateSettingsError(`${where}: FunctionName does not reference an AWS::Lambda::Function`);
    }
    mappings.push({
      logicalId,
      settings: readStreamMappingSettings(props, where),
      sourceId: reference.logicalId,
      source,
      function: readFunction(functionId, fn),
      onFailure: readOnFailure(props, resources, where),
    });
  }
  return mappings;
}

export function readStreamMappingSettings(
  props: Record<string, unknown>,
  where: string,
): StreamMappingSettings {
  const tumblingWindow = props.TumblingWindowInSeconds;
  if (tumblingWindow !== undefined && tumblingWindow !== 0) {
    throw new TemplateSettingsError(
      `${where}: TumblingWindowInSeconds is not supported by the local emulator`,
    );
  }
  const filterPatterns = readFilterPatterns(props.FilterCriteria, where);
  const defaults = DEFAULT_STREAM_MAPPING_SETTINGS;
  const responseTypes = props.FunctionResponseTypes ?? [];
  if (!Array.isArray(responseTypes) || responseTypes.some((type) => type !== 'ReportBatchItemFailures')) {
    throw new TemplateSettingsError(
      `${where}: FunctionResponseTypes must be [] or ['ReportBatchItemFailures']`,
    );
  }
  const startingPosition = props.StartingPosition ?? defaults.startingPosition;
  if (
    startingPosition !== 'TRIM_HORIZON' &&
    startingPosition !== 'LATEST' &&
    startingPosition !== 'AT_TIMESTAMP'
  ) {
    throw new TemplateSettingsError(`${where}: unknown StartingPosition ${JSON.stringify(startingPosition)}`);
  }
  const timestamp = props.StartingPositionTimestamp;
  if (startingPosition === 'AT_TIMESTAMP' && typeof timestamp !== 'number') {
    throw new TemplateSettingsError(`${where}: AT_TIMESTAMP needs a numeric StartingPositionTimestamp`);
  }
  const maximumRecordAgeSeconds = integer(
    props,
    'MaximumRecordAgeInSeconds',
    defaults.maximumRecordAgeSeconds,
    -1,
    604_800,
    where,
  );
  if (maximumRecordAgeSeconds !== -1 && maximumRecordAgeSeconds < 60) {
    throw new TemplateSettingsError(`${where}: MaximumRecordAgeInSeconds must be -1 or 60..604800`);
  }
  return {
    batchSize: integer(props, 'BatchSize', defaults.batchSize, 1, 10_000, where),
    maximumBatchingWindowSeconds: integer(props, 'MaximumBatchingWindowInSeconds', 0, 0, 300, where),
    parallelizationFactor: integer(props, 'ParallelizationFactor', 1, 1, 10, where),
    bisectBatchOnFunctionError: boolean(props, 'BisectBatchOnFunctionError', false, where),
    maximumRetryAttempts: integer(
      props,
      'MaximumRetryAttempts',
      defaults.maximumRetryAttempts,
      -1,
      10_000,
      where,
    ),
    maximumRecordAgeSeconds,
    reportBatchItemFailures: responseTypes.length > 0,
    startingPosition,
    ...(typeof timestamp === 'number' ? { startingPositionTimestamp: timestamp } : {}),
    enabled: boolean(props, 'Enabled', true, where),
    ...(filterPatterns ? { filterPatterns } : {}),
  };
}

/** FilterCriteria {Filters: [{Pattern}]}: each pattern checked here, so a bad one fails at startup. */
function readFilterPatterns(criteria: unknown, where: string): string[] | undefined {
  if (criteria === undefined) return undefined;
  const filters = (criteria as { Filters?: unknown } | null)?.Filters;
  if (!Array.isArray(filters) || filters.length === 0) {
    throw new TemplateSettingsError(`${where}: FilterCriteria must have Filters [{Pattern}]`);
  }
  return filters.map((filter, i) => {
    const pattern = (filter as { Pattern?: unknown } | null)?.Pattern;
    if (typeof pattern !== 'string') {
      throw new TemplateSettingsError(`${where}: FilterCriteria.Filters[${i}].Pattern must be a string`);
    }
    try {
      compilePattern(pattern);
    } catch (error) {
      if (error instanceof FilterPatternError) {
        throw new TemplateSettingsError(`${where}: FilterCriteria.Filters[${i}]: ${error.message}`);
      }
      throw error;
    }
    return pattern;
  });
}

/** Reads `<dir>/*.template.json` (a `cdk synth` output directory). */
export async function loadSynthesizedTemplates(
  cdkOutDir: string,
): Promise<Map<string, CloudFormationTemplate>> {
  const names = (await readdir(cdkOutDir)).filter((name) => name.endsWith('.template.json')).sort();
  const templates = new Map<string, CloudFormationTemplate>();
  for (const name of names) {
    templates.set(name, JSON.parse(await readFile(join(cdkOutDir, name), 'utf8')) as CloudFormationTemplate);
  }
  return templates;
}

/**
 * Synthesizes the Flowline stack in this process with bundling skipped (about a second, no esbuild) and returns
 * its template. Context is cdk.json's, then `context` on top, as `cdk synth -c key=value` would give.
 */
export async function synthesizeAppTemplate(
  options: { projectRoot?: string; context?: Record<string, unknown> } = {},
): Promise<CloudFormationTemplate> {
  const projectRoot = options.projectRoot ?? join(import.meta.dirname, '..', '..');
  const cdkJson = JSON.parse(await readFile(join(projectRoot, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  // Loaded on demand: reading a template from disk must not pay for aws-cdk-lib.
  const [{ App }, { readConfig }, { FlowlineStack }] = await Promise.all([
    import('aws-cdk-lib'),
    import('../../lib/config.ts'),
    import('../../lib/flowline-stack.ts'),
  ]);
  const app = new App({
    context: { ...cdkJson.context, ...options.context, 'aws:cdk:bundling-stacks': [] },
    outdir: join(projectRoot, '.flowline', 'cdk.out'),
    // Local mode reads resources from the template; CDK's built-in CloudFormation validation (a WASM rule
    // engine, about 2.3 s of CPU here, only warnings unless enabled) and the construct tree are for
    // `cdk synth` and deployments, which keep them (bin/app.ts).
    builtinCloudFormationValidation: false,
    treeMetadata: false,
  });
  const config = readConfig(app.node);
  const stack = new FlowlineStack(app, config.stackName, { config });
  return app.synth().getStackByName(stack.stackName).template as CloudFormationTemplate;
}

function readStream(logicalId: string, props: Record<string, unknown>): KinesisMappingDefinition['stream'] {
  const mode = props.StreamModeDetails as { StreamMode?: unknown } | undefined;
  return {
    logicalId,
    ...(typeof props.Name === 'string' ? { name: props.Name } : {}),
    ...(typeof props.ShardCount === 'number' ? { shardCount: props.ShardCount } : {}),
    ...(typeof mode?.StreamMode === 'string' ? { streamMode: mode.StreamMode } : {}),
    ...(typeof props.RetentionPeriodHours === 'number'
      ? { retentionPeriodHours: props.RetentionPeriodHours }
      : {}),
  };
}

function readFunction(logicalId: string, resource: CloudFormationResource): MappingFunctionDefinition {
  const props = resource.Properties ?? {};
  const environment =
    (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const cdkPath = resource.Metadata?.['aws:cdk:path'];
  const entry = resource.Metadata?.['flowline:entry'];
  return {
    logicalId,
    ...(typeof props.FunctionName === 'string' ? { name: props.FunctionName } : {}),
    ...(typeof cdkPath === 'string' ? { cdkPath } : {}),
    ...(typeof entry === 'string' ? { entry } : {}),
    ...(typeof props.Handler === 'string' ? { handler: props.Handler } : {}),
    ...(typeof props.Runtime === 'string' ? { runtime: props.Runtime } : {}),
    timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
    memorySizeMb: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
    environment,
  };
}

function readOnFailure(
  props: Record<string, unknown>,
  resources: Record<string, CloudFormationResource>,
  where: string,
): { onFailure?: MappingDestinationDefinition } {
  const destination = (props.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
    ?.OnFailure?.Destination;
  if (destination === undefined) return {};
  const logicalId = referencedLogicalId(
    destination,
    'Arn',
    `${where} DestinationConfig.OnFailure.Destination`,
  );
  const resource = resources[logicalId];
  if (!resource)
    throw new TemplateSettingsError(`${where}: on-failure destination ${logicalId} is not in the template`);
  return { onFailure: { logicalId, type: resource.Type } };
}

/** `{Ref: X}` or `{"Fn::GetAtt": [X, attribute]}` -> X. */
function referencedLogicalId(value: unknown, attribute: string | undefined, where: string): string {
  const reference = referenceOf(value, where);
  if (attribute !== undefined && reference.attribute !== undefined && reference.attribute !== attribute) {
    throw new TemplateSettingsError(
      `${where}: expected a reference to the ${attribute} of a resource, got ${JSON.stringify(value)}`,
    );
  }
  return reference.logicalId;
}

/** `{Ref: X}` -> X; `{"Fn::GetAtt": [X, A]}` -> X and A. */
function referenceOf(value: unknown, where: string): { logicalId: string; attribute?: string } {
  if (value !== null && typeof value === 'object') {
    const ref = (value as { Ref?: unknown }).Ref;
    if (typeof ref === 'string') return { logicalId: ref };
    const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string') {
      return { logicalId: getAtt[0], attribute: getAtt[1] };
    }
  }
  throw new TemplateSettingsError(
    `${where}: expected a reference to a resource of this template, got ${JSON.stringify(value)}`,
  );
}

function integer(
  props: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
  where: string,
): number {
  const value = props[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TemplateSettingsError(
      `${where}: ${key} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function boolean(props: Record<string, unknown>, key: string, fallback: boolean, where: string): boolean {
  const value = props[key] ?? fallback;
  if (typeof value !== 'boolean') {
    throw new TemplateSettingsError(`${where}: ${key} must be a boolean, got ${JSON.stringify(value)}`);
  }
  return value;
}
