// Row conversion = Antrea's FlowRecord conversion for the ClickHouse exporter (peer-cases G, X-1/X-3;
// reference 3.2), and the batch manifest encoding.
import { describe, expect, it } from 'vitest';
import { ANTREA_INSERT_COLUMNS, FLOWLINE_INSERT_COLUMNS } from '../../../clickhouse/columns.ts';
import type { AggregatedFlow } from '../../../core/aggregated-flow.ts';
import { emptyFlowRecord } from '../../../core/flow-record.ts';
import {
  batchToken,
  decodeManifestRows,
  encodeManifestRows,
  sortByToken,
} from '../../../functions/exporter/batch.ts';
import { antreaInsertArguments, buildFlowRow, podLabelsJson } from '../../../functions/exporter/rows.ts';
import { aggregatedOf, antreaTestFlow } from '../../fixtures/antrea-test-flow.ts';

const CLUSTER_UUID = '4f2c1b0e-8a4d-4d8e-9f6a-2b1c3d4e5f60';

/** Antrea flowrecord/testing/util.go fixture (peer-cases G, X-3), IPv4: arbitrary pass-through values. */
function x3Flow(): AggregatedFlow {
  return antreaTestFlow(true, {
    destinationServiceIP: '10.10.1.10',
    egressNetworkPolicyRuleAction: 5,
    egressNetworkPolicyType: 4,
    flowType: 11,
    // Unordered on purpose: Go's json.Marshal sorts map keys.
    sourcePodLabels: '{"app":"iperf","antrea-e2e":"perftest-a"}',
  });
}

describe('buildFlowRow', () => {
  it("X-3: Antrea's 51 insert arguments, in order", () => {
    const row = buildFlowRow(x3Flow(), {
      clusterUUID: CLUSTER_UUID,
      exportSeq: 1,
      exportedAtMs: 1_700_000_000_123,
    });
    // biome-ignore format: one Antrea argument per position, as listed in peer-cases G X-3
    expect(antreaInsertArguments(row)).toEqual([
      1637706961, 1637706973, 1637706974, 1637706975, 3,
      '10.10.0.79', '10.10.0.80', 44752, 5201, 6, 823188, 30472817041, 241333, 8982624938,
      471111, 24500996, 136211, 7083284, 'perftest-a', 'antrea-test',
      'k8s-node-control-plane', 'perftest-b', 'antrea-test-b', 'k8s-node-control-plane-b',
      '10.10.1.10', 5202, 'perftest',
      'test-flow-aggregator-networkpolicy-ingress-allow', 'antrea-test-ns',
      'test-flow-aggregator-networkpolicy-rule', 2, 1,
      'test-flow-aggregator-networkpolicy-egress-allow', 'antrea-test-ns-e',
      'test-flow-aggregator-networkpolicy-rule-e', 5, 4, 'TIME_WAIT', 11,
      '{"antrea-e2e":"perftest-a","app":"iperf"}',
      '{"antrea-e2e":"perftest-b","app":"iperf"}', 15902813472, 12381344,
      15902813473, 15902813474, 12381345, 12381346, CLUSTER_UUID, 'test-egress',
      '172.18.0.1', 'test-egress-node',
    ]);
    expect(ANTREA_INSERT_COLUMNS).toHaveLength(51);
  });

  it('Flowline columns: key, export sequence, incomplete flag, exporter, export time', () => {
    const flow = x3Flow();
    flow.incomplete = true;
    flow.record.exporterAddress = '192.168.77.2';
    const row = buildFlowRow(flow, {
      clusterUUID: CLUSTER_UUID,
      exportSeq: 7,
      exportedAtMs: 1_700_000_000_123,
    });
    expect(row.flowKey).toBe('10.10.0.79|10.10.0.80|6|44752|5201');
    expect(row.exportSeq).toBe(7);
    expect(row.incomplete).toBe(1);
    expect(row.exporterAddress).toBe('192.168.77.2');
    expect(row.destinationServiceIP).toBe('10.10.1.10');
    expect(row.exportedAt).toBe('2023-11-14 22:13:20.123');
    expect(Object.keys(row).sort()).toEqual([...FLOWLINE_INSERT_COLUMNS].sort());
  });

  it('"" for a flow without Service or Egress (Antrea >= 2.4), never 0.0.0.0 / ::', () => {
    for (const zero of ['', '0.0.0.0', '::']) {
      const flow = aggregatedOf({
        ...emptyFlowRecord(),
        sourceIP: '10.0.0.1',
        destinationIP: '10.0.0.2',
        destinationClusterIP: zero,
        destinationServiceIP: zero,
      });
      const row = buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 0 });
      expect(row.destinationClusterIP).toBe('');
      expect(row.destinationServiceIP).toBe('');
      expect(row.egressIP).toBe('');
      expect(row.tcpState).toBe('');
      expect(row.flowEndSecondsFromSourceNode).toBe(0); // 1970-01-01 00:00:00, as Antrea's zero time
    }
  });

  it('keeps IPv6 text as given (canonical RFC 5952 from the collector)', () => {
    const flow = aggregatedOf({
      ...emptyFlowRecord(),
      sourceIP: '2001:0:3238:dfe1:63::fefb',
      destinationIP: '2001:0:3238:dfe1:63::fefc',
      destinationClusterIP: '2001:0:3238:dfe1:64::a',
      egressIP: '2001:0:3238:dfe1::ac12:1',
    });
    const row = buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1, exportedAtMs: 0 });
    expect([row.sourceIP, row.destinationIP, row.destinationClusterIP, row.egressIP]).toEqual([
      '2001:0:3238:dfe1:63::fefb',
      '2001:0:3238:dfe1:63::fefc',
      '2001:0:3238:dfe1:64::a',
      '2001:0:3238:dfe1::ac12:1',
    ]);
  });
});

describe('podLabelsJson (Antrea: nil -> "", no labels -> "{}", else sorted compact JSON)', () => {
  it.each([
    ['', ''],
    ['{}', '{}'],
    ['{ "b": "2", "a": "1" }', '{"a":"1","b":"2"}'],
    ['{"app.kubernetes.io/name":"x","app":"y"}', '{"app":"y","app.kubernetes.io/name":"x"}'],
    ['not json', 'not json'],
    ['{"a":1}', '{"a":1}'],
  ])('%s -> %s', (input, expected) => {
    expect(podLabelsJson(input)).toBe(expected);
  });
});

describe('batch token and manifest', () => {
  const rows = [3, 1, 2].map((seq) => ({
    token: `10.0.0.${seq}|10.0.0.9|6|1|2#1000#${seq}`,
    row: buildFlowRow(x3Flow(), { clusterUUID: CLUSTER_UUID, exportSeq: seq, exportedAtMs: 5000 + seq }),
  }));

  it('the token depends on the set of row tokens, not on their order', () => {
    expect(batchToken(rows)).toBe(batchToken([...rows].reverse()));
    expect(batchToken(rows)).not.toBe(batchToken(rows.slice(1)));
    const bumped = [{ ...rows[0]!, token: `${rows[0]!.token}0` }, ...rows.slice(1)];
    expect(batchToken(bumped)).not.toBe(batchToken(rows));
  });

  it('manifest rows round-trip exactly, across chunk boundaries', () => {
    const sorted = sortByToken(rows);
    const chunks = encodeManifestRows(sorted, 64);
    expect(chunks.length).toBeGreaterThan(1);
    const decoded = decodeManifestRows(chunks);
    expect(decoded).toEqual(sorted);
    expect(batchToken(decoded)).toBe(batchToken(rows));
  });
});
