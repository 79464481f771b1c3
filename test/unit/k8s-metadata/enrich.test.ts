// The per-record enricher against Antrea's flow aggregator tests (peer-cases.md F-3 fetchPodLabels, F-4
// fillK8sMetadata) and its conditions: which records get missing Pods, which sides get labels.
import { describe, expect, it } from 'vitest';
import { createRecordEnricher, EnrichmentCounts } from '../../../collector-edge/k8s-metadata/enrich.ts';
import { PodStore } from '../../../collector-edge/k8s-metadata/pod-store.ts';
import { emptyFlowRecord, type FlowRecord, FlowType, RuleAction } from '../../../core/flow-record.ts';

const START = 1_700_000_000;

function store(): PodStore {
  const s = new PodStore(() => START * 1000);
  const add = (uid: string, name: string, ip: string, node: string, labels?: Record<string, string>) =>
    s.upsert({
      metadata: {
        uid,
        name,
        namespace: 'default',
        ...(labels ? { labels } : {}),
        creationTimestamp: '2023-01-01T00:00:00Z',
      },
      spec: { nodeName: node },
      status: { phase: 'Running', podIPs: [{ ip }] },
    });
  add('s', 'sourcePod', '192.168.1.2', 'sourceNode', { test: 'ut' });
  add('d', 'destinationPod', '192.168.1.3', 'destinationNode');
  return s;
}

function record(extra: Partial<FlowRecord>): FlowRecord {
  return {
    ...emptyFlowRecord(),
    sourceIP: '192.168.1.2',
    destinationIP: '192.168.1.3',
    flowStartSeconds: START,
    ...extra,
  };
}

describe('fillK8sMetadata at the edge', () => {
  const enrich = createRecordEnricher(store(), { podLabels: false, fillMissingPods: true });

  it('fills both sides of an egress-dropped inter-Node record (F-4)', () => {
    const r = record({ flowType: FlowType.InterNode, egressNetworkPolicyRuleAction: RuleAction.Drop });
    enrich(r);
    expect(r).toMatchObject({
      sourcePodName: 'sourcePod',
      sourcePodNamespace: 'default',
      sourceNodeName: 'sourceNode',
      destinationPodName: 'destinationPod',
      destinationPodNamespace: 'default',
      destinationNodeName: 'destinationNode',
      sourcePodLabels: '',
      destinationPodLabels: '',
    });
  });

  it('fills only the empty side of an ingress-rejected record', () => {
    const r = record({
      flowType: FlowType.InterNode,
      ingressNetworkPolicyRuleAction: RuleAction.Reject,
      destinationPodName: 'kept',
      destinationPodNamespace: 'other',
      destinationNodeName: 'n9',
    });
    enrich(r);
    expect([r.sourcePodName, r.destinationPodName, r.destinationNodeName]).toEqual([
      'sourcePod',
      'kept',
      'n9',
    ]);
  });

  it.each([
    ['an inter-Node half that waits for correlation', { flowType: FlowType.InterNode }],
    [
      'an ingress drop (correlated as usual)',
      { flowType: FlowType.InterNode, ingressNetworkPolicyRuleAction: RuleAction.Drop },
    ],
    [
      'an intra-Node record',
      { flowType: FlowType.IntraNode, egressNetworkPolicyRuleAction: RuleAction.Drop },
    ],
    [
      'a to-external record',
      { flowType: FlowType.ToExternal, egressNetworkPolicyRuleAction: RuleAction.Drop },
    ],
  ])('leaves %s alone', (_, extra) => {
    const r = record(extra);
    enrich(r);
    expect([r.sourcePodName, r.destinationPodName]).toEqual(['', '']);
  });
});

describe('fillPodLabels at the edge (F-3)', () => {
  it('labels of each side with a Pod name and namespace; {} for none; "" for not found or no Pod', () => {
    const counts = new EnrichmentCounts();
    const enrich = createRecordEnricher(store(), { podLabels: true, fillMissingPods: true }, counts);
    const both = record({
      flowType: FlowType.IntraNode,
      sourcePodName: 'sourcePod',
      sourcePodNamespace: 'default',
      destinationPodName: 'destinationPod',
      destinationPodNamespace: 'default',
    });
    enrich(both);
    expect([both.sourcePodLabels, both.destinationPodLabels]).toEqual(['{"test":"ut"}', '{}']);

    const sourceHalf = record({
      flowType: FlowType.InterNode,
      sourcePodName: 'sourcePod',
      sourcePodNamespace: 'default',
    });
    enrich(sourceHalf);
    expect([sourceHalf.sourcePodLabels, sourceHalf.destinationPodLabels]).toEqual(['{"test":"ut"}', '']);

    const unknown = record({
      flowType: FlowType.ToExternal,
      sourceIP: '192.168.9.9',
      destinationIP: '8.8.8.8',
      sourcePodName: 'gone',
      sourcePodNamespace: 'default',
      sourcePodLabels: '{"from":"agent"}',
    });
    enrich(unknown);
    expect([unknown.sourcePodLabels, unknown.destinationPodLabels]).toEqual(['', '']);
    expect(counts).toMatchObject({ labelsFilled: 3, labelsNotFound: 1 });
  });

  it('with podLabels off, labels are untouched', () => {
    const enrich = createRecordEnricher(store(), { podLabels: false, fillMissingPods: true });
    const r = record({
      flowType: FlowType.IntraNode,
      sourcePodName: 'sourcePod',
      sourcePodNamespace: 'default',
    });
    enrich(r);
    expect(r.sourcePodLabels).toBe('');
  });
});
