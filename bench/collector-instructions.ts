// Instructions per flow record of the collector, counted by valgrind (callgrind): a figure that does not
// move with this VM's speed, unlike records per CPU-second. Opt-in (not in `npm test` or `npm run bench`):
// it needs valgrind and takes minutes.
//
//   node --import tsx bench/collector-instructions.ts [--warmup 50] [--rounds 10] [--nodes 8] [--connections 2000]
//        [--transport tcp|udp] [--template antrea|generic]
//
// --transport udp sends the UDP benchmark's datagrams (bench/collector-udp.bench.ts: 1,400-byte datagrams,
// the Antrea agent's template or a generic one of 16 IANA IEs) instead of the TCP benchmark's streams.
//
// One collector (TCP listener, spool, in-process sink, as bench/collector.bench.ts) runs under callgrind;
// simulated agents send from a child process that runs natively. After `warmup` rounds (so that V8 has
// compiled the collector's code, as in a long-running collector), `rounds` rounds are measured: the script
// calls process.cpuUsage() at both ends of that window and callgrind, told to dump before uv_getrusage,
// writes the window as its own part. User-space instructions of the collector process only (the kernel's
// socket and file work is not counted). V8 runs single-threaded (--single-threaded) so that compilation and
// GC happen on the counted thread.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Collector } from '../collector-edge/collector.ts';
import { loadCollectorConfig } from '../collector-edge/config.ts';
import { createLogger } from '../collector-edge/log.ts';
import { CollectorMetrics } from '../collector-edge/metrics.ts';
import { assertValgrind, callgrindWindow } from './callgrind.ts';
import { encodeAgents, InProcessSink } from './collector.bench.ts';
import { encodeUdpExport, measureUdp, startUdpCollector, type UdpTemplate } from './collector-udp.bench.ts';

const { values: options } = parseArgs({
  options: {
    warmup: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '8' },
    connections: { type: 'string', default: '2000' },
    transport: { type: 'string', default: 'tcp' },
    template: { type: 'string', default: 'antrea' },
    /** Internal: run the measured collector (this process is the one under callgrind). */
    measured: { type: 'boolean', default: false },
  },
});
const warmup = Number(options.warmup);
const rounds = Number(options.rounds);
const nodes = Number(options.nodes);
const connections = Number(options.connections);
const transport = options.transport === 'udp' ? 'udp' : 'tcp';
const template: UdpTemplate = options.template === 'generic' ? 'generic' : 'antrea';

/** The UDP variant: the same window boundaries (process.cpuUsage) around measureUdp's measured rounds. */
async function runUdpCollector(): Promise<void> {
  const plan = encodeUdpExport(template, nodes, connections);
  const receiver = await startUdpCollector();
  const result = await measureUdp(receiver, plan, {
    template,
    nodes,
    connections,
    warmupRounds: warmup,
    rounds,
  });
  process.stdout.write(`measured-records ${result.records} warmup-records ${plan.records * warmup}\n`);
  await receiver.close();
}

async function runCollector(): Promise<void> {
  const agents = encodeAgents(nodes, connections);
  const spoolDir = mkdtempSync(join(tmpdir(), 'flowline-instructions-spool-'));
  const metrics = new CollectorMetrics();
  const collector = await Collector.start(
    loadCollectorConfig({
      FLOWLINE_STREAM_NAME: 'instructions',
      FLOWLINE_LISTEN: 'tcp://127.0.0.1:0',
      FLOWLINE_SPOOL_DIR: spoolDir,
      FLOWLINE_SPOOL_MAX_BYTES: String(4 * 1024 * 1024 * 1024),
    }),
    { sink: new InProcessSink(), metrics, logger: createLogger('error'), http: false },
  );
  let sent = 0;
  const send = async (count: number) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./collector-sender.ts', import.meta.url)),
        String(collector.portOf('tcp')),
        String(nodes),
        String(connections),
        String(count),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`sender exited with ${code}`);
    sent += agents.records * count;
    while ((await metrics.total('flowline_collector_flow_records_total')) < sent)
      await new Promise((resolve) => setTimeout(resolve, 2));
    await collector.whenDelivered();
  };
  await send(warmup);
  process.cpuUsage(); // callgrind part boundary: the measured window starts
  await send(rounds);
  process.cpuUsage(); // ... and ends
  process.stdout.write(
    `measured-records ${agents.records * rounds} warmup-records ${agents.records * warmup}\n`,
  );
  await collector.drain();
  rmSync(spoolDir, { recursive: true, force: true });
}

function measureUnderCallgrind(): void {
  assertValgrind();
  const { stdout, instructions } = callgrindWindow(fileURLToPath(import.meta.url), [
    '--measured',
    `--warmup=${warmup}`,
    `--rounds=${rounds}`,
    `--nodes=${nodes}`,
    `--connections=${connections}`,
    `--transport=${transport}`,
    `--template=${template}`,
  ]);
  const report = /measured-records (\d+) warmup-records (\d+)/.exec(stdout);
  if (!report) throw new Error(`the measured collector reported no records:\n${stdout.slice(-2000)}`);
  const records = Number(report[1]);
  process.stdout.write(
    `${Math.round(instructions / records).toLocaleString('en-US')} instructions per flow record ` +
      `(${transport === 'udp' ? `UDP, ${template} template` : 'TCP, Antrea template'}; collector process, user space; ${records.toLocaleString('en-US')} records measured after ` +
      `${Number(report[2]).toLocaleString('en-US')} warm-up records)\n`,
  );
}

if (options.measured) {
  await (transport === 'udp' ? runUdpCollector() : runCollector());
  process.exit(0);
} else measureUnderCallgrind();
