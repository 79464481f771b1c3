// The flow log in Antrea's flow logger format: peer-cases X-4's lines exactly (prettyPrint on and off),
// its filters on rule actions, the configuration, and the PutLogEvents requests the lines become.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFlowRow } from '../../../functions/exporter/rows.ts';
import { EnvConfigError } from '../../../functions/flow-store/config.ts';
import { parseFlowLogFilters } from '../../../functions/shared/flow-log-filters.ts';
import { sinksConfigFromEnv } from '../../../functions/sinks/config.ts';
import { type ExportedRow, exportedRowOf } from '../../../functions/sinks/exported-row.ts';
import { flowLogLine, flowLogLines, passesFlowLogFilters } from '../../../functions/sinks/flow-log.ts';
import {
  FileFlowLog,
  logEventRequests,
  logStreamNameOf,
  MAX_EVENT_BYTES,
  PUT_LOG_EVENTS_LIMITS,
} from '../../../functions/sinks/flow-log-targets.ts';
import { antreaTestFlow } from '../../fixtures/antrea-test-flow.ts';

/** flowlogger/logger_test.go's record: the test flow with its Service address and egress rule. */
function rowOf(overrides = {}): ExportedRow {
  const flow = antreaTestFlow(true, {
    destinationServiceIP: '10.10.1.10',
    egressNetworkPolicyRuleAction: 5,
    egressNetworkPolicyType: 4,
    ...overrides,
  });
  const uuid = '7c8a2b1e-5d4f-4e3a-9b2c-1d0e9f8a7b6c';
  return exportedRowOf(flow, buildFlowRow(flow, { clusterUUID: uuid, exportSeq: 1, exportedAtMs: 1e12 }));
}

// peer-cases X-4 (flowlogger/logger_test.go).
const X4_PRETTY =
  '1637706961,1637706973,10.10.0.79,10.10.0.80,44752,5201,TCP,perftest-a,antrea-test,k8s-node-control-plane,perftest-b,antrea-test-b,k8s-node-control-plane-b,10.10.1.10,10.10.1.10,5202,perftest,test-flow-aggregator-networkpolicy-ingress-allow,antrea-test-ns,test-flow-aggregator-networkpolicy-rule,Drop,K8sNetworkPolicy,test-flow-aggregator-networkpolicy-egress-allow,antrea-test-ns-e,test-flow-aggregator-networkpolicy-rule-e,Invalid,Invalid,test-egress,172.18.0.1,test-egress-node';
const X4_PLAIN =
  '1637706961,1637706973,10.10.0.79,10.10.0.80,44752,5201,6,perftest-a,antrea-test,k8s-node-control-plane,perftest-b,antrea-test-b,k8s-node-control-plane-b,10.10.1.10,10.10.1.10,5202,perftest,test-flow-aggregator-networkpolicy-ingress-allow,antrea-test-ns,test-flow-aggregator-networkpolicy-rule,2,1,test-flow-aggregator-networkpolicy-egress-allow,antrea-test-ns-e,test-flow-aggregator-networkpolicy-rule-e,5,4,test-egress,172.18.0.1,test-egress-node';

const withActions = (ingress: number, egress: number) =>
  rowOf({ ingressNetworkPolicyRuleAction: ingress, egressNetworkPolicyRuleAction: egress });

