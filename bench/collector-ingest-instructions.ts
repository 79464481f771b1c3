// Instructions per flow record of the collector's UDP per-datagram path, deterministic (valgrind's callgrind):
// the UDP bench's exact datagrams, from 8 exporters on their own loopback addresses, straight into what the
// UDP listener calls per datagram (UdpSessionTable -> IngestPipeline -> ShardPacker), with no sockets, timers
// or spool and a fixed clock. The figure is the slope over three windows after the same warm-up, so start-up
// cancels; the two halves must agree (measureDifferential). docs/collector-performance.md explains the rest.
//
//   node_modules/.bin/node --import tsx bench/collector-ingest-instructions.ts [--template antrea|generic]
//        [--stage pack|decode] [--warmup 60] [--n1 5 --n2 15 --n3 25] [--repeats 1]
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCollectorConfig } from '../collector-edge/config.ts';
import { IngestPipeline, ingestOptionsOf } from '../collector-edge/ingest.ts';
import { type ListenerContext, UdpSessionTable } from '../collector-edge/listeners.ts';
import { createLogger, LogThrottle } from '../collector-edge/log.ts';
import { CollectorMetrics } from '../collector-edge/metrics.ts';
import { ShardPacker } from '../collector-edge/packer.ts';
import { ShardMap } from '../collector-edge/shard-map.ts';
import { assertValgrind, callgrindWindow } from './callgrind.ts';
import { InProcessSink } from './collector.bench.ts';
import { encodeUdpExport, exporterAddress, type UdpTemplate } from './collector-udp.bench.ts';

const { values: options } = parseArgs({
  options: {
    template: { type: 'string', default: 'antrea' },
    stage: { type: 'string', default: 'pack' },
    warmup: { type: 'string', default: '60' },
    n1: { type: 'string', default: '5' },
    n2: { type: 'string', default: '15' },
    n3: { type: 'string', default: '25' },
    repeats: { type: 'string', default: '1' },
    /** Internal: the process under callgrind, measuring this many rounds. */
    measured: { type: 'string' },
  },
});
const template: UdpTemplate = options.template === 'generic' ? 'generic' : 'antrea';
const stage = options.stage === 'decode' ? 'decode' : 'pack';
const NODES = 8;
const CONNECTIONS = 2000;
/** The fixed clock: the bench's export time is what the records carry; nothing here expires. */
const FIXED_NOW_MS = Date.UTC(2026, 11, 3, 12);

/** Runs warm-up and `rounds` measured rounds; the measured window lies between two process.cpuUsage(). */
async function runMeasured(warmupRounds: number, rounds: number): Promise<void> {
  const plan = encodeUdpExport(template, NODES, CONNECTIONS);
  const now = () => FIXED_NOW_MS;
  const config = loadCollectorConfig({
    FLOWLINE_STREAM_NAME: 'instructions',
    FLOWLINE_LISTEN: 'udp://127.0.0.1:0',
    FLOWLINE_SPOOL_DIR: tmpdir(),
  });
  const metrics = new CollectorMetrics();
  const logger = createLogger('error');
  const logThrottle = new LogThrottle(5, 60_000, now);
  let sealedRecords = 0;
  const packer = new ShardPacker({
    targetBytes: config.batchTargetBytes,
    lingerMs: config.batchLingerMs,
    now,
    onSealed: (batch) => {
      sealedRecords += batch.recordCount;
    },
  });
  packer.setShardMap(new ShardMap(await new InProcessSink().listShards()));
  let droppedRecords = 0;
  const dropAll = {
    add: () => {
      droppedRecords++;
    },
  } as unknown as ShardPacker;
  const ingest = new IngestPipeline(
    stage === 'pack' ? packer : dropAll,
    metrics,
    logger,
    logThrottle,
    ingestOptionsOf(config, now),
  );
  const context: ListenerContext = {
    ingest,
    metrics,
    logger,
    logThrottle,
    isPaused: () => false,
    now,
  };
  const table = new UdpSessionTable(context, '127.0.0.1:4739', config.maxUdpSessions);
  const remotes = plan.templates.map((_, exporter) => ({ address: exporterAddress(exporter), port: 40000 }));
  for (const [exporter, bytes] of plan.templates.entries()) table.receive(bytes, remotes[exporter]!);
  const firstSequence = plan.round.map((d) => d.bytes.readUInt32BE(8));
  let round = 0;
  const sendRound = () => {
    for (let i = 0; i < plan.round.length; i++) {
      const datagram = plan.round[i]!;
      const advance = round * plan.recordsPerExporter[datagram.exporter]!;
      datagram.bytes.writeUInt32BE((firstSequence[i]! + advance) >>> 0, 8);
      table.receive(datagram.bytes, remotes[datagram.exporter]!);
    }
    round++;
  };
  for (let i = 0; i < warmupRounds; i++) sendRound();
  process.cpuUsage(); // callgrind part boundary: the measured window starts
  for (let i = 0; i < rounds; i++) sendRound();
  process.cpuUsage(); // ... and ends
  packer.flushAll();
  const accepted = await metrics.total('flowline_collector_flow_records_total');
  const expected = plan.records * (warmupRounds + rounds);
  const delivered = stage === 'pack' ? sealedRecords : droppedRecords;
  if (accepted !== expected || delivered !== expected)
    throw new Error(`${expected} records sent, ${accepted} accepted, ${delivered} packed or dropped`);
  const gaps = await metrics.total('flowline_collector_sequence_gaps_total');
  if (gaps !== 0) throw new Error(`${gaps} sequence gaps: the rounds' sequence numbers are wrong`);
  process.stdout.write(`measured-records ${plan.records * rounds}\n`);
}

