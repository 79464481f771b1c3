import type { Command } from 'commander';

interface FlowsOptions {
  table: string;
  srcip?: string;
  dstip?: string;
  proto?: string;
  srcport?: string;
  dstport?: string;
  output: 'table' | 'json';
}

function port(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new Error(`--${name} must be 0-65535, got "${text}"`);
  return value;
}

export function register(program: Command): void {
  program
    .command('flows')
    .description(
      'list the flows the correlator holds now (like `antctl get flowrecords`); endpoints from AWS_ENDPOINT_URL_DYNAMODB',
    )
    .option('--table <name>', 'the flows table (TABLE_NAME)', process.env.TABLE_NAME ?? 'flowline-flows')
    .option('--srcip <ip>', 'source address of the flow key')
    .option('--dstip <ip>', 'destination address')
    .option('--proto <number>', 'IP protocol number, e.g. 6')
    .option('--srcport <port>', 'source port')
    .option('--dstport <port>', 'destination port')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: FlowsOptions) => {
      const { createDynamoDbClient } = await import('../../adapters/aws-clients.ts');
      const { canonicalIP } = await import('../../core/ip.ts');
      const { flowRecordJson, flowRecordTable, listFlows } = await import(
        '../../functions/flow-store/flow-records.ts'
      );
      if (options.output !== 'table' && options.output !== 'json') {
        throw new Error(`--output must be table or json, got "${options.output}"`);
      }
      const flows = await listFlows(
        createDynamoDbClient(),
        options.table,
        {
          sourceIP: options.srcip && canonicalIP(options.srcip),
          destinationIP: options.dstip && canonicalIP(options.dstip),
          protocolIdentifier: port(options.proto, 'proto'),
          sourceTransportPort: port(options.srcport, 'srcport'),
          destinationTransportPort: port(options.dstport, 'dstport'),
        },
        Date.now(),
      );
      if (options.output === 'json') console.log(JSON.stringify(flows.map(flowRecordJson), null, 2));
      else console.log(flowRecordTable(flows));
    });
}
