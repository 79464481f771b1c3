// What local mode builds, read from the synthesized CDK template so local equals deployed: the ingest stream
// (mode, shard count, retention), the flow table (keys, GSI, TTL attribute, stream), the correlator's event
// source mapping on the ingest stream and the exporter's on the table's stream (local/esm/settings.ts), and
// the functions (correlator, tickers, exporter) with their environment and the tickers' schedule. Synthesis
// takes 10-30 s, so it runs in a child process (this one keeps printing progress) and the template is cached
// under .flowline/template-cache keyed by a hash of everything that can change it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../bundle.ts';
import {
  type CloudFormationResource,
  type CloudFormationTemplate,
  type DynamoDbStreamMappingDefinition,
  type KinesisMappingDefinition,
  readDynamoDbStreamMappings,
  readKinesisMappings,
  TemplateSettingsError,
} from '../esm/settings.ts';

const CORRELATOR_ENTRY = 'functions/correlator/handler.ts';
const TICKER_ENTRY = 'functions/ticker/handler.ts';
const EXPORTER_ENTRY = 'functions/exporter/handler.ts';
/** Inputs of the synthesized template: the CDK app, its configuration and the code it reads constants from. */
const TEMPLATE_INPUTS = ['cdk.json', 'package-lock.json', 'bin', 'lib', 'functions', 'core'];

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOTDIR') return undefined;
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries === undefined) return [path];
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(path, entry.name)) : Promise.resolve([join(path, entry.name)]),
    ),
  );
  return nested.flat();
}

async function templateInputsHash(projectRoot: string, context: Record<string, unknown>): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(context));
  const files = (await Promise.all(TEMPLATE_INPUTS.map((name) => filesUnder(join(projectRoot, name)))))
    .flat()
    .filter((file) => /\.(ts|json)$/.test(file))
    .sort();
  for (const file of files) {
    hash
      .update(relative(projectRoot, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Runs local/runner/synth-template.ts in a child Node process (same Node, tsx loader). */
function synthesizeInChild(
  projectRoot: string,
  context: Record<string, unknown>,
): Promise<CloudFormationTemplate> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = join(import.meta.dirname, 'synth-template.ts');
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--import', tsxLoader, script, projectRoot, JSON.stringify(context)],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const reason = stderr.split('\n').find((line) => /error/i.test(line)) ?? error.message;
          reject(new Error(`synthesizing the stack template failed: ${reason.trim()}`, { cause: error }));
        } else resolvePromise(JSON.parse(stdout) as CloudFormationTemplate);
      },
    );
  });
}

/**
 * The Flowline stack's template, synthesized in a child process (bundling skipped) or read from the cache when
 * the CDK app, cdk.json, the lock file and the code are unchanged.
 */
export async function loadStackTemplate(
  options: { projectRoot?: string; context?: Record<string, unknown> } = {},
): Promise<CloudFormationTemplate> {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const context = options.context ?? {};
  const cacheDir = join(projectRoot, '.flowline', 'template-cache');
  const cacheFile = join(cacheDir, `${await templateInputsHash(projectRoot, context)}.template.json`);
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as CloudFormationTemplate;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const template = await synthesizeInChild(projectRoot, context);
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(template));
  await rename(temporary, cacheFile);
  return template;
}

export interface StreamDefinition {
  readonly logicalId: string;
  readonly name: string;
  readonly streamMode: 'ON_DEMAND' | 'PROVISIONED';
  readonly shardCount?: number;
  readonly retentionPeriodHours?: number;
}

export interface TableDefinition {
  readonly logicalId: string;
  readonly name: string;
  /** CreateTable's key and index properties, as in the template. */
  readonly attributeDefinitions: unknown[];
  readonly keySchema: unknown[];
  readonly globalSecondaryIndexes?: unknown[];
  readonly billingMode: string;
  readonly provisionedThroughput?: unknown;
  readonly ttlAttribute?: string;
  /** StreamSpecification.StreamViewType when the table has a stream (an event source mapping may read it). */
  readonly streamViewType?: string;
}