interface WindowCount {
  instructions: number;
  records: number;
}

/** One process under callgrind: instructions and records of its measured window of `rounds` rounds. */
function countWindow(rounds: number): WindowCount {
  const { stdout, instructions } = callgrindWindow(
    fileURLToPath(import.meta.url),
    [`--measured=${rounds}`, `--warmup=${options.warmup}`, `--template=${template}`, `--stage=${stage}`],
    ['--predictable-gc-schedule', '--random-seed=1', '--hash-seed=1'],
  );
  const report = /measured-records (\d+)/.exec(stdout);
  if (!report) throw new Error(`the measured process reported no records:\n${stdout.slice(-2000)}`);
  return { instructions, records: Number(report[1]) };
}

/**
 * Largest difference allowed between the two halves' slopes, relative and absolute (one scavenge more in one
 * half moves a small figure by a few dozen instructions per record): more means a window was not steady.
 */
const MAX_SLOPE_SPREAD = 0.02;
const MAX_SLOPE_DIFFERENCE = 60;

/**
 * Instructions per record as the slope of three windows' counts (n1 < n2 < n3 rounds after the same warm-up):
 * start-up and warm-up cancel, and the two halves' slopes must agree, or a JIT recompilation (V8 deoptimises
 * generated code when a value first reaches an untried branch, e.g. a sequence number passing 2^14) or a
 * major GC fell into one window and the figure would not be the steady state's.
 */
function measureDifferential(): void {
  assertValgrind();
  const windows = [Number(options.n1), Number(options.n2), Number(options.n3)];
  for (let repeat = 0; repeat < Number(options.repeats); repeat++) {
    const [a, b, c] = windows.map(countWindow) as [WindowCount, WindowCount, WindowCount];
    const slope = (from: WindowCount, to: WindowCount) =>
      (to.instructions - from.instructions) / (to.records - from.records);
    const perRecord = slope(a, c);
    const difference = Math.abs(slope(a, b) - slope(b, c));
    const spread = difference / perRecord;
    process.stdout.write(
      `${Math.round(perRecord).toLocaleString('en-US')} instructions per flow record ` +
        `(UDP, ${template} template, stage ${stage === 'pack' ? 'decode + pack' : 'decode'}; ` +
        `windows of ${windows.join(', ')} rounds after ${options.warmup} warm-up rounds, ` +
        `${(c.records - a.records).toLocaleString('en-US')} records apart; halves ` +
        `${Math.round(slope(a, b))} and ${Math.round(slope(b, c))})\n`,
    );
    if (spread > MAX_SLOPE_SPREAD && difference > MAX_SLOPE_DIFFERENCE) {
      process.stderr.write(
        `not steady: the two halves differ by ${(spread * 100).toFixed(1)} % (JIT or GC inside a window); raise --warmup\n`,
      );
      process.exitCode = 1;
    }
  }
}

if (options.measured !== undefined) {
  await runMeasured(Number(options.warmup), Number(options.measured));
  process.exit(0);
} else measureDifferential();
