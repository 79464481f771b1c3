// Collector-edge over UDP: IPFIX datagrams (at most 1,400 bytes, as go-ipfix sends over UDP) from simulated
// exporters in a child process to a collector in this process (in-process sink, disk spool), records per
// CPU-second of this process (all its threads: a spool worker counts). The reference is the Node floor
// measured in the same run: a bare dgram socket that receives the same datagrams and walks their set headers,
// decoding nothing. Two templates: the Antrea agent's (43 IEs, enterprise strings, reverse counters) and a
// generic one of 16 IANA IEs (what a router or nProbe sends).
//
// UDP has no flow control, so the sender paces itself on the receiving socket's kernel queue (far below its
// receive buffer; bench/collector-udp-sender.ts): nothing is lost to the kernel, the measured process spends
// nothing on flow control, and a datagram count that stops short fails the run instead of measuring drops. Helpers shared with
// bench/collector-instructions.ts (valgrind instructions per record over UDP).
import { type ChildProcess, fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collector } from '../collector-edge/collector.ts';
import { loadCollectorConfig } from '../collector-edge/config.ts';
import { field, IpfixEncoder } from '../collector-edge/ipfix/index.ts';
import { createLogger } from '../collector-edge/log.ts';
import { CollectorMetrics } from '../collector-edge/metrics.ts';
import { agentTemplateNames, IPV4_TEMPLATE_ID, IPV6_TEMPLATE_ID } from '../simulator/agent-template.ts';
import { toAgentFields } from '../simulator/exporter.ts';
import { ClusterSimulation, observationDomainOf } from '../simulator/model.ts';
import { InProcessSink } from './collector.bench.ts';
import type { BenchModule, BenchRow } from './types.ts';

export type UdpTemplate = 'antrea' | 'generic';

/** go-ipfix's UDP message size (path MTU minus headers), as simulator/exporter.ts. */
const UDP_MESSAGE_BYTES = 1400;

/** The generic template: 16 IANA IEs of a plain 5-tuple flow exporter. */
const GENERIC_IES = [
  'sourceIPv4Address',
  'destinationIPv4Address',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'tcpControlBits',
  'ipClassOfService',
  'ingressInterface',
  'egressInterface',
  'flowStartSeconds',
  'flowEndSeconds',
  'flowEndReason',
  'packetDeltaCount',
  'octetDeltaCount',
  'packetTotalCount',
  'octetTotalCount',
];

/** The loopback address simulated exporter `exporter` sends from (127.0.0.2, 127.0.0.3, ...): one per Node. */
export function exporterAddress(exporter: number): string {
  return `127.0.0.${2 + exporter}`;
}

export interface UdpDatagram {
  exporter: number;
  bytes: Buffer;
}

export interface UdpExport {
  /** One template datagram per exporter, sent first. */
  templates: Buffer[];
  /** One round of every exporter's data datagrams, interleaved. */
  round: UdpDatagram[];
  /** Data records per exporter per round (the sequence number advance). */
  recordsPerExporter: number[];
  records: number;
}

