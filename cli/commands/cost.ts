// `flowline cost`: the cost table for a cluster size, from the counters a `flowline bench` run measured.
import { existsSync, readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError } from '../errors.ts';

interface CostOptions {
  nodes: number;
  connections: number;
  interNodeFraction: number;
  exportTimeout: number;
  correlatorWindow: number;
  kinesis: 'on-demand' | 'provisioned';
  dynamodb: 'on-demand' | 'provisioned';
  flowLayout?: 'per-flow' | 'buckets';
  retentionDays: number;
  from: string;
}

function positive(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('expected a positive number');
  return value;
}

function connections(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError('expected 0 (the at-rest month) or a positive number');
  }
  return value;
}

function fraction(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new InvalidArgumentError('expected 0..1');
  return value;
}

function flowLayout(text: string): NonNullable<CostOptions['flowLayout']> {
  if (text !== 'per-flow' && text !== 'buckets')
    throw new InvalidArgumentError('expected per-flow or buckets');
  return text;
}

function capacityMode(text: string): CostOptions['kinesis'] {
  if (text !== 'on-demand' && text !== 'provisioned') {
    throw new InvalidArgumentError('expected on-demand or provisioned');
  }
  return text;
}

export function register(program: Command): void {
  program
    .command('cost')
    .description('print the monthly cost and cost per 1M flow records, Flowline vs the naive design')
    .option('--nodes <n>', 'Nodes in the cluster', positive, 1000)
    .option(
      '--connections <m>',
      'concurrently active connections, cluster-wide (0: the at-rest month, no bench results needed)',
      connections,
      100_000,
    )
    .option('--inter-node-fraction <f>', 'share of connections reported by two Nodes', fraction, 0.8)
    .option('--export-timeout <s>', 'Antrea agent activeFlowExportTimeout, seconds', positive, 5)
    .option(
      '--correlator-window <s>',
      "the correlator's batching window, seconds (-c correlatorBatchingWindowSeconds; measured at 20)",
      positive,
      20,
    )
    .option('--kinesis <mode>', 'on-demand or provisioned', capacityMode)
    .option(
      '--dynamodb <mode>',
      'flow table: on-demand, or provisioned with auto scaling (priced at the steady load over the target utilisation)',
      capacityMode,
    )
    .option(
      '--flow-layout <layout>',
      'the flow table: per-flow (one item per flow) or buckets (-c flowLayout; the default: the app\u2019s)',
      flowLayout,
    )
    .option('--retention-days <d>', 'days of rows kept in ClickHouse', positive, 30)
    .option(
      '--from <file>',
      'results of `flowline bench` (JSON; the committed figures by default)',
      'docs/bench-results.json',
    )
    .action(async (options: CostOptions) => {
      if (options.connections === 0) {
        await printAtRest(options);
        return;
      }
      const model = await import('../../cost/model.ts');
      if (!existsSync(options.from)) {
        throw new CliError(`${options.from} not found: run \`npm run bench\` first (or pass --from FILE)`);
      }
      let results: { at?: string; rows?: unknown };
      try {
        results = JSON.parse(readFileSync(options.from, 'utf8'));
      } catch (error) {
        throw new CliError(
          `${options.from} is not JSON (${(error as Error).message}): pass the file \`flowline bench\` wrote`,
        );
      }
      if (!Array.isArray(results.rows)) {
        throw new CliError(`${options.from} has no "rows" array: pass the file \`flowline bench\` wrote`);
      }
      const { inputs, provenance } = model.inputsFromRows(results.rows);
      const missing = model.INPUT_NAMES.filter((name) => inputs[name] === undefined);
      if (missing.length > 0) {
        throw new CliError(
          `${options.from} lacks ${missing.join(', ')}: rerun \`npm run bench\` (the cost module records every input)`,
        );
      }
      const cluster = {
        ...model.DEFAULT_CLUSTER,
        nodes: options.nodes,
        connections: options.connections,
        interNodeFraction: options.interNodeFraction,
        activeFlowExportTimeoutSeconds: options.exportTimeout,
        correlatorWindowSeconds: options.correlatorWindow,
        retentionDays: options.retentionDays,
        kinesisMode: options.kinesis ?? model.DEFAULT_CLUSTER.kinesisMode,
        dynamodbMode: options.dynamodb ?? model.DEFAULT_CLUSTER.dynamodbMode,
        flowLayout: options.flowLayout ?? model.DEFAULT_CLUSTER.flowLayout,
      };
      const report = model.costModel(cluster, inputs as Required<typeof inputs>);
      console.log(model.renderCostTable(report));
      const advice = model.kinesisModeAdvice(cluster, inputs as Required<typeof inputs>);
      console.log('');
      console.log(
        `Kinesis at this load: provisioned needs ${advice.shards} shard(s), $${model.fmt(advice.provisioned)}/month ` +
          `(deploy with -c shardCount=${advice.shards}; the default is 1); on-demand $${model.fmt(advice.onDemand)}/month ` +
          '(-c streamMode=on-demand: no sizing, for unknown or bursty load). docs/cost.md says when to switch.',
      );
      const tables = model.dynamodbModeAdvice(cluster, inputs as Required<typeof inputs>);
      console.log(
        `The whole month with the flow table on-demand: $${model.fmt(tables.onDemand)}; provisioned with auto scaling at ` +
          `${Math.round(cluster.dynamodbTargetUtilisation * 100)} % (-c tableBillingMode=provisioned, steady load): $${model.fmt(tables.provisioned)}.`,
      );
      const layouts = model.flowLayoutAdvice(cluster, inputs as Required<typeof inputs>);
      console.log(
        `The whole month with one item per flow (-c flowLayout=per-flow): $${model.fmt(layouts['per-flow'].flowline)}, ` +
          `naive / Flowline ${model.fmt(layouts['per-flow'].ratio)}x; with buckets of flows (-c flowLayout=buckets): ` +
          `$${model.fmt(layouts.buckets.flowline)}, ${model.fmt(layouts.buckets.ratio)}x.`,
      );
      console.log('');
      console.log(`Inputs (from ${options.from}${results.at ? `, run at ${results.at}` : ''}):`);
      for (const name of model.INPUT_NAMES) {
        console.log(`- ${name} = ${model.fmt(inputs[name]!)} (${provenance[name]})`);
      }
    });
}

/** `--connections 0`: the at-rest month from list prices and the deployed defaults alone. */
async function printAtRest(options: CostOptions): Promise<void> {
  const { atRestModel, DEFAULT_AT_REST, renderAtRestTable, AT_REST_ASSUMPTIONS } = await import(
    '../../cost/at-rest-model.ts'
  );
  const report = atRestModel({
    ...DEFAULT_AT_REST,
    kinesisMode: options.kinesis ?? DEFAULT_AT_REST.kinesisMode,
  });
  console.log(renderAtRestTable(report));
  console.log('');
  console.log('Assumptions:');
  for (const [name, { value, basis }] of Object.entries(AT_REST_ASSUMPTIONS)) {
    console.log(`- ${name} = ${value} (${basis})`);
  }
}
