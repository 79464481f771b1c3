// Antrea Flow Aggregator's per-record algorithm (HEAD, antrea pkg/flowaggregator/intermediate/aggregate.go
// and 2.1-2.2): addOrUpdateRecordInMap, correlateRecords, aggregateRecords, on one AggregatedFlow and its
// expiry times. Pure; `nowMs` is injected. Field-for-field, including the quirks (marked QUIRK).
import { type AggregatedFlow, type Counters, zeroCounters } from '../../core/aggregated-flow.ts';
import { isCorrelationRequired, isSourceNodeFromExternalFlow } from '../../core/flow-key.ts';

export { isCorrelationRequired };

import { FlowEndReason, type FlowRecord, FlowType } from '../../core/flow-record.ts';

export interface AggregationTimeouts {
  activeTimeoutMs: number;
  inactiveTimeoutMs: number;
}

/** Antrea's aggregation record plus its priority-queue times. */
export interface AggregationEntry {
  flow: AggregatedFlow;
  activeExpireAtMs: number;
  inactiveExpireAtMs: number;
}

export function isRecordFromSource(record: FlowRecord): boolean {
  return (
    isSourceNodeFromExternalFlow(record) || (record.sourcePodName !== '' && record.destinationPodName === '')
  );
}

export function isRecordFromDestination(record: FlowRecord): boolean {
  return record.destinationPodName !== '' && record.sourcePodName === '';
}

function areRecordsFromSameNode(a: FlowRecord, b: FlowRecord): boolean {
  return (
    (isRecordFromSource(a) && isRecordFromSource(b)) ||
    (isRecordFromDestination(a) && isRecordFromDestination(b))
  );
}

const UINT64 = 1n << 64n;

/**
 * Go's `uint64(a - b) * 8 / uint64(seconds)`: exact integer arithmetic, wrapping modulo 2^64 when a Node's
 * total went down (connection reuse). Numbers are exact below 2^53; BigInt only where it matters.
 */
export function throughputOf(totalNow: number, totalBefore: number, seconds: number): number {
  if (seconds <= 0) return 0;
  const diff = totalNow - totalBefore;
  if (diff >= 0 && diff * 8 <= Number.MAX_SAFE_INTEGER) return Math.floor((diff * 8) / seconds);
  let wrapped = (BigInt(totalNow) - BigInt(totalBefore)) % UINT64;
  if (wrapped < 0n) wrapped += UINT64;
  return Number(((wrapped * 8n) % UINT64) / BigInt(seconds));
}

function copyCounters(record: FlowRecord, reverse: boolean): Counters {
  return reverse
    ? {
        packetTotalCount: record.reversePacketTotalCount,
        packetDeltaCount: record.reversePacketDeltaCount,
        octetTotalCount: record.reverseOctetTotalCount,
        octetDeltaCount: record.reverseOctetDeltaCount,
      }
    : {
        packetTotalCount: record.packetTotalCount,
        packetDeltaCount: record.packetDeltaCount,
        octetTotalCount: record.octetTotalCount,
        octetDeltaCount: record.octetDeltaCount,
      };
}

/** Antrea addOrUpdateRecordInMap for a key not in the map: a new aggregation record (section 2.1). */
export function createEntry(
  flowKey: string,
  incoming: FlowRecord,
  nowMs: number,
  timeouts: AggregationTimeouts,
): AggregationEntry {
  const correlationRequired = isCorrelationRequired(incoming);
  const fillSrc = correlationRequired ? isRecordFromSource(incoming) : true;
  const fillDst = correlationRequired ? !fillSrc : true;
  const seconds = incoming.flowEndSeconds - incoming.flowStartSeconds;
  const throughput = throughputOf(incoming.octetTotalCount, 0, seconds);
  const reverseThroughput = throughputOf(incoming.reverseOctetTotalCount, 0, seconds);
  const readyToSend = !correlationRequired;
  const flow: AggregatedFlow = {
    flowKey,
    record: { ...incoming },
    correlationRequired,
    readyToSend,
    statsFromSourceNode: fillSrc ? copyCounters(incoming, false) : zeroCounters(),
    reverseStatsFromSourceNode: fillSrc ? copyCounters(incoming, true) : zeroCounters(),
    statsFromDestinationNode: fillDst ? copyCounters(incoming, false) : zeroCounters(),
    reverseStatsFromDestinationNode: fillDst ? copyCounters(incoming, true) : zeroCounters(),
    flowEndSecondsFromSourceNode: fillSrc ? incoming.flowEndSeconds : 0,
    flowEndSecondsFromDestinationNode: fillDst ? incoming.flowEndSeconds : 0,
    // QUIRK: the common throughput is set from a single half too.
    throughput,
    reverseThroughput,
    throughputFromSourceNode: fillSrc ? throughput : 0,
    reverseThroughputFromSourceNode: fillSrc ? reverseThroughput : 0,
    throughputFromDestinationNode: fillDst ? throughput : 0,
    reverseThroughputFromDestinationNode: fillDst ? reverseThroughput : 0,
    incomplete: false,
  };
  return {
    flow,
    // v2.7+: a ready record is exported at the next tick; a half waits one active timeout per round.
    activeExpireAtMs: readyToSend ? nowMs : nowMs + timeouts.activeTimeoutMs,
    inactiveExpireAtMs: nowMs + timeouts.inactiveTimeoutMs,
  };
}

