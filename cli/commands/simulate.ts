import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

interface SimulateOptions {
  collector: string;
  nodes: string;
  connections: string;
  polls: string;
  seed: string;
  interval: string;
  ipv6Share: string;
  realtime: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  truth?: string;
}

function positiveInteger(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name}: must be a whole number >= ${min}, got "${text}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('simulate Antrea agents: export IPFIX from N Nodes for M connections to a collector')
    .option(
      '--collector <addr>',
      "collector address, Antrea's flowCollectorAddr syntax host:port:proto",
      '127.0.0.1:4739:tcp',
    )
    .option('--nodes <n>', 'simulated Nodes (one exporter session each)', '3')
    .option('--connections <m>', 'simulated connections', '100')
    .option('--polls <p>', 'conntrack polls (export rounds)', '6')
    .option('--seed <n>', 'random seed (same seed, same traffic)', '1')
    .option('--interval <seconds>', 'poll interval in event time', '5')
    .option('--ipv6-share <fraction>', 'share of IPv6 connections', '0.25')
    .option(
      '--realtime',
      'wait the poll interval between polls (demo traffic) instead of sending at once',
      false,
    )
    .option('--tls-ca <file>', 'CA bundle that signed the collector certificate')
    .option('--tls-cert <file>', 'client certificate (when the collector verifies clients)')
    .option('--tls-key <file>', 'client private key')
    .option('--tls-server-name <name>', 'server name to verify in the collector certificate')
    .option('--truth <file>', 'write the ground truth of what was sent as JSON')
    .action(async (options: SimulateOptions) => {
      const { ClusterSimulation } = await import('../../simulator/model.ts');
      const { exportSimulation, parseCollectorAddress, realClock } = await import(
        '../../simulator/exporter.ts'
      );
      const collector = parseCollectorAddress(options.collector);
      const share = Number(options.ipv6Share);
      if (!(share >= 0 && share <= 1))
        throw new UsageError(`--ipv6-share: must be between 0 and 1, got "${options.ipv6Share}"`);
      const interval = positiveInteger('interval', options.interval);
      const sim = new ClusterSimulation({
        seed: positiveInteger('seed', options.seed, 0),
        nodes: positiveInteger('nodes', options.nodes),
        connections: positiveInteger('connections', options.connections, 0),
        polls: positiveInteger('polls', options.polls),
        pollIntervalSeconds: interval,
        ipv6Share: share,
        ...(options.realtime ? { startTimeSeconds: Math.floor(Date.now() / 1000) } : {}),
      });
      const report = await exportSimulation(sim, {
        collector,
        ...(options.realtime ? { pace: realClock } : {}),
        tls: {
          ...(options.tlsCa ? { ca: readFileSync(options.tlsCa) } : {}),
          ...(options.tlsCert ? { cert: readFileSync(options.tlsCert) } : {}),
          ...(options.tlsKey ? { key: readFileSync(options.tlsKey) } : {}),
          ...(options.tlsServerName ? { serverName: options.tlsServerName } : {}),
        },
      });
      if (options.truth) writeFileSync(options.truth, `${JSON.stringify(report.truth, null, 2)}\n`);
      process.stderr.write(
        `simulate: ${report.truth.records} records in ${report.messages} IPFIX messages (${report.bytes} bytes) ` +
          `from ${sim.options.nodes} Nodes to ${collector.protocol}://${collector.host}:${collector.port}\n`,
      );
    });
}
