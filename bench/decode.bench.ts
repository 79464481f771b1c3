// IPFIX decode rate on one core: the Antrea agent template (43 IEs, 24 strings) and a softflowd-shaped
// template, compiled per-template decoders (through decodeMessage, the production path) against the
// naive interpreting decoder (baseline only) in the same run; decode + normalise to FlowRecord; and the
// mutation fuzz run (messages/s, crashes must be 0).
import {
  createIpfixDecoder,
  type EncoderField,
  field,
  IpfixEncoder,
  type TransportSession,
} from '../collector-edge/ipfix/index.ts';
import { FlowStringHints, flowRecordShape, normaliseDataSet } from '../collector-edge/normalise.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { seededRandom } from '../core/random.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord } from '../workloads/antrea-template.ts';
import { fuzzDecoder, fuzzSeeds } from '../workloads/ipfix-fuzz.ts';
import { naiveInterpretRecords } from '../workloads/naive-interpreter.ts';
import type { BenchModule, BenchRow } from './types.ts';

const session: TransportSession = { id: 'tcp|bench', exporterAddress: '127.0.0.1', transport: 'tcp' };

// softflowd 1.1.0's IPv4 template (as captured in test/integration/ipfix-crosscheck.test.ts).
const SOFTFLOWD_FIELDS: EncoderField[] = [
  field('sourceIPv4Address'),
  field('destinationIPv4Address'),
  field('flowStartMilliseconds'),
  field('flowEndMilliseconds'),
  field('octetDeltaCount', { length: 4 }),
  field('packetDeltaCount', { length: 4 }),
  field('ingressInterface'),
  field('egressInterface'),
  field('flowDirection'),
  field('flowEndReason'),
  field('sourceTransportPort'),
  field('destinationTransportPort'),
  field('protocolIdentifier'),
  field('tcpControlBits'),
  field('ipVersion'),
  field('ipClassOfService'),
];

