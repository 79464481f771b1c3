// `flowline local` (= `npm start`): the whole pipeline on this machine; `--replay FILE... --print-rows` runs
// captures through it on their own time and prints the resulting ClickHouse rows.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DUE_SHARD_COUNT, FLOW_LAYOUTS } from '../../functions/flow-store/schema.ts';
import { parseFlowLogFilters } from '../../functions/shared/flow-log-filters.ts';
import { DEFAULT_CONFIG } from '../../lib/config.ts';
import { ensureWritableDirectory } from '../directories.ts';
import { CliError, UsageError } from '../errors.ts';
import { assertBindable } from '../ports.ts';

interface LocalCommandOptions {
  flowLayout: string;
  replay?: string[];
  printRows: boolean;
  clusterUuid?: string;
  dataDir?: string;
  port: string;
  listenHost: string;
  clickhousePort?: string;
  demo: boolean;
  demoNodes: string;
  demoConnections: string;
  verbose: boolean;
  kubeconfig?: string;
  podLabels: boolean;
  ipfixExport?: string;
  ipfixExportFormat: string;
  ipfixExportTlsCa?: string;
  ipfixExportTlsCert?: string;
  ipfixExportTlsKey?: string;
  ipfixExportTlsServerName?: string;
  archive: boolean;
  archiveFormat: string;
  archivePort?: string;
  flowLog?: string;
  flowLogFilters?: string;
  tickers: string;
  correlatorWindow: string;
}

/**
 * The demo's correlator batching window: a new flow's first row waits for it, so the deployed 20 s (a cost
 * knob: one write per flow per window) would keep a first run waiting half a minute for nothing it saves
 * here. `--correlator-window 20` runs the deployed setting.
 */
const LOCAL_CORRELATOR_WINDOW_SECONDS = 5;

/**
 * --flow-log names a file local mode can append to, and --flow-log-filters goes with it in the shape the
 * exporter takes: checked before the engines start, or every batch would fail and be retried instead.
 */