/** Antrea correlateRecords: the stored (first-arrived) record is the base; non-default incoming values win. */
export function correlateRecords(incoming: FlowRecord, existing: FlowRecord): void {
  const strings = [
    'sourcePodName',
    'sourcePodNamespace',
    'sourceNodeName',
    'destinationPodName',
    'destinationPodNamespace',
    'destinationNodeName',
    'destinationClusterIP',
    'destinationServiceIP',
    'destinationServicePortName',
    'ingressNetworkPolicyName',
    'ingressNetworkPolicyNamespace',
    'ingressNetworkPolicyRuleName',
    'egressNetworkPolicyName',
    'egressNetworkPolicyNamespace',
    'egressNetworkPolicyRuleName',
    // Filled at the edge by the Pod informer (collector-edge/k8s-metadata), each half for its own Pod:
    // merged like the names, so the row carries both sides as Antrea's fillPodLabels gives them.
    'sourcePodLabels',
    'destinationPodLabels',
  ] as const;
  for (const field of strings) if (incoming[field] !== '') existing[field] = incoming[field];
  const numbers = [
    'destinationServicePort',
    'ingressNetworkPolicyRuleAction',
    'ingressNetworkPolicyType',
    'egressNetworkPolicyRuleAction',
    'egressNetworkPolicyType',
  ] as const;
  for (const field of numbers) if (incoming[field] !== 0) existing[field] = incoming[field];
  if (isSourceNodeFromExternalFlow(incoming)) {
    existing.sourceIP = incoming.sourceIP;
    existing.sourceTransportPort = incoming.sourceTransportPort;
    existing.proxySnatIP = incoming.proxySnatIP;
    existing.proxySnatPort = incoming.proxySnatPort;
    existing.flowType = FlowType.FromExternal;
  }
}

type Side = 'source' | 'destination';

function sideStats(flow: AggregatedFlow, side: Side): [Counters, Counters] {
  return side === 'source'
    ? [flow.statsFromSourceNode, flow.reverseStatsFromSourceNode]
    : [flow.statsFromDestinationNode, flow.reverseStatsFromDestinationNode];
}

