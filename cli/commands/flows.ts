// `flowline flows`: the flows the correlator holds now (like `antctl get flowrecords`). The table is found,
// in this order: --table / TABLE_NAME; a running local mode (cli/local-endpoints.ts, or --data-dir for a
// particular one); the FlowTableName output of the deployed stack (CloudFormation DescribeStacks, --stack).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.ts';
import { runningLocalEndpoints } from '../local-endpoints.ts';

interface FlowsOptions {
  table?: string;
  stack: string;
  dataDir?: string;
  srcip?: string;
  dstip?: string;
  proto?: string;
  srcport?: string;
  dstport?: string;
  output: string;
}

/** Stack name of the CDK app (cdk.json context stackName). */
const DEFAULT_STACK = 'Flowline';
/** The stack output naming the table (lib/flowline-stack.ts). */
const TABLE_OUTPUT = 'FlowTableName';

function number(text: string | undefined, name: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new UsageError(`--${name} must be a whole number from 0 to ${max}, got "${text}"`);
  return value;
}

function address(text: string | undefined, name: string, ip: typeof import('../../core/ip.ts')) {
  if (text === undefined) return undefined;
  if (!ip.parseIP(text)) throw new UsageError(`--${name} must be an IPv4 or IPv6 address, got "${text}"`);
  return ip.canonicalIP(text);
}

interface LocatedTable {
  table: string;
  /** Where the table lives, for messages. */
  where: string;
}

/** The table, and the environment pointed at the DynamoDB that holds it. */
async function locateTable(options: FlowsOptions): Promise<LocatedTable> {
  const named = options.table ?? process.env.TABLE_NAME;
  const awsWhere = () =>
    process.env.AWS_ENDPOINT_URL_DYNAMODB ?? `DynamoDB in ${process.env.AWS_REGION ?? 'the default region'}`;
  if (named) return { table: named, where: awsWhere() };
  const local = runningLocalEndpoints(options.dataDir);
  if (local) {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: local.dynamodb,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    return { table: local.table, where: `local mode's DynamoDB Local at ${local.dynamodb}` };
  }
  if (options.dataDir) {
    throw new CliError(
      `no local mode is running with --data-dir ${options.dataDir}: start it (npm start -- --data-dir ${options.dataDir}) or drop --data-dir`,
    );
  }
  return { table: await tableFromStack(options.stack), where: awsWhere() };
}

async function tableFromStack(stackName: string): Promise<string> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cloudformation = new CloudFormationClient({ maxAttempts: 2 });
  const nothingRunning = 'no local mode is running (npm start)';
  try {
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const output = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === TABLE_OUTPUT)?.OutputValue;
    if (!output) throw new CliError(`stack ${stackName} has no ${TABLE_OUTPUT} output: pass --table NAME`);
    return output;
  } catch (error) {
    if (error instanceof CliError) throw error;
    const name = (error as { name?: string }).name;
    if (name === 'ValidationError') {
      throw new CliError(
        `no flows table: ${nothingRunning} and stack ${stackName} is not deployed in ${await cloudformation.config.region()}; start local mode, deploy (npx cdk deploy), or pass --stack NAME / --table NAME`,
      );
    }
    if (name === 'CredentialsProviderError' || /region is missing/i.test(String(error))) {
      throw new CliError(
        `no flows table: ${nothingRunning} and there are no AWS credentials and region to read stack ${stackName}; start local mode, set AWS_PROFILE and AWS_REGION, or pass --table NAME`,
      );
    }
    throw error;
  } finally {
    cloudformation.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('flows')
    .description(
      'list the flows the correlator holds now (like `antctl get flowrecords`), from a running local mode or the deployed stack',
    )
    .option('--table <name>', 'the flows table (env TABLE_NAME); default: found from local mode or the stack')
    .option('--data-dir <dir>', 'the local mode started with this --data-dir (default: the last one started)')
    .option('--stack <name>', 'the deployed stack whose FlowTableName output names the table', DEFAULT_STACK)
    .option('--srcip <ip>', 'source address of the flow key')
    .option('--dstip <ip>', 'destination address')
    .option('--proto <number>', 'IP protocol number, e.g. 6')
    .option('--srcport <port>', 'source port')
    .option('--dstport <port>', 'destination port')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: FlowsOptions) => {
      if (options.output !== 'table' && options.output !== 'json') {
        throw new UsageError(`--output must be table or json, got "${options.output}"`);
      }
      const ip = await import('../../core/ip.ts');
      const filter = {
        sourceIP: address(options.srcip, 'srcip', ip),
        destinationIP: address(options.dstip, 'dstip', ip),
        protocolIdentifier: number(options.proto, 'proto', 255),
        sourceTransportPort: number(options.srcport, 'srcport', 65535),
        destinationTransportPort: number(options.dstport, 'dstport', 65535),
      };
      const { table, where } = await locateTable(options);
      const { createDynamoDbClient } = await import('../../adapters/aws-clients.ts');
      const { flowRecordJson, flowRecordTable, listFlows } = await import(
        '../../functions/flow-store/flow-records.ts'
      );
      const client: DynamoDBClient = createDynamoDbClient({ maxAttempts: 2, connectionTimeoutMs: 2000 });
      let flows: Awaited<ReturnType<typeof listFlows>>;
      try {
        flows = await listFlows(client, table, filter, Date.now());
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') {
          throw new CliError(
            `table ${table} does not exist at ${where}: check --table / TABLE_NAME, or drop them to use local mode or the stack`,
          );
        }
        throw error;
      } finally {
        client.destroy();
      }
      if (options.output === 'json') console.log(JSON.stringify(flows.map(flowRecordJson), null, 2));
      else console.log(flowRecordTable(flows));
    });
}