function softflowdRecord(random: () => number, i: number) {
  const start = 1_700_000_000_000 + Math.floor(random() * 1e6);
  return {
    sourceIPv4Address: `10.0.${(i >> 8) & 255}.${i & 255}`,
    destinationIPv4Address: `10.1.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
    flowStartMilliseconds: start,
    flowEndMilliseconds: start + Math.floor(random() * 60000),
    octetDeltaCount: Math.floor(random() * 1e7),
    packetDeltaCount: Math.floor(random() * 1e4),
    ingressInterface: 0,
    egressInterface: 0,
    flowDirection: 0,
    flowEndReason: 3,
    sourceTransportPort: 1024 + (i % 60000),
    destinationTransportPort: 443,
    protocolIdentifier: 6,
    tcpControlBits: 0x1b,
    ipVersion: 4,
    ipClassOfService: 0,
  };
}

export interface Workload {
  template: Uint8Array;
  messages: Uint8Array[];
  records: number;
}

export function workload(
  fields: EncoderField[],
  make: (random: () => number, i: number) => Record<string, unknown>,
  count: number,
): Workload {
  const encoder = new IpfixEncoder({ observationDomainId: 1 });
  encoder.defineTemplate(256, fields);
  const random = seededRandom(7);
  const records = Array.from({ length: count }, (_, i) => make(random, i) as Record<string, never>);
  // Messages up to 16 KB, as an Antrea agent over TCP batches them.
  const small = new IpfixEncoder({ observationDomainId: 1, maxMessageBytes: 16384 });
  small.defineTemplate(256, fields);
  return {
    template: encoder.templateMessage(0),
    messages: small.dataMessages(256, records, 0),
    records: count,
  };
}

/**
 * Runs `pass` repeatedly for about `budgetMs` of this process's CPU time after a warm-up; returns records
 * per CPU second (the machine may be shared, so wall time would understate one core's rate).
 */
export function rate(budgetMs: number, records: number, pass: () => number): number {
  for (let i = 0; i < 3; i++) pass();
  let done = 0;
  const started = process.cpuUsage();
  let cpuMs = 0;
  while (cpuMs < budgetMs) {
    const n = pass();
    if (n !== records) throw new Error(`decoded ${n} of ${records} records`);
    done += n;
    const used = process.cpuUsage(started);
    cpuMs = (used.user + used.system) / 1000;
  }
  return done / (cpuMs / 1000);
}

function compiledPass(w: Workload, normalise: boolean): () => number {
  const decoder = createIpfixDecoder({ clock: () => 0 });
  decoder.decodeMessage(w.template, session);
  let sink = 0;
  return () => {
    let n = 0;
    for (const m of w.messages) {
      const r = decoder.decodeMessage(m, session, { receivedAtMs: 0 });
      if (normalise) {
        for (const set of r.dataSets) {
          const flows = normaliseDataSet(set);
          n += flows.length;
          sink += flows[0]!.sourceTransportPort;
        }
      } else n += r.recordCount;
    }
    return sink < 0 ? -1 : n;
  };
}

/**
 * The collector's decoder: FlowRecords built straight from the bytes, with string hints (normalise.ts);
 * `enrich` is applied to each record as the ingest pipeline does (collector-edge/k8s-metadata).
 */
export function flowRecordPass(w: Workload, enrich?: (record: FlowRecord) => void): () => number {
  const hints = new FlowStringHints();
  const decoder = createIpfixDecoder({ recordShape: flowRecordShape(hints), clock: () => 0 });
  decoder.decodeMessage(w.template, session);
  let sink = 0;
  return () => {
    let n = 0;
    for (const m of w.messages) {
      hints.reset();
      for (const set of decoder.decodeMessage(m, session, { receivedAtMs: 0 }).dataSets) {
        if (set.options) continue;
        if (enrich) for (const record of set.records) enrich(record);
        n += set.records.length;
        sink += set.records[0]!.sourceTransportPort;
      }
    }
    return sink < 0 ? -1 : n;
  };
}

function naivePass(w: Workload): () => number {
  const decoder = createIpfixDecoder();
  const fields = decoder.decodeMessage(w.template, session).templatesDefined[0]!.fields;
  return () => {
    let n = 0;
    for (const m of w.messages) {
      // Same set walk as the decoder: one data set per message after the 16-byte header.
      const out: Record<string, never>[] = [];
      naiveInterpretRecords(fields, m, 20, (m[18]! << 8) + m[19]! + 16, out);
      n += out.length;
    }
    return n;
  };
}

export const decodeBench: BenchModule = {
  async run({ quick }) {
    const budget = quick ? 300 : 2000;
    const rows: BenchRow[] = [];
    const shapes: Array<[string, Workload]> = [
      [
        'Antrea agent template (43 IEs, 24 strings)',
        workload(ANTREA_AGENT_IPV4_FIELDS, antreaRecord, 20_000),
      ],
      ['softflowd-shaped template (16 IEs, fixed)', workload(SOFTFLOWD_FIELDS, softflowdRecord, 20_000)],
    ];
    for (const [label, w] of shapes) {
      const naive = rate(budget, w.records, naivePass(w));
      const compiled = rate(budget, w.records, compiledPass(w, false));
      const antrea = label.startsWith('Antrea');
      rows.push({
        group: 'decode',
        name: `${label}: compiled decoder -> objects`,
        value: compiled,
        unit: 'records/s',
        baselineName: 'naive interpreting decoder',
        baseline: naive,
        ...(antrea ? { target: 1_000_000, better: 'higher' as const } : {}),
        counters: {
          messages: w.messages.length,
          records: w.records,
          bytes: w.messages.reduce((s, m) => s + m.length, 0),
        },
      });
      if (antrea) {
        const normalised = rate(budget, w.records, compiledPass(w, true));
        rows.push(
          {
            group: 'decode',
            name: `${label}: decode + normalise -> FlowRecord`,
            value: normalised,
            unit: 'records/s',
            baselineName: 'compiled decoder -> objects',
            baseline: compiled,
          },
          {
            group: 'decode',
            name: `${label}: decoded straight to FlowRecord (the collector's decoder)`,
            value: rate(budget, w.records, flowRecordPass(w)),
            unit: 'records/s',
            baselineName: 'decode + normalise -> FlowRecord',
            baseline: normalised,
          },
        );
      }
    }
    const iterations = quick ? 10_000 : 100_000;
    const fuzz = fuzzDecoder(fuzzSeeds(), iterations, 20240501);
    rows.push({
      group: 'decode',
      name: `fuzz: ${iterations.toLocaleString('en-US')} mutated messages, ${fuzz.crashes} crashes, slowest ${fuzz.slowestMs.toFixed(2)} ms`,
      value: iterations / (fuzz.elapsedMs / 1000),
      unit: 'messages/s',
      counters: { iterations, crashes: fuzz.crashes, records: fuzz.records, errors: fuzz.errors },
      notes: fuzz.firstCrash,
    });
    if (fuzz.crashes > 0) throw new Error(`decoder fuzz: ${fuzz.crashes} crashes; first: ${fuzz.firstCrash}`);
    return rows;
  },
};
