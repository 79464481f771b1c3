// Kubernetes metadata the Flow Aggregator adds at export, added here at the edge to each record as it is
// decoded (reference/antrea-flow-aggregator.md 1.8; Antrea flowaggregator.go fillK8sMetadata and
// fillPodLabels):
// - missing Pod metadata: for inter-Node records that need no correlation (flows a policy denied, reported
//   by one Node only), each side without a Pod name gets the Pod name, namespace and Node of the Pod that
//   had the side's IP at the flow's start time;
// - Pod labels (recordContents.podLabels): each side with a Pod name and namespace gets that Pod's labels as
//   Antrea's JSON ("{}" for none), "" when the Pod is not found. The correlator merges both halves' labels
//   as it merges their names.
// Antrea does both once per flow at export; per record here gives the same values (the lookups depend only
// on the 5-tuple and the start time, which every record of a flow shares), at the cost of one Map lookup per
// side, and keeps the serverless stages free of Kubernetes.
import { isCorrelationRequired } from '../../core/flow-key.ts';
import { type FlowRecord, FlowType, type StringField } from '../../core/flow-record.ts';
import type { PodStore } from './pod-store.ts';

export interface K8sMetadataOptions {
  /** recordContents.podLabels. */
  podLabels: boolean;
  /** fillK8sMetadata for uncorrelated inter-Node records (the Flow Aggregator always does it). */
  fillMissingPods: boolean;
}

/** What the lookups found, counted per record side; read by the metrics at scrape time. */
export class EnrichmentCounts {
  podsFilled = 0;
  podsNotFound = 0;
  labelsFilled = 0;
  labelsNotFound = 0;
}

export type RecordEnricher = (record: FlowRecord) => void;

/** The record fields of each side of a flow. */
const SIDES = [
  {
    ip: 'sourceIP',
    pod: 'sourcePodName',
    namespace: 'sourcePodNamespace',
    node: 'sourceNodeName',
    labels: 'sourcePodLabels',
  },
  {
    ip: 'destinationIP',
    pod: 'destinationPodName',
    namespace: 'destinationPodNamespace',
    node: 'destinationNodeName',
    labels: 'destinationPodLabels',
  },
] as const satisfies ReadonlyArray<Record<string, StringField>>;

export function createRecordEnricher(
  store: PodStore,
  options: K8sMetadataOptions,
  counts: EnrichmentCounts = new EnrichmentCounts(),
): RecordEnricher {
  const { podLabels, fillMissingPods } = options;
  return (record) => {
    const startMs = record.flowStartSeconds * 1000;
    const fill = fillMissingPods && record.flowType === FlowType.InterNode && !isCorrelationRequired(record);
    if (!fill && !podLabels) return; // most records with labels off: a few comparisons, no lookup
    for (const side of SIDES) {
      // Antrea fillK8sMetadata: the side without a Pod gets the Pod that had its IP at the flow's start.
      if (fill && record[side.pod] === '') {
        const pod = store.lookup(record[side.ip], startMs);
        if (pod) {
          record[side.pod] = pod.name;
          record[side.namespace] = pod.namespace;
          record[side.node] = pod.nodeName;
          counts.podsFilled++;
        } else counts.podsNotFound++;
      }
      // Antrea fillPodLabels: "" (nil) when the side is no Pod or its Pod is not found.
      if (podLabels) {
        if (record[side.pod] === '' || record[side.namespace] === '') record[side.labels] = '';
        else {
          const pod = store.lookup(record[side.ip], startMs);
          if (pod) counts.labelsFilled++;
          else counts.labelsNotFound++;
          record[side.labels] = pod ? pod.labelsJson : '';
        }
      }
    }
  };
}
