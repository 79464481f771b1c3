// The collector's packing stage alone (collector-edge/packer.ts + core/wire.ts), fed the UDP benchmark's
// decoded records in-process: no sockets, no timers, no spool. Instructions per record by valgrind, as the
// difference of two runs, so that start-up and the decoding of the input cancel out:
//
//   node --import tsx bench/collector-pack.ts [--template antrea|generic] [--rounds 20] [--passes 10]
//        [--valgrind 'passes1,passes2']   (instructions per record: (Ir(passes2) - Ir(passes1)) / records)
//
// The datagrams are decoded once (rounds of the benchmark's datagrams, sequence numbers advancing, string
// hints kept), then every pass packs all those records again into a ShardPacker (4 shards, 16 lanes, the
// default 25,000-byte target, as the collector with the in-process sink). The whole per-datagram path
// (decode + pack): bench/collector-ingest-instructions.ts.
// Without --valgrind: nanoseconds per record of the passes after the first, and records per PUT payload unit.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createIpfixDecoder } from '../collector-edge/ipfix/index.ts';
import { exporterHintOf, FlowStringHints, flowRecordShape } from '../collector-edge/normalise.ts';
import { type SealedBatch, ShardPacker } from '../collector-edge/packer.ts';
import { putPayloadUnits, ShardMap } from '../collector-edge/shard-map.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { evenShards } from './collector.bench.ts';
import { encodeUdpExport, exporterAddress, type UdpTemplate } from './collector-udp.bench.ts';

const { values: options } = parseArgs({
  options: {
    template: { type: 'string', default: 'antrea' },
    rounds: { type: 'string', default: '20' },
    passes: { type: 'string', default: '10' },
    valgrind: { type: 'string' },
  },
});
const template: UdpTemplate = options.template === 'generic' ? 'generic' : 'antrea';
const rounds = Number(options.rounds);
const passes = Number(options.passes);

/** The datagrams of `rounds` rounds, each exporter's sequence numbers advancing as the UDP sender's. */
function datagrams(): { templates: Buffer[]; data: Array<{ exporter: number; bytes: Buffer }> } {
  const plan = encodeUdpExport(template, 8, 2000);
  const data: Array<{ exporter: number; bytes: Buffer }> = [];
  for (let round = 0; round < rounds; round++) {
    for (const datagram of plan.round) {
      const bytes = Buffer.from(datagram.bytes);
      const advance = round * plan.recordsPerExporter[datagram.exporter]!;
      bytes.writeUInt32BE((bytes.readUInt32BE(8) + advance) >>> 0, 8);
      data.push({ exporter: datagram.exporter, bytes });
    }
  }
  return { templates: plan.templates, data };
}

/** A packer as the collector's with the in-process sink's 4 even shards; counts what it seals. */
function newPacker(totals: { records: number; units: number; batches: number }): ShardPacker {
  const packer = new ShardPacker({
    targetBytes: 25_000,
    lingerMs: 1e12,
    now: () => 0,
    onSealed: (batch: SealedBatch) => {
      totals.records += batch.recordCount;
      totals.units += putPayloadUnits(batch.data.length + batch.partitionKey.length);
      totals.batches++;
    },
  });
  packer.setShardMap(new ShardMap(evenShards(4)));
  return packer;
}

interface Decoded {
  records: FlowRecord[];
  hints: Int32Array;
  offsets: number[];
}

/** Decodes every datagram once, keeping each one's records and string hints as IngestPipeline has them. */
function decodeAll(input: ReturnType<typeof datagrams>): Decoded[] {
  const hints = new FlowStringHints();
  const decoder = createIpfixDecoder({ recordShape: flowRecordShape(hints), clock: () => 0 });
  const sessions = input.templates.map((_, i) => ({
    id: `udp|${exporterAddress(i)}:4739|local`,
    exporterAddress: exporterAddress(i),
    transport: 'udp' as const,
  }));
  for (const [i, bytes] of input.templates.entries())
    decoder.decodeMessage(bytes, sessions[i]!, { receivedAtMs: 0 });
  return input.data.map(({ exporter, bytes }) => {
    hints.reset(exporterHintOf(exporter)); // one per session, as IngestPipeline gives
    const result = decoder.decodeMessage(bytes, sessions[exporter]!, { receivedAtMs: 1 });
    const out: Decoded = { records: [], hints: hints.buffer.slice(0, hints.length), offsets: [] };
    for (const set of result.dataSets)
      set.records.forEach((record, i) => {
        out.records.push(record as FlowRecord);
        out.offsets.push(hints.offsetOf(set, i));
      });
    return out;
  });
}

function runPack(): { records: number; perPass: number[]; totals: ReturnType<typeof emptyTotals> } {
  const decoded = decodeAll(datagrams());
  const totals = emptyTotals();
  const packer = newPacker(totals);
  const perPass: number[] = [];
  let records = 0;
  for (let pass = 0; pass < passes; pass++) {
    const started = process.hrtime.bigint();
    for (const { records: list, hints, offsets } of decoded)
      for (let i = 0; i < list.length; i++) packer.add(list[i]!, hints, offsets[i]!);
    perPass.push(Number(process.hrtime.bigint() - started));
    records += decoded.reduce((n, d) => n + d.records.length, 0);
  }
  packer.flushAll();
  return { records, perPass, totals };
}

function emptyTotals() {
  return { records: 0, units: 0, batches: 0 };
}

function instructions(passCount: number): { ir: number; records: number } {
  const child = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      '--random-seed=1',
      '--hash-seed=1',
      '--predictable',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      `--template=${template}`,
      `--rounds=${rounds}`,
      `--passes=${passCount}`,
    ],
    // tsx's transform cache would make a run's start-up depend on the runs before it.
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
  );
  const ir = /I\s+refs:\s+([\d,]+)/.exec(child.stderr);
  const records = /records (\d+)/.exec(child.stdout);
  if (child.status !== 0 || !ir || !records)
    throw new Error(`run failed (exit ${child.status}):\n${child.stderr.slice(-2000)}`);
  return { ir: Number(ir[1]!.replaceAll(',', '')), records: Number(records[1]) };
}

if (options.valgrind) {
  const [a, b] = options.valgrind.split(',').map(Number) as [number, number];
  const first = instructions(a);
  const second = instructions(b);
  const perRecord = (second.ir - first.ir) / (second.records - first.records);
  process.stdout.write(
    `${template} pack: ${Math.round(perRecord)} instructions per record ` +
      `(passes ${a} -> ${b}, records ${first.records} -> ${second.records}, Ir ${first.ir} -> ${second.ir})\n`,
  );
} else {
  const { records, perPass, totals } = runPack();
  const perRecordNs = perPass.slice(1).reduce((n, t) => n + t, 0) / ((records * (passes - 1)) / passes);
  process.stdout.write(
    `records ${records} ${template} pack: ${perRecordNs.toFixed(0)} ns per record after the first pass; ` +
      `${(totals.records / totals.units).toFixed(1)} records per PUT unit (${totals.batches} batches)\n`,
  );
}