function checkFlowLogFlags(options: LocalCommandOptions): void {
  if (options.flowLog) {
    const file = resolve(options.flowLog);
    try {
      accessSync(existsSync(file) ? file : dirname(file), constants.W_OK);
    } catch (error) {
      throw new CliError(
        `--flow-log ${options.flowLog}: cannot append to it (${(error as NodeJS.ErrnoException).code}): choose a writable file`,
      );
    }
  }
  if (options.flowLogFilters === undefined) return;
  if (!options.flowLog) throw new UsageError('--flow-log-filters needs --flow-log FILE');
  try {
    parseFlowLogFilters(options.flowLogFilters);
  } catch (error) {
    throw new UsageError(`--flow-log-filters: ${(error as Error).message}`);
  }
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** A format flag's value, matched without regard to case: `choices` names the accepted spellings. */
function formatOf<T extends string>(flag: string, text: string, choices: readonly [T, T]): T {
  const format = choices.find((choice) => choice.toLowerCase() === text.toLowerCase());
  if (!format) throw new UsageError(`--${flag}: must be ${choices.join(' or ')}, got "${text}"`);
  return format;
}

/** The --ipfix-export-tls-* flags belong to a tls:// export, and a client certificate to its key. */
function checkExportTlsFlags(options: LocalCommandOptions): void {
  const { ipfixExportTlsCa, ipfixExportTlsCert, ipfixExportTlsKey, ipfixExportTlsServerName } = options;
  const any = [ipfixExportTlsCa, ipfixExportTlsCert, ipfixExportTlsKey, ipfixExportTlsServerName].some(
    (flag) => flag !== undefined,
  );
  if (any && !options.ipfixExport?.startsWith('tls://')) {
    throw new UsageError('--ipfix-export-tls-*: only with --ipfix-export tls://host:port');
  }
  if ((ipfixExportTlsCert === undefined) !== (ipfixExportTlsKey === undefined)) {
    throw new UsageError('--ipfix-export-tls-cert and --ipfix-export-tls-key go together');
  }
}

export function register(program: Command): void {
  program
    .command('local')
    .description(
      'run the whole pipeline locally (engines, collector on 4739, correlator, ticker, exporter, ClickHouse) with demo traffic; ' +
        'or --replay captures through it',
    )
    .option(
      '--replay <files...>',
      'run these captures (pcap, pcapng, raw IPFIX, .hex) through the pipeline and exit',
    )
    .option('--print-rows', 'with --replay: print the rows of ClickHouse `flows` as JSON Lines', false)
    .option('--cluster-uuid <uuid>', 'cluster UUID written in every row (--replay: a fixed one by default)')
    .option(
      '--data-dir <dir>',
      'keep engine data, checkpoints and spool here across restarts (default: in memory)',
    )
    .option('--port <port>', 'IPFIX collector port, UDP and TCP', '4739')
    .option(
      '--listen-host <address>',
      'address the collector binds (0.0.0.0 for agents on other machines)',
      '127.0.0.1',
    )
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port (default 8123, or a free one if taken)')
    .option('--no-demo', 'no simulated Antrea agents (send your own IPFIX to the collector)')
    .option('--demo-nodes <n>', 'simulated Nodes', '3')
    .option('--demo-connections <n>', 'simulated connections', '100')
    .option(
      '--tickers <n>',
      'ticker functions, each on its own due-index shards (the CDK app\u2019s context tickerCount)',
      '1',
    )
    .option(
      '--correlator-window <seconds>',
      `the correlator\u2019s batching window in seconds (deployed: ${DEFAULT_CONFIG.correlatorBatchingWindowSeconds}; shorter here so the demo shows rows within seconds)`,
      String(LOCAL_CORRELATOR_WINDOW_SECONDS),
    )
    .option(
      '--flow-layout <layout>',
      'the flow table\u2019s layout: per-flow (one item per flow) or buckets (flows share items; the CDK app\u2019s context flowLayout)',
      DEFAULT_CONFIG.flowLayout,
    )
    .option('--verbose', 'keep the functions\u2019 INFO logs', false)
    .option(
      '--kubeconfig <file>',
      'watch the Pods of this cluster: deny flows\u2019 missing Pod/Node filled (collector-edge/k8s-metadata)',
    )
    .option('--pod-labels', 'with --kubeconfig: fill the Pod label columns (recordContents.podLabels)', false)
    .option(
      '--ipfix-export <url>',
      'also export every row to an IPFIX collector: tcp://host:port, tls://host:port or udp://host:port',
    )
    .option('--ipfix-export-format <format>', 'IPFIX or JSON (go-ipfix JSON lines)', 'IPFIX')
    .option('--ipfix-export-tls-ca <file>', 'tls:// export: PEM CA of the collector (default: system roots)')
    .option(
      '--ipfix-export-tls-cert <file>',
      'tls:// export: PEM client certificate, for a collector that verifies clients',
    )
    .option('--ipfix-export-tls-key <file>', 'tls:// export: PEM key of the client certificate')
    .option(
      '--ipfix-export-tls-server-name <name>',
      'tls:// export: the name the collector\u2019s certificate must carry',
    )
    .option('--archive', 'also archive every row as Parquet in a local S3 (s3rver on 127.0.0.1)', false)
    .option(
      '--archive-format <format>',
      "with --archive: parquet, or csv (Antrea's S3 uploader: its lines, records-*.csv.gz)",
      'parquet',
    )
    .option('--archive-port <port>', 'port of the local S3 (default: a free one)')
    .option('--flow-log <file>', "also append every row to this file as Antrea's flow logger lines")
    .option(
      '--flow-log-filters <json>',
      'with --flow-log: flowLogger.filters, e.g. \'[{"ingressNetworkPolicyRuleActions":["Drop","Reject"]}]\'',
    )
    .action(async (options: LocalCommandOptions) => {
      if (options.podLabels && !options.kubeconfig) {
        process.stderr.write(
          'flowline local: --pod-labels needs --kubeconfig FILE (the labels come from its cluster)\n',
        );
        process.exitCode = 2;
        return;
      }
      checkExportTlsFlags(options);
      checkFlowLogFlags(options);
      const formats = {
        ipfixExportFormat: formatOf('ipfix-export-format', options.ipfixExportFormat, ['IPFIX', 'JSON']),
        archiveFormat: formatOf('archive-format', options.archiveFormat, ['parquet', 'csv']),
      };
      const kubernetes = options.kubeconfig
        ? { kubernetes: { kubeconfig: options.kubeconfig, podLabels: options.podLabels } }
        : {};
      if (options.replay) {
        const { runReplay } = await import('../../local/runner/replay.ts');
        process.exitCode = await runReplay(
          {
            files: options.replay,
            printRows: options.printRows,
            ...(options.clusterUuid ? { clusterUUID: options.clusterUuid } : {}),
            ...kubernetes,
          },
          { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) },
        );
        return;
      }
      if (options.printRows) throw new UsageError('--print-rows needs --replay FILE...');
      const port = integer('port', options.port, 1, 65535);
      const clickhousePort = options.clickhousePort
        ? integer('clickhouse-port', options.clickhousePort, 1, 65535)
        : undefined;
      const demoNodes = integer('demo-nodes', options.demoNodes, 1, 100);
      const demoConnections = integer('demo-connections', options.demoConnections, 0, 1_000_000);
      const tickers = integer('tickers', options.tickers, 1, DEFAULT_DUE_SHARD_COUNT);
      const correlatorWindowSeconds = integer(
        'correlator-window',
        options.correlatorWindow,
        0,
        // The stack refuses a window longer than the lazy index's margin (lib/config.ts).
        DEFAULT_CONFIG.indexMarginSeconds,
      );
      const flowLayout = formatOf('flow-layout', options.flowLayout, FLOW_LAYOUTS);
      if (options.dataDir) ensureWritableDirectory(options.dataDir, '--data-dir');
      // Before the engines start (tens of seconds): a busy port fails now, in one line.
      const host = options.listenHost;
      await assertBindable(
        [
          { protocol: 'udp', host, port },
          { protocol: 'tcp', host, port },
        ],
        '--port',
      );
      if (clickhousePort) {
        await assertBindable(
          [{ protocol: 'tcp', host: '127.0.0.1', port: clickhousePort }],
          '--clickhouse-port',
        );
      }
      // Progress lines start before local mode's modules load (seconds on a busy machine).
      const { startupProgressOffThread } = await import('../../local/runner/progress.ts');
      const progress = startupProgressOffThread(
        'starting Flowline local: engines, stack template, functions, collector',
      );
      // The heaviest dependencies first, one at a time: a module graph evaluates in one synchronous pass, so
      // smaller passes let the progress lines print in between.
      const { runLocal } = await progress.track(
        'local mode modules',
        (async () => {
          await import('@aws-sdk/client-kinesis');
          await import('@aws-sdk/client-dynamodb');
          await import('@clickhouse/client');
          return import('../../local/runner/live.ts');
        })(),
      );
      const code = await runLocal(
        {
          ...(options.dataDir ? { dataDir: options.dataDir } : {}),
          port,
          listenHost: options.listenHost,
          ...(clickhousePort ? { clickhousePort } : {}),
          demo: options.demo,
          demoNodes,
          demoConnections,
          progressIntervalMs: 2000,
          verbose: options.verbose,
          tickers,
          correlatorWindowSeconds,
          flowLayout,
          ...kubernetes,
          sinks: {
            ...(options.ipfixExport ? { ipfixExport: options.ipfixExport } : {}),
            ipfixExportFormat: formats.ipfixExportFormat,
            ipfixExportTls: {
              caFile: options.ipfixExportTlsCa,
              certFile: options.ipfixExportTlsCert,
              keyFile: options.ipfixExportTlsKey,
              serverName: options.ipfixExportTlsServerName,
            },
            archive: options.archive,
            archiveFormat: formats.archiveFormat,
            ...(options.archivePort
              ? { archivePort: integer('archive-port', options.archivePort, 1, 65535) }
              : {}),
            ...(options.flowLog ? { flowLogFile: options.flowLog } : {}),
            ...(options.flowLogFilters ? { flowLogFilters: options.flowLogFilters } : {}),
          },
        },
        { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) },
        progress,
      );
      // A ticker invocation may still be inside its 55 s loop: like a Lambda sandbox, it is simply ended.
      process.exit(code);
    });
}