/** One round of `nodes` exporters' records (fixed seed), as UDP datagrams. */
export function encodeUdpExport(template: UdpTemplate, nodes: number, connections: number): UdpExport {
  const sim = new ClusterSimulation({
    seed: 2026,
    nodes,
    connections,
    polls: 1,
    ipv6Share: template === 'antrea' ? 0.2 : 0,
  });
  const poll = sim.nextExport()!;
  const perExporter = poll.byNode.map((nodeRecords, node) => {
    const encoder = new IpfixEncoder({
      observationDomainId: observationDomainOf(node),
      maxMessageBytes: UDP_MESSAGE_BYTES,
    });
    const ids = template === 'antrea' ? [IPV4_TEMPLATE_ID, IPV6_TEMPLATE_ID] : [IPV4_TEMPLATE_ID];
    for (const id of ids) {
      const names = template === 'generic' ? GENERIC_IES : agentTemplateNames(id === IPV6_TEMPLATE_ID);
      encoder.defineTemplate(
        id,
        names.map((n) => field(n)),
      );
    }
    // The template message first, so that its sequence number is the first data message's.
    const templateMessage = Buffer.from(encoder.templateMessage(poll.exportTime));
    const messages: Uint8Array[] = [];
    if (template === 'antrea') {
      for (const ipv6 of [false, true]) {
        const subset = nodeRecords.filter((r) => r.ipv6 === ipv6).map((r) => toAgentFields(r.record, ipv6));
        const id = ipv6 ? IPV6_TEMPLATE_ID : IPV4_TEMPLATE_ID;
        if (subset.length > 0) messages.push(...encoder.dataMessages(id, subset, poll.exportTime));
      }
    } else {
      const rows = nodeRecords.map(({ record }, i) => ({
        ...toAgentFields(record, false),
        tcpControlBits: record.protocolIdentifier === 6 ? 0x18 : 0,
        ipClassOfService: 0,
        ingressInterface: 1 + (i % 8),
        egressInterface: 2,
      }));
      messages.push(...encoder.dataMessages(IPV4_TEMPLATE_ID, rows, poll.exportTime));
    }
    const datagrams = messages.map((m) => ({ exporter: node, bytes: Buffer.from(m) }));
    return {
      template: templateMessage,
      datagrams,
      records: nodeRecords.length,
    };
  });
  // Exporters take turns, as several Nodes' datagrams arrive interleaved.
  const round: UdpDatagram[] = [];
  const longest = Math.max(...perExporter.map((e) => e.datagrams.length));
  for (let i = 0; i < longest; i++)
    for (const exporter of perExporter) if (i < exporter.datagrams.length) round.push(exporter.datagrams[i]!);
  return {
    templates: perExporter.map((e) => e.template),
    round,
    recordsPerExporter: perExporter.map((e) => e.records),
    records: perExporter.reduce((n, e) => n + e.records, 0),
  };
}

/**
 * The Node floor's handler: walks an IPFIX message's set headers (version, length, set ids and lengths), as
 * any collector must before decoding, and returns the bytes of data sets. Nothing is decoded.
 */
export function walkSetHeaders(message: Buffer): number {
  if (message.length < 16 || message.readUInt16BE(0) !== 10) return 0;
  const end = Math.min(message.length, message.readUInt16BE(2));
  let dataBytes = 0;
  for (let offset = 16; offset + 4 <= end; ) {
    const setId = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 2);
    if (length < 4) break;
    if (setId >= 256) dataBytes += length - 4;
    offset += length;
  }
  return dataBytes;
}

/** Bytes the sender lets wait in the receiver's socket queue: well below its buffer (8 MiB asked, 4 MiB max here). */
const QUEUE_LIMIT_BYTES = 1024 * 1024;
/** A count that does not move for this long means the kernel dropped datagrams: the run fails. */
const STALL_MS = 30_000;

export interface UdpSender {
  /** Sends data datagrams until `total` have been sent since the start; resolves when they have been. */
  sendUpTo(total: number): Promise<void>;
  stop(): Promise<void>;
}

/** The simulated exporters in a child process, pacing themselves on the receiving socket's queue. */
export async function startUdpSender(
  port: number,
  template: UdpTemplate,
  nodes: number,
  connections: number,
  queueLimitBytes = QUEUE_LIMIT_BYTES,
): Promise<UdpSender> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./collector-udp-sender.ts', import.meta.url)),
    [String(port), template, String(nodes), String(connections), String(queueLimitBytes)],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`UDP sender exited with ${code}`)));
  });
  return {
    sendUpTo: async (total) => {
      const reply = new Promise<void>((resolve, reject) => {
        const exited = (code: number | null) => reject(new Error(`UDP sender exited with ${code}`));
        child.once('exit', exited);
        child.once('message', () => {
          child.off('exit', exited);
          resolve();
        });
      });
      child.send({ send: total });
      await reply;
    },
    stop: async () => {
      const exited = once(child, 'exit');
      child.send({ stop: true });
      await exited;
    },
  };
}

