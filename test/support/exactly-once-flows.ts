// Flows for the exactly-once property test (test/unit/exporter/stream-exactly-once.property.test.ts): Antrea agents'
// records of random flows with the truth a Flow Aggregator fed in order would count, a sink that drops a
// repeated insert token as ClickHouse does, and the per-flow check of what the sink got against the truth.
import fc from 'fast-check';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../core/flow-record.ts';
import type { RowSink } from '../../functions/exporter/clickhouse-sink.ts';
import type { FlowRow } from '../../functions/exporter/rows.ts';

export const T0 = 1_700_000_000_000;
export type Quad = [number, number, number, number];
export const COUNTERS = [
  ['packetDeltaCount', 'packetTotalCount'],
  ['octetDeltaCount', 'octetTotalCount'],
  ['reversePacketDeltaCount', 'reversePacketTotalCount'],
  ['reverseOctetDeltaCount', 'reverseOctetTotalCount'],
] as const;

/** Per poll, what each reporting Node counted since its previous poll. */
const increments = fc.tuple(
  fc.nat({ max: 50 }),
  fc.nat({ max: 40_000 }),
  fc.nat({ max: 50 }),
  fc.nat({ max: 40_000 }),
);
export const flowSpec = fc.record({
  inter: fc.boolean(),
  // One or two connections on the same 5-tuple (the second reuses it after the first ended).
  connections: fc.array(
    fc.array(fc.record({ source: increments, destinationLoss: fc.nat({ max: 3 }) }), {
      minLength: 1,
      maxLength: 5,
    }),
    { minLength: 1, maxLength: 2 },
  ),
});

export type FlowSpec = typeof flowSpec extends fc.Arbitrary<infer T> ? T : never;

export interface Generated {
  records: Array<{ record: FlowRecord; connection: number }>;
  truth: Map<string, { deltas: Quad; maxTotals: Quad }>;
}

/** Antrea agents' records for the flows, with the truth a Flow Aggregator fed in order would count. */
export function recordsOf(flows: Array<FlowSpec>): Generated {
  const records: Generated['records'] = [];
  const truth: Generated['truth'] = new Map();
  const sequence = new Map<string, number>();
  flows.forEach((flow, f) => {
    const key = `10.0.0.${f + 1}|10.0.1.${f + 1}|6|${1000 + f}|80`;
    const nodes = flow.inter ? (['source', 'destination'] as const) : (['intra'] as const);
    const perNodeSum = new Map<string, Quad>(nodes.map((n) => [n, [0, 0, 0, 0]]));
    const maxTotals: Quad = [0, 0, 0, 0];
    flow.connections.forEach((polls, c) => {
      const start = 1_000 + c * 1_000;
      for (const node of nodes) {
        const totals: Quad = [0, 0, 0, 0];
        polls.forEach((poll, p) => {
          // The destination Node may count a little less (packets dropped on the way).
          const added = poll.source.map((v) =>
            node === 'destination' ? Math.max(0, v - poll.destinationLoss) : v,
          ) as Quad;
          for (let i = 0; i < 4; i++) totals[i]! += added[i]!;
          const exporter = node === 'destination' ? '192.168.0.2' : '192.168.0.1';
          const seq = (sequence.get(exporter) ?? 0) + 1;
          sequence.set(exporter, seq);
          const end = start + 5 * (p + 1);
          const record: FlowRecord = {
            ...emptyFlowRecord(),
            sourceIP: `10.0.0.${f + 1}`,
            destinationIP: `10.0.1.${f + 1}`,
            protocolIdentifier: 6,
            sourceTransportPort: 1000 + f,
            destinationTransportPort: 80,
            flowType: flow.inter ? FlowType.InterNode : FlowType.IntraNode,
            sourcePodName: node === 'destination' ? '' : 'client',
            destinationPodName: node === 'source' ? '' : 'server',
            flowStartSeconds: start,
            flowEndSeconds: end,
            flowEndReason: p === polls.length - 1 ? 3 : 2,
            tcpState: p === polls.length - 1 ? 'TIME_WAIT' : 'ESTABLISHED',
            exporterAddress: exporter,
            exportTime: end,
            sequenceNumber: seq,
          };
          COUNTERS.forEach(([delta, total], i) => {
            record[delta] = added[i]!;
            record[total] = totals[i]!;
          });
          records.push({ record, connection: c });
        });
        const sum = perNodeSum.get(node)!;
        for (let i = 0; i < 4; i++) {
          sum[i]! += totals[i]!;
          maxTotals[i] = Math.max(maxTotals[i]!, totals[i]!);
        }
      }
    });
    // Common deltas add up to the larger Node's count (Antrea's common totals are the max over Nodes).
    const deltas = [0, 1, 2, 3].map((i) => Math.max(...[...perNodeSum.values()].map((s) => s[i]!))) as Quad;
    truth.set(key, { deltas, maxTotals });
  });
  return { records, truth };
}

/** ClickHouse's part in exactly-once: an insert whose token was seen before adds nothing. */
export class DedupSink implements RowSink {
  readonly rows: FlowRow[] = [];
  /** The rows each token's (first) insert added. */
  readonly byToken = new Map<string, FlowRow[]>();
  private readonly tokens = new Set<string>();
  failNext: 'before' | 'after-ack-lost' | undefined;
  async ping() {
    return true;
  }
  async insert(rows: readonly FlowRow[], token: string) {
    const fault = this.failNext;
    this.failNext = undefined;
    if (fault === 'before') throw new Error('injected: ClickHouse refused the insert');
    if (!this.tokens.has(token)) {
      this.tokens.add(token);
      this.rows.push(...rows);
      this.byToken.set(token, [...rows]);
    }
    if (fault === 'after-ack-lost') throw new Error('injected: insert written, acknowledgement lost');
    return [];
  }
}

export function problemsOf(sink: DedupSink, truth: Generated['truth']): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const got = new Map<string, { deltas: Quad; maxTotals: Quad }>();
  for (const row of sink.rows) {
    const id = `${row.flowKey}#${row.exportSeq}`;
    if (seen.has(id)) problems.push(`${id} inserted twice`);
    seen.add(id);
    const sums = got.get(row.flowKey as string) ?? { deltas: [0, 0, 0, 0], maxTotals: [0, 0, 0, 0] };
    COUNTERS.forEach(([delta, total], i) => {
      sums.deltas[i]! += Number(row[delta]);
      sums.maxTotals[i] = Math.max(sums.maxTotals[i]!, Number(row[total]));
    });
    got.set(row.flowKey as string, sums);
  }
  for (const [key, expected] of truth) {
    const actual = got.get(key);
    if (!actual) problems.push(`${key}: no row`);
    else if (JSON.stringify(actual) !== JSON.stringify(expected))
      problems.push(`${key}: got ${JSON.stringify(actual)}, truth ${JSON.stringify(expected)}`);
  }
  return problems;
}