export interface FunctionDefinition {
  readonly logicalId: string;
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  /** Environment as synthesized; values may be CloudFormation intrinsics (resolveEnvironment). */
  readonly environment: Readonly<Record<string, unknown>>;
}

export interface LocalTopology {
  readonly stackName: string;
  readonly stream: StreamDefinition;
  readonly table: TableDefinition;
  /** The correlator's mapping on the ingest stream. */
  readonly mapping: KinesisMappingDefinition;
  readonly correlator: FunctionDefinition;
  /** Every ticker, in TICKER_INDEX order (context tickerCount; one by default). */
  readonly tickers: Tickers;
  /** The tickers' schedule (EventBridge rule), seconds between invocations. */
  readonly tickerScheduleSeconds: number;
  /** The exporter's mapping on the flow table's stream, and the exporter. */
  readonly exporterMapping: DynamoDbStreamMappingDefinition;
  readonly exporter: FunctionDefinition;
}

/**
 * The collector's flowBuckets for this stack (the stack's output CollectorFlowBuckets): the table's buckets
 * when the correlator writes buckets, else 0.
 */
export function collectorFlowBucketsOf(topology: LocalTopology): number {
  const env = topology.correlator.environment;
  return env.FLOW_LAYOUT === 'buckets' ? Number(env.FLOW_BUCKETS ?? 0) : 0;
}

/** Local names for resources CloudFormation would name `<stack>-<logicalId>-<suffix>`. */
function physicalName(stackName: string, logicalId: string, explicit: unknown): string {
  return typeof explicit === 'string' ? explicit : `${stackName}-${logicalId}`;
}

function functionsByEntry(
  resources: Record<string, CloudFormationResource>,
  entry: string,
): Array<[string, CloudFormationResource]> {
  return Object.entries(resources).filter(
    ([, resource]) =>
      resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.['flowline:entry'] === entry,
  );
}

function functionByEntry(
  resources: Record<string, CloudFormationResource>,
  entry: string,
): [string, CloudFormationResource] {
  const found = functionsByEntry(resources, entry);
  if (found.length !== 1) {
    throw new TemplateSettingsError(
      `expected one AWS::Lambda::Function with flowline:entry ${entry}, found ${found.length}`,
    );
  }
  return found[0] as [string, CloudFormationResource];
}

function functionDefinition(logicalId: string, resource: CloudFormationResource): FunctionDefinition {
  const props = resource.Properties ?? {};
  const entry = resource.Metadata?.['flowline:entry'];
  return {
    logicalId,
    entry: typeof entry === 'string' ? entry : '',
    timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
    memorySizeMb: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
    environment: (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
  };
}

/** `rate(1 minute)` / `rate(5 minutes)` / `rate(30 seconds)` -> seconds. */
function rateSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+) (second|minute|hour|day)s?\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = { second: 1, minute: 60, hour: 3600, day: 86_400 }[
    match[2] as 'second' | 'minute' | 'hour' | 'day'
  ];
  return Number(match[1]) * unit;
}

function tickerSchedule(resources: Record<string, CloudFormationResource>, tickerId: string): number {
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Events::Rule') continue;
    const targets = (resource.Properties?.Targets as Array<{ Arn?: unknown }> | undefined) ?? [];
    const targetsTicker = targets.some((target) => JSON.stringify(target.Arn).includes(`"${tickerId}"`));
    const expression = resource.Properties?.ScheduleExpression;
    if (targetsTicker && typeof expression === 'string') {
      const seconds = rateSeconds(expression);
      if (seconds) return seconds;
    }
  }
  throw new TemplateSettingsError(`no rate() schedule (AWS::Events::Rule) targets the ticker ${tickerId}`);
}

/** At least one ticker: tickers[0] is ticker 0. */
export type Tickers = readonly [FunctionDefinition, ...FunctionDefinition[]];