/**
 * Sends data datagrams until the receiver has taken `target` datagrams (a running total that includes the
 * `templates` template datagrams). The receiver is polled only once the sender is done (what is left is at
 * most the queue limit), so its CPU (and its instruction count) is the receiver's own.
 */
export async function sendAll(
  sender: UdpSender,
  received: () => number | Promise<number>,
  target: number,
  templates: number,
): Promise<void> {
  await sender.sendUpTo(target - templates);
  let last = -1;
  let lastProgress = performance.now();
  for (;;) {
    const done = await received();
    if (done >= target) return;
    if (done !== last) {
      last = done;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > STALL_MS)
      throw new Error(`UDP bench: ${target - done} datagrams never arrived (kernel drops?)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface UdpReceiver {
  port: number;
  /** Datagrams taken so far (templates included). */
  received: () => number | Promise<number>;
  /** Waits until what was received is fully processed (the collector: acknowledged by the sink). */
  settle: () => Promise<void>;
  close: () => Promise<void>;
}

/** The Node floor: a dgram socket that walks each datagram's set headers. */
async function startFloor(): Promise<UdpReceiver> {
  const socket = createSocket('udp4');
  let datagrams = 0;
  let dataBytes = 0;
  socket.on('message', (message) => {
    datagrams++;
    dataBytes += walkSetHeaders(message);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setRecvBufferSize(8 * 1024 * 1024);
  return {
    port: socket.address().port,
    received: () => datagrams,
    settle: async () => {
      if (dataBytes < 0) throw new Error('unreachable');
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The collector as deployed (UDP listener, disk spool), delivering to an in-process sink. */
export async function startUdpCollector(
  env: Record<string, string> = {},
): Promise<UdpReceiver & { collector: Collector; metrics: CollectorMetrics }> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'flowline-bench-udp-spool-'));
  const metrics = new CollectorMetrics();
  const collector = await Collector.start(
    loadCollectorConfig({
      FLOWLINE_STREAM_NAME: 'bench',
      FLOWLINE_LISTEN: 'udp://127.0.0.1:0',
      FLOWLINE_SPOOL_DIR: spoolDir,
      FLOWLINE_SPOOL_MAX_BYTES: String(4 * 1024 * 1024 * 1024),
      ...env,
    }),
    { sink: new InProcessSink(), metrics, logger: createLogger('error'), http: false },
  );
  return {
    collector,
    metrics,
    port: collector.portOf('udp'),
    received: () => metrics.total('flowline_collector_ipfix_messages_total'),
    settle: () => collector.whenDelivered(),
    close: async () => {
      await collector.drain();
      rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}

/**
 * Records per CPU-second of this process over `rounds` rounds, after `warmupRounds` unmeasured rounds (the
 * JIT has compiled the hot code, as in a collector running for days).
 */
export async function measureUdp(
  receiver: UdpReceiver,
  plan: UdpExport,
  args: { template: UdpTemplate; nodes: number; connections: number; warmupRounds: number; rounds: number },
): Promise<{ cpuRate: number; cpuSeconds: number; records: number }> {
  const sender = await startUdpSender(receiver.port, args.template, args.nodes, args.connections);
  try {
    const templates = plan.templates.length;
    await sendAll(sender, receiver.received, templates + args.warmupRounds * plan.round.length, templates);
    await receiver.settle();
    const before = process.cpuUsage();
    await sendAll(
      sender,
      receiver.received,
      templates + (args.warmupRounds + args.rounds) * plan.round.length,
      templates,
    );
    await receiver.settle();
    const cpu = process.cpuUsage(before);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const records = plan.records * args.rounds;
    return { cpuRate: records / cpuSeconds, cpuSeconds, records };
  } finally {
    await sender.stop();
  }
}

/** What measureUdp measured of one receiver. */
type Measured = { cpuSeconds: number; records: number };

/** Alternating floor and collector parts of a full run (its measured records split between them). */
const PHASES = 5;

/** Targets of issue 20 (records per CPU-second of the collector process). */
const TARGETS: Record<UdpTemplate, number> = { antrea: 300_000, generic: 600_000 };

export const collectorUdpBench: BenchModule = {
  async run({ quick }) {
    const nodes = 8;
    const connections = 2000;
    const rows: BenchRow[] = [];
    for (const template of ['generic', 'antrea'] as const) {
      const plan = encodeUdpExport(template, nodes, connections);
      const measuredRecords = quick ? 100_000 : 1_000_000;
      const rounds = Math.max(1, Math.round(measuredRecords / plan.records));
      const warmupRounds = Math.max(1, Math.round(rounds / 5));
      const args = { template, nodes, connections, warmupRounds, rounds };
      // The machine's speed drifts within seconds (2x on this VM): floor and collector are measured in
      // `phases` alternating parts, and the ratio is of their totals. Each part has its own receiver, so
      // neither is charged for the other's idle timers. Later collectors warm up for a quarter as long: the
      // wire writer stays compiled, their template decoders are compiled anew.
      const phases = quick ? 2 : PHASES;
      const partRounds = Math.max(1, Math.ceil(rounds / phases));
      const floors: Measured[] = [];
      const parts: Measured[] = [];
      let kernelDrops = 0;
      let warmupRecords = 0;
      for (let phase = 0; phase < phases; phase++) {
        const floor = await startFloor();
        try {
          floors.push(await measureUdp(floor, plan, { ...args, warmupRounds: 1, rounds: partRounds }));
        } finally {
          await floor.close();
        }
        const partWarmup = phase === 0 ? warmupRounds : Math.ceil(warmupRounds / 4);
        const part = { ...args, warmupRounds: partWarmup, rounds: partRounds };
        warmupRecords += plan.records * partWarmup;
        const collector = await startUdpCollector();
        try {
          parts.push(await measureUdp(collector, plan, part));
        } finally {
          await collector.close();
        }
        const metrics = collector.metrics;
        const accepted = await metrics.total('flowline_collector_flow_records_total');
        const delivered = await metrics.total('flowline_kinesis_delivered_flow_records_total');
        const expected = plan.records * (part.warmupRounds + part.rounds);
        if (accepted !== expected || delivered !== expected)
          throw new Error(
            `UDP bench: ${expected} records sent, ${accepted} accepted, ${delivered} delivered`,
          );
        kernelDrops += await metrics.total('flowline_collector_dropped_total');
      }
      const rateOf = (runs: Measured[]) =>
        runs.reduce((n, r) => n + r.records, 0) / runs.reduce((n, r) => n + r.cpuSeconds, 0);
      const collectorRate = rateOf(parts);
      const floorRate = rateOf(floors);
      const partRatios = parts.map(
        (p, i) => p.records / p.cpuSeconds / (floors[i]!.records / floors[i]!.cpuSeconds),
      );
      rows.push({
        group: 'collector',
        name: `UDP -> PutRecords, ${template === 'antrea' ? 'Antrea template (43 IEs)' : 'generic template (16 IANA IEs)'}, in-process sink (records per CPU-second of the collector process)`,
        value: collectorRate,
        unit: 'records/s/core',
        baselineName: 'Node floor: UDP receive + IPFIX set-header walk, same run',
        baseline: floorRate,
        target: TARGETS[template],
        better: 'higher',
        counters: {
          records: parts.reduce((n, p) => n + p.records, 0),
          warmupRecords,
          recordsPerDatagram: plan.records / plan.round.length,
          collectorCpuSeconds: parts.reduce((n, p) => n + p.cpuSeconds, 0),
          kernelDrops,
          floorRecordsPerCpuSecond: Math.round(floorRate),
          ratioToFloor: collectorRate / floorRate,
        },
        notes:
          `ratio to the same-run Node floor ${(collectorRate / floorRate).toFixed(3)} (target for Antrea: >= 0.45), ` +
          `of ${phases} alternating floor/collector parts whose own ratios were ${partRatios.map((r) => r.toFixed(3)).join(', ')}; ` +
          'instructions per record: bench/collector-ingest-instructions.ts',
      });
    }
    return rows;
  },
};
