// Kubernetes metadata through the whole local pipeline, as `flowline local --replay --kubeconfig F
// --pod-labels` runs it: the collector's Pod informer is fed by a loopback API server serving the simulated
// cluster's Pods (with labels), the simulated agents export over TCP, and the ClickHouse rows must carry
// - Pod labels on both sides of every flow whose side is a Pod (Antrea's JSON, sorted keys), "" elsewhere;
// - for inter-Node flows denied on the way out (only the source Node reports them), the destination Pod,
//   namespace and Node that the Flow Aggregator's fillK8sMetadata would add.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFlowRows } from '../../local/runner/replay.ts';
import { nodeName, type SimulatedPod } from '../../simulator/model.ts';
import { KubeApiServer, podJson } from '../support/k8s-api-server.ts';
import { expectSumsMatchTruth, runLockstep, SteppedSimulation, useE2e } from './e2e/harness.ts';

const e2e = useE2e();
let api: KubeApiServer;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  api = await KubeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'flowline-k8s-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: client-node allows it only with TLS verification off.
      clusters: [{ name: 'test', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: { token: 'test' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

const labelsOf = (pod: SimulatedPod) => ({
  app: pod.name.split('-')[0]!,
  'topology.io/node': nodeName(pod.node),
});
const expectedJson = (pod: SimulatedPod) =>
  `{"app":"${labelsOf(pod).app}","topology.io/node":"${nodeName(pod.node)}"}`;

describe('Pod informer -> collector -> ... -> ClickHouse', () => {
  it('rows carry Pod labels and deny flows\u2019 missing destination Pod/Node', async () => {
    const sim = new SteppedSimulation({ seed: 11, nodes: 3, connections: 300, polls: 3, ipv6Share: 0.3 });
    for (const pod of sim.podList) {
      api.put(
        podJson({
          name: pod.name,
          namespace: pod.namespace,
          ips: [pod.ipv4, pod.ipv6],
          nodeName: nodeName(pod.node),
          labels: labelsOf(pod),
        }),
      );
    }
    const { pipeline, clickhouse } = await e2e.newRun({
      startMs: (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000,
      collector: {
        listen: [{ protocol: 'tcp', host: '127.0.0.1', port: 0 }],
        kubernetes: { kubeconfig, podLabels: true },
      },
    });
    const truth = await runLockstep(pipeline, sim);
    await expectSumsMatchTruth(clickhouse, truth);
    const rows = (await readFlowRows(clickhouse)) as Array<Record<string, string | number>>;
    const byIP = new Map<string, SimulatedPod>();
    for (const pod of sim.podList) {
      byIP.set(pod.ipv4, pod);
      byIP.set(pod.ipv6, pod);
    }

    let labelled = 0;
    for (const row of rows) {
      for (const side of ['source', 'destination'] as const) {
        const podName = row[`${side}PodName`];
        const pod = byIP.get(String(row[`${side}IP`]));
        const expected = pod !== undefined && podName !== '' && pod.name === podName ? expectedJson(pod) : '';
        expect(row[`${side}PodLabels`], `${row.flowKey} ${side}`).toBe(expected);
        if (expected !== '') labelled++;
      }
    }
    expect(labelled).toBeGreaterThan(rows.length);

    const denied = rows.filter(
      (row) =>
        row.flowType === 2 &&
        (row.egressNetworkPolicyRuleAction === 2 || row.egressNetworkPolicyRuleAction === 3),
    );
    expect(denied.length).toBeGreaterThan(0);
    for (const row of denied) {
      const pod = byIP.get(String(row.destinationIP))!;
      expect(row, String(row.flowKey)).toMatchObject({
        destinationPodName: pod.name,
        destinationPodNamespace: pod.namespace,
        destinationNodeName: nodeName(pod.node),
      });
    }
    const metrics = pipeline.collector!.metrics;
    expect(
      await metrics.total('flowline_k8s_pod_lookups_total', { purpose: 'pod', result: 'found' }),
    ).toBeGreaterThan(0);
    expect(await metrics.total('flowline_k8s_pod_lookups_total', { result: 'not_found' })).toBe(0);
    expect(await metrics.total('flowline_k8s_informer_synced')).toBe(1);
  }, 180_000);
});