/** The ticker functions by TICKER_INDEX, which must run 0..N-1 (lib/ticker.ts sets it per function). */
function tickerDefinitions(resources: Record<string, CloudFormationResource>): Tickers {
  const tickers = functionsByEntry(resources, TICKER_ENTRY)
    .map(([id, resource]) => functionDefinition(id, resource))
    .sort((a, b) => tickerIndexOf(a) - tickerIndexOf(b));
  const [first, ...rest] = tickers;
  if (!first) {
    throw new TemplateSettingsError(`expected an AWS::Lambda::Function with flowline:entry ${TICKER_ENTRY}`);
  }
  tickers.forEach((fn, index) => {
    if (tickerIndexOf(fn) !== index || Number(fn.environment.TICKER_COUNT ?? 1) !== tickers.length) {
      throw new TemplateSettingsError(
        `ticker ${fn.logicalId} has TICKER_INDEX ${String(fn.environment.TICKER_INDEX)} of ` +
          `TICKER_COUNT ${String(fn.environment.TICKER_COUNT)}; the template holds ${tickers.length} tickers`,
      );
    }
  });
  return [first, ...rest];
}

function tickerIndexOf(fn: FunctionDefinition): number {
  return Number(fn.environment.TICKER_INDEX ?? 0);
}

/** The exporter's mapping: the one on the flow table's stream that invokes the exporter. */
function exporterMappingOf(
  template: CloudFormationTemplate,
  exporterId: string,
  tableId: string,
): DynamoDbStreamMappingDefinition {
  const found = readDynamoDbStreamMappings(template).filter(
    (m) => m.function.logicalId === exporterId && m.table.logicalId === tableId,
  );
  if (found.length !== 1) {
    throw new TemplateSettingsError(
      `expected one event source mapping of ${exporterId} on the stream of ${tableId}, found ${found.length}`,
    );
  }
  return found[0] as DynamoDbStreamMappingDefinition;
}

export function readLocalTopology(template: CloudFormationTemplate, stackName = 'Flowline'): LocalTopology {
  const resources = template.Resources ?? {};
  const [correlatorId, correlatorResource] = functionByEntry(resources, CORRELATOR_ENTRY);
  const [exporterId, exporterResource] = functionByEntry(resources, EXPORTER_ENTRY);
  const tickers = tickerDefinitions(resources);
  const mapping = readKinesisMappings(template).find((m) => m.function.logicalId === correlatorId);
  if (!mapping) throw new TemplateSettingsError(`no Kinesis event source mapping invokes ${correlatorId}`);

  const streamResource = resources[mapping.stream.logicalId];
  const streamProps = streamResource?.Properties ?? {};
  const streamMode = mapping.stream.streamMode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED';
  const stream: StreamDefinition = {
    logicalId: mapping.stream.logicalId,
    name: physicalName(stackName, mapping.stream.logicalId, streamProps.Name),
    streamMode,
    ...(mapping.stream.shardCount !== undefined ? { shardCount: mapping.stream.shardCount } : {}),
    ...(mapping.stream.retentionPeriodHours !== undefined
      ? { retentionPeriodHours: mapping.stream.retentionPeriodHours }
      : {}),
  };

  // The table the correlator writes: its TABLE_NAME is a Ref to it.
  const tableRef = (
    functionDefinition(correlatorId, correlatorResource).environment.TABLE_NAME as { Ref?: unknown }
  )?.Ref;
  const tableResource = typeof tableRef === 'string' ? resources[tableRef] : undefined;
  if (typeof tableRef !== 'string' || tableResource?.Type !== 'AWS::DynamoDB::Table') {
    throw new TemplateSettingsError(
      'the correlator\u2019s TABLE_NAME does not reference an AWS::DynamoDB::Table',
    );
  }
  const table = readTableDefinition(stackName, tableRef, tableResource);

  return {
    stackName,
    stream,
    table,
    mapping,
    correlator: functionDefinition(correlatorId, correlatorResource),
    tickers,
    tickerScheduleSeconds: tickerSchedule(resources, tickers[0].logicalId),
    exporterMapping: exporterMappingOf(template, exporterId, tableRef),
    exporter: functionDefinition(exporterId, exporterResource),
  };
}

/**
 * A table of the template as local mode creates it (provision.ts): the flow table, or the table whose stream a
 * DynamoDB stream event source mapping reads (settings.ts readDynamoDbStreamMappings).
 */
