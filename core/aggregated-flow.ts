// The aggregated flow: what Antrea's Flow Aggregator keeps per flow key (its aggregation record), as the
// correlator stores it in DynamoDB and the exporter turns it into a ClickHouse row. Pure data.
import type { FlowRecord } from './flow-record.ts';

/** Counters of one direction. */
export interface Counters {
  packetTotalCount: number;
  packetDeltaCount: number;
  octetTotalCount: number;
  octetDeltaCount: number;
}

export function zeroCounters(): Counters {
  return { packetTotalCount: 0, packetDeltaCount: 0, octetTotalCount: 0, octetDeltaCount: 0 };
}

export interface AggregatedFlow {
  flowKey: string;
  /**
   * The merged record: the first-arrived record as base, K8s fields copied in by correlation, and
   * flowEndSeconds / flowEndReason / tcpState / common counters updated by aggregation (Antrea semantics,
   * antrea pkg/flowaggregator/intermediate/aggregate.go correlateRecords and aggregateRecords).
   */
  record: FlowRecord;
  correlationRequired: boolean;
  /** Both halves seen, or correlation not required. */
  readyToSend: boolean;

  statsFromSourceNode: Counters;
  reverseStatsFromSourceNode: Counters;
  statsFromDestinationNode: Counters;
  reverseStatsFromDestinationNode: Counters;
  flowEndSecondsFromSourceNode: number;
  flowEndSecondsFromDestinationNode: number;

  /** Bits per second, from the last accepted record; zeroed after each export. */
  throughput: number;
  reverseThroughput: number;
  throughputFromSourceNode: number;
  reverseThroughputFromSourceNode: number;
  throughputFromDestinationNode: number;
  reverseThroughputFromDestinationNode: number;

  /** Exported although the peer half never arrived (Antrea would have deleted it silently). */
  incomplete: boolean;
}
