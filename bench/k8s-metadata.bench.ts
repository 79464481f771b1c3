// What Kubernetes metadata costs the collector per record (collector-edge/k8s-metadata): the collector's
// decoder on Antrea agent records, without and with the enricher (Pod labels on: two Map lookups per
// record, both sides being Pods; labels off: no lookup unless a record is a denied inter-Node flow), against a
// Pod store of 10,000 Pods; same records, same run.
import { createRecordEnricher } from '../collector-edge/k8s-metadata/enrich.ts';
import { PodStore } from '../collector-edge/k8s-metadata/pod-store.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord, pod } from '../workloads/antrea-template.ts';
import { flowRecordPass, rate, workload } from './decode.bench.ts';
import type { BenchModule, BenchRow } from './types.ts';

const PODS = 10_000;

export const k8sMetadataBench: BenchModule = {
  async run({ quick }) {
    const budget = quick ? 300 : 1500;
    const store = new PodStore(() => 1_700_000_000_000);
    for (let i = 0; i < PODS; i++) {
      const p = pod(i);
      store.upsert({
        metadata: {
          uid: `uid-${i}`,
          name: p.name,
          namespace: p.namespace,
          labels: { app: p.name.split('-')[0]!, 'pod-template-hash': String(i % 97) },
          creationTimestamp: '2023-11-01T00:00:00Z',
        },
        spec: { nodeName: p.node },
        status: { phase: 'Running', podIPs: [{ ip: p.ip }] },
      });
    }
    const w = workload(ANTREA_AGENT_IPV4_FIELDS, antreaRecord, 20_000);
    const plain = rate(budget, w.records, flowRecordPass(w));
    const labelsOff = rate(
      budget,
      w.records,
      flowRecordPass(w, createRecordEnricher(store, { podLabels: false, fillMissingPods: true })),
    );
    const enrich = createRecordEnricher(store, { podLabels: true, fillMissingPods: true });
    const enriched = rate(budget, w.records, flowRecordPass(w, enrich));
    const addedNs = (value: number) => `${(1e9 / value - 1e9 / plain).toFixed(0)} ns added per record`;
    const rows: BenchRow[] = [
      {
        group: 'k8s-metadata',
        name: 'decode + deny-flow Pod filling (Pod labels off, the default)',
        value: labelsOff,
        unit: 'records/s',
        baselineName: 'decode alone (k8s metadata off)',
        baseline: plain,
        better: 'higher',
        counters: { podLookupsPerRecord: 0 },
        notes: addedNs(labelsOff),
      },
      {
        group: 'k8s-metadata',
        name: `decode + Pod labels, ${PODS.toLocaleString('en-US')} Pods in the store`,
        value: enriched,
        unit: 'records/s',
        baselineName: 'decode alone (k8s metadata off)',
        baseline: plain,
        better: 'higher',
        counters: { podLookupsPerRecord: 2, pods: store.size },
        notes: addedNs(enriched),
      },
    ];
    return rows;
  },
};