export function readTableDefinition(
  stackName: string,
  logicalId: string,
  resource: CloudFormationResource,
): TableDefinition {
  const props = resource.Properties ?? {};
  const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  const stream = props.StreamSpecification as { StreamViewType?: unknown } | undefined;
  return {
    logicalId,
    name: physicalName(stackName, logicalId, props.TableName),
    attributeDefinitions: props.AttributeDefinitions as unknown[],
    keySchema: props.KeySchema as unknown[],
    ...(props.GlobalSecondaryIndexes
      ? { globalSecondaryIndexes: props.GlobalSecondaryIndexes as unknown[] }
      : {}),
    billingMode: typeof props.BillingMode === 'string' ? props.BillingMode : 'PROVISIONED',
    ...(props.ProvisionedThroughput ? { provisionedThroughput: props.ProvisionedThroughput } : {}),
    ...(ttl?.Enabled && ttl.AttributeName ? { ttlAttribute: ttl.AttributeName } : {}),
    ...(typeof stream?.StreamViewType === 'string' ? { streamViewType: stream.StreamViewType } : {}),
  };
}

export interface LocalEndpoints {
  clickhouseUrl: string;
  clickhouseUser: string;
  clickhousePassword: string;
  clusterUUID: string;
}

/**
 * A function's environment for local runs: Refs to the table become its local name; the ClickHouse
 * connection and cluster UUID are local mode's (the deployed exporter reads its password from Secrets
 * Manager, locally it is CLICKHOUSE_PASSWORD, which clickHouseTargetFromEnv accepts when no secret is set).
 */
export function resolveEnvironment(
  fn: FunctionDefinition,
  topology: LocalTopology,
  local: LocalEndpoints,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    if (typeof value === 'string') env[name] = value;
    else if ((value as { Ref?: unknown })?.Ref === topology.table.logicalId) env[name] = topology.table.name;
    // Other intrinsics name AWS-only resources (the Secrets Manager secret): not used locally.
  }
  delete env.CLICKHOUSE_SECRET_ID;
  delete env.CLICKHOUSE_SECRET_ARN;
  delete env.NODE_OPTIONS; // source maps are enabled by this process already
  if ('CLICKHOUSE_URL' in env) {
    env.CLICKHOUSE_URL = local.clickhouseUrl;
    env.CLICKHOUSE_USER = local.clickhouseUser;
    env.CLICKHOUSE_PASSWORD = local.clickhousePassword;
  }
  if ('CLUSTER_UUID' in env) env.CLUSTER_UUID = local.clusterUUID;
  return env;
}

/**
 * What tells the tickers apart: each bundle is loaded with its own value in process.env (local/runner/
 * functions.ts), read once at module scope as on Lambda.
 */
export const PER_TICKER_VARIABLES: readonly string[] = ['TICKER_INDEX'];

/** The ticker's own variables for ticker `index`, set in process.env before its bundle is loaded. */
export function tickerOwnEnvironment(topology: LocalTopology, index: number): Record<string, string> {
  const fn = topology.tickers[index];
  if (!fn) throw new TemplateSettingsError(`the template has no ticker ${index}`);
  const own: Record<string, string> = {};
  for (const name of PER_TICKER_VARIABLES) own[name] = String(fn.environment[name] ?? index);
  return own;
}

/** The functions' environments merged: they share this process, so a variable must mean the same to all. */
export function mergedFunctionEnvironment(
  topology: LocalTopology,
  local: LocalEndpoints,
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const fn of [topology.correlator, ...topology.tickers, topology.exporter]) {
    for (const [name, value] of Object.entries(resolveEnvironment(fn, topology, local))) {
      if (name.startsWith('POWERTOOLS_SERVICE_NAME')) continue; // each handler names its own logger/metrics
      if (PER_TICKER_VARIABLES.includes(name)) continue; // tickerOwnEnvironment
      if (merged[name] !== undefined && merged[name] !== value) {
        throw new TemplateSettingsError(
          `${name} differs between the functions (${merged[name]}, ${value}); local mode runs them in one process`,
        );
      }
      merged[name] = value;
    }
  }
  return merged;
}