/** Antrea aggregateRecords (section 2.2), steps numbered as there. */
export function aggregateRecords(
  incoming: FlowRecord,
  flow: AggregatedFlow,
  fillSrc: boolean,
  fillDst: boolean,
): void {
  const existing = flow.record;
  const sides: Side[] = [];
  if (fillSrc) sides.push('source');
  if (fillDst) sides.push('destination');

  // (1) flowEndSeconds = max
  let isLatest = false;
  const end = incoming.flowEndSeconds;
  if (end >= existing.flowEndSeconds) {
    isLatest = true;
    existing.flowEndSeconds = end;
  }
  // (2) per-Node end time: set unconditionally (QUIRK: can go backwards); the last filled side gives prev.
  let prev = 0;
  for (const side of sides) {
    if (side === 'source') {
      prev =
        flow.flowEndSecondsFromSourceNode !== 0
          ? flow.flowEndSecondsFromSourceNode
          : incoming.flowStartSeconds;
      flow.flowEndSecondsFromSourceNode = end;
    } else {
      prev =
        flow.flowEndSecondsFromDestinationNode !== 0
          ? flow.flowEndSecondsFromDestinationNode
          : incoming.flowStartSeconds;
      flow.flowEndSecondsFromDestinationNode = end;
    }
  }
  // (3) QUIRK: a record not newer than the previous one from its Node changes nothing else.
  if (end <= prev) return;
  const seconds = end - prev;
  // (4) END_OF_FLOW is sticky; any other reason is replaced by the latest accepted record's.
  if (existing.flowEndReason !== FlowEndReason.EndOfFlow) existing.flowEndReason = incoming.flowEndReason;
  // (5)
  if (isLatest) existing.tcpState = incoming.tcpState;
  // (6) totals overwrite, deltas accumulate; the last filled side's total difference is kept.
  let totalDiffFrom: [number, number] = [0, 0];
  let reverseTotalDiffFrom: [number, number] = [0, 0];
  for (const side of sides) {
    const [forward, reverse] = sideStats(flow, side);
    totalDiffFrom = [incoming.octetTotalCount, forward.octetTotalCount];
    reverseTotalDiffFrom = [incoming.reverseOctetTotalCount, reverse.octetTotalCount];
    forward.packetTotalCount = incoming.packetTotalCount;
    forward.octetTotalCount = incoming.octetTotalCount;
    forward.packetDeltaCount += incoming.packetDeltaCount;
    forward.octetDeltaCount += incoming.octetDeltaCount;
    reverse.packetTotalCount = incoming.reversePacketTotalCount;
    reverse.octetTotalCount = incoming.reverseOctetTotalCount;
    reverse.packetDeltaCount += incoming.reversePacketDeltaCount;
    reverse.octetDeltaCount += incoming.reverseOctetDeltaCount;
  }
  // (7) common stats from the side(s) of the latest record: totals = max, deltas = that side's.
  if (isLatest) {
    for (const side of sides) {
      const [forward, reverse] = sideStats(flow, side);
      existing.packetTotalCount = Math.max(existing.packetTotalCount, forward.packetTotalCount);
      existing.octetTotalCount = Math.max(existing.octetTotalCount, forward.octetTotalCount);
      existing.packetDeltaCount = forward.packetDeltaCount;
      existing.octetDeltaCount = forward.octetDeltaCount;
      existing.reversePacketTotalCount = Math.max(existing.reversePacketTotalCount, reverse.packetTotalCount);
      existing.reverseOctetTotalCount = Math.max(existing.reverseOctetTotalCount, reverse.octetTotalCount);
      existing.reversePacketDeltaCount = reverse.packetDeltaCount;
      existing.reverseOctetDeltaCount = reverse.octetDeltaCount;
    }
  }
  // (8) bits per second, uint64 integer division
  const throughput = throughputOf(totalDiffFrom[0], totalDiffFrom[1], seconds);
  const reverseThroughput = throughputOf(reverseTotalDiffFrom[0], reverseTotalDiffFrom[1], seconds);
  if (fillSrc) {
    flow.throughputFromSourceNode = throughput;
    flow.reverseThroughputFromSourceNode = reverseThroughput;
  }
  if (fillDst) {
    flow.throughputFromDestinationNode = throughput;
    flow.reverseThroughputFromDestinationNode = reverseThroughput;
  }
  if (isLatest) {
    flow.throughput = throughput;
    flow.reverseThroughput = reverseThroughput;
  }
}

/** Antrea addOrUpdateRecordInMap for a key already in the map (section 1.4 step 3). Mutates `entry`. */
export function updateEntry(
  entry: AggregationEntry,
  incoming: FlowRecord,
  nowMs: number,
  timeouts: AggregationTimeouts,
): void {
  const flow = entry.flow;
  let becameReady = false;
  if (isCorrelationRequired(incoming)) {
    if (!flow.readyToSend && !areRecordsFromSameNode(incoming, flow.record)) {
      correlateRecords(incoming, flow.record);
      flow.readyToSend = true;
      becameReady = true;
    }
    const fillSrc = isRecordFromSource(incoming);
    aggregateRecords(incoming, flow, fillSrc, !fillSrc);
  } else {
    aggregateRecords(incoming, flow, true, true);
  }
  entry.inactiveExpireAtMs = nowMs + timeouts.inactiveTimeoutMs;
  if (becameReady) entry.activeExpireAtMs = nowMs;
}