describe("the flow log in Antrea's flow logger format", () => {
  it('X-4: the line with prettyPrint and without, field for field', () => {
    expect(flowLogLine(rowOf(), true)).toBe(X4_PRETTY);
    expect(flowLogLine(rowOf(), false)).toBe(X4_PLAIN);
  });

  it("pretty names: protocols Antrea knows, 'Unknown Protocol' otherwise; every action and policy type", () => {
    const field = (overrides: object, index: number) => flowLogLine(rowOf(overrides), true).split(',')[index];
    const protocols = [1, 6, 17, 58, 132, 47].map((p) => field({ protocolIdentifier: p }, 6));
    expect(protocols).toEqual(['ICMP', 'TCP', 'UDP', 'IPv6-ICMP', 'SCTP', 'Unknown Protocol']);
    const actions = [0, 1, 2, 3, 4].map((a) => field({ ingressNetworkPolicyRuleAction: a }, 20));
    expect(actions).toEqual(['', 'Allow', 'Drop', 'Reject', 'Invalid']);
    const types = [0, 1, 2, 3, 4].map((t) => field({ egressNetworkPolicyType: t }, 26));
    expect(types).toEqual([
      '',
      'K8sNetworkPolicy',
      'AntreaNetworkPolicy',
      'AntreaClusterNetworkPolicy',
      'Invalid',
    ]);
  });

  it('a line break an exporter put in a name cannot start a forged line', () => {
    const line = flowLogLine(rowOf({ sourcePodName: 'a\n1,2\r\nb' }), true);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.split(',')[7]).toBe('a 1');
  });

  it("filters as Antrea's applyFilters: none passes all; OR of filters; each non-empty list must hold", () => {
    const filters = parseFlowLogFilters(
      JSON.stringify([
        { ingressNetworkPolicyRuleActions: ['Drop', 'Reject'] },
        { ingressNetworkPolicyRuleActions: ['Allow'], egressNetworkPolicyRuleActions: ['Drop'] },
      ]),
    );
    expect(passesFlowLogFilters(withActions(1, 1), [])).toBe(true);
    expect(passesFlowLogFilters(withActions(2, 0), filters)).toBe(true);
    expect(passesFlowLogFilters(withActions(3, 1), filters)).toBe(true);
    expect(passesFlowLogFilters(withActions(1, 2), filters)).toBe(true);
    expect(passesFlowLogFilters(withActions(1, 1), filters)).toBe(false);
    expect(passesFlowLogFilters(withActions(0, 2), filters)).toBe(false);
    const none = parseFlowLogFilters('[{"egressNetworkPolicyRuleActions": ["None"]}]');
    expect(
      flowLogLines([withActions(2, 0), withActions(2, 2)], { prettyPrint: false, filters: none }),
    ).toEqual([flowLogLine(withActions(2, 0), false)]);
  });

  it('refuses filters that would silently match nothing or something else', () => {
    expect(() => parseFlowLogFilters('[{"ingressNetworkPolicyRuleActions": ["drop"]}]')).toThrow(
      /"drop" is not one of None, Allow, Drop, Reject/,
    );
    expect(() => parseFlowLogFilters('[{"ingressRuleActions": ["Drop"]}]')).toThrow(/unknown key/);
    expect(() => parseFlowLogFilters('{"ingressNetworkPolicyRuleActions": []}')).toThrow(/a JSON list/);
    expect(() => parseFlowLogFilters('[{"egressNetworkPolicyRuleActions": "Drop"}]')).toThrow(
      /must be a list/,
    );
    expect(() => parseFlowLogFilters('Drop')).toThrow(/not JSON/);
  });

  it('configuration: a group or a file, pretty print on by default, bad values refused', () => {
    expect(sinksConfigFromEnv({}).flowLog).toBeUndefined();
    expect(sinksConfigFromEnv({ FLOW_LOG_GROUP: 'flows' }).flowLog).toEqual({
      logGroup: 'flows',
      prettyPrint: true,
      filters: [],
    });
    expect(
      sinksConfigFromEnv({
        FLOW_LOG_FILE: '/tmp/f.log',
        FLOW_LOG_PRETTY_PRINT: 'false',
        FLOW_LOG_FILTERS: '[{"ingressNetworkPolicyRuleActions":["Drop"]}]',
      }).flowLog,
    ).toEqual({
      file: '/tmp/f.log',
      prettyPrint: false,
      filters: [{ ingressNetworkPolicyRuleActions: [2], egressNetworkPolicyRuleActions: [] }],
    });
    const refused = [
      { FLOW_LOG_GROUP: 'a', FLOW_LOG_FILE: 'b' },
      { FLOW_LOG_GROUP: 'a', FLOW_LOG_PRETTY_PRINT: 'yes' },
      { FLOW_LOG_GROUP: 'a', FLOW_LOG_FILTERS: '[{"ingressNetworkPolicyRuleActions":["Deny"]}]' },
    ];
    for (const env of refused) expect(() => sinksConfigFromEnv(env)).toThrow(EnvConfigError);
  });
});

describe('the flow log targets', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("PutLogEvents requests stay within the service's limits, lines in order", () => {
    const line = 'x'.repeat(300);
    const lines = Array.from({ length: 25_000 }, (_, i) => `${i},${line}`);
    const requests = logEventRequests(lines, 42);
    expect(requests.flat().map((event) => event.message)).toEqual(lines);
    for (const events of requests) {
      expect(events.length).toBeLessThanOrEqual(PUT_LOG_EVENTS_LIMITS.events);
      const bytes = events.reduce(
        (sum, e) => sum + Buffer.byteLength(e.message!) + PUT_LOG_EVENTS_LIMITS.perEventOverhead,
        0,
      );
      expect(bytes).toBeLessThanOrEqual(PUT_LOG_EVENTS_LIMITS.bytes);
      expect(events.every((e) => e.timestamp === 42)).toBe(true);
    }
    expect(requests.length).toBeGreaterThan(Math.ceil(lines.length / PUT_LOG_EVENTS_LIMITS.events));
  });

  it('a line over the largest event is cut at a character boundary, not refused', () => {
    const huge = `${'é'.repeat(MAX_EVENT_BYTES)}`;
    const message = logEventRequests([huge], 1)[0]![0]!.message!;
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(message.endsWith('é')).toBe(true);
  });

  it('a stream per container and UTC day', () => {
    expect(logStreamNameOf(Date.UTC(2026, 11, 4, 23, 59), 'c1')).toBe('2026/12/04/c1');
    expect(logStreamNameOf(Date.UTC(2026, 11, 5, 0, 0), 'c1')).toBe('2026/12/05/c1');
  });

  it('local mode appends the lines that pass the filters to its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowline-flow-log-'));
    dirs.push(dir);
    const path = join(dir, 'flows.log');
    const sink = new FileFlowLog({
      path,
      prettyPrint: true,
      filters: parseFlowLogFilters('[{"ingressNetworkPolicyRuleActions":["Drop"]}]'),
    });
    await sink.deliver({ token: 't1', rows: [rowOf(), withActions(1, 1)] });
    await sink.deliver({ token: 't2', rows: [withActions(1, 1)] });
    await sink.deliver({ token: 't3', rows: [rowOf()] });
    expect(readFileSync(path, 'utf8')).toBe(`${X4_PRETTY}\n${X4_PRETTY}\n`);
  });
});
