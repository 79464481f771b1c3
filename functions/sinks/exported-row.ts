// What the exporter hands to its extra sinks for each exported batch: the ClickHouse row plus the values
// Antrea's IPFIX exporter carries and the `flows` table does not (per-Node counters, the proxy SNAT
// address), and the batch's ClickHouse deduplication token. Pure.
import type { AggregatedFlow, Counters } from '../../core/aggregated-flow.ts';
import type { FlowRow } from '../exporter/rows.ts';

/** Antrea's aggregation IEs 120-135 (per-Node totals and deltas), named as in its registry. */
export const PER_NODE_COUNTER_COLUMNS = [
  'packetTotalCountFromSourceNode',
  'octetTotalCountFromSourceNode',
  'packetDeltaCountFromSourceNode',
  'octetDeltaCountFromSourceNode',
  'reversePacketTotalCountFromSourceNode',
  'reverseOctetTotalCountFromSourceNode',
  'reversePacketDeltaCountFromSourceNode',
  'reverseOctetDeltaCountFromSourceNode',
  'packetTotalCountFromDestinationNode',
  'octetTotalCountFromDestinationNode',
  'packetDeltaCountFromDestinationNode',
  'octetDeltaCountFromDestinationNode',
  'reversePacketTotalCountFromDestinationNode',
  'reverseOctetTotalCountFromDestinationNode',
  'reversePacketDeltaCountFromDestinationNode',
  'reverseOctetDeltaCountFromDestinationNode',
] as const;

export type PerNodeCounterColumn = (typeof PER_NODE_COUNTER_COLUMNS)[number];

/** Columns beyond the ClickHouse row: per-Node counters and the proxy SNAT address / port. */
export type SinkOnlyColumns = Record<PerNodeCounterColumn, number> & {
  proxySnatIP: string;
  proxySnatPort: number;
};

export type ExportedRow = FlowRow & SinkOnlyColumns;

/** Sink columns of a row whose flow is unknown (a manifest written before the sinks were enabled). */
export const NO_SINK_COLUMNS: SinkOnlyColumns = {
  ...(Object.fromEntries(PER_NODE_COUNTER_COLUMNS.map((c) => [c, 0])) as Record<
    PerNodeCounterColumn,
    number
  >),
  proxySnatIP: '',
  proxySnatPort: 0,
};

/** The row's exportedAt ("YYYY-MM-DD hh:mm:ss.sss", UTC) as epoch ms. */
export function exportedAtMs(row: Pick<ExportedRow, 'exportedAt'>): number {
  return utcTextMs(String(row.exportedAt));
}

/** "YYYY-MM-DD hh:mm:ss.sss" (UTC) -> epoch ms. */
export function utcTextMs(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

/** One batch as the exporter exported it: the rows and the token its ClickHouse insert carries. */
export interface ExportedBatch {
  /** batchToken() of the rows: the insert_deduplication_token; the archive's object name. */
  token: string;
  rows: ExportedRow[];
}

function countersOf(prefix: '' | 'reverse', side: 'Source' | 'Destination', counters: Counters) {
  const name = (metric: string) => {
    const base = prefix === '' ? metric : `reverse${metric[0]!.toUpperCase()}${metric.slice(1)}`;
    return `${base}From${side}Node` as PerNodeCounterColumn;
  };
  return {
    [name('packetTotalCount')]: counters.packetTotalCount,
    [name('octetTotalCount')]: counters.octetTotalCount,
    [name('packetDeltaCount')]: counters.packetDeltaCount,
    [name('octetDeltaCount')]: counters.octetDeltaCount,
  };
}

/** The values the sinks carry beyond the ClickHouse row, read from the aggregated flow it was built from. */
export function sinkOnlyColumnsOf(flow: AggregatedFlow): SinkOnlyColumns {
  return {
    ...(countersOf('', 'Source', flow.statsFromSourceNode) as Record<PerNodeCounterColumn, number>),
    ...countersOf('reverse', 'Source', flow.reverseStatsFromSourceNode),
    ...countersOf('', 'Destination', flow.statsFromDestinationNode),
    ...countersOf('reverse', 'Destination', flow.reverseStatsFromDestinationNode),
    proxySnatIP: flow.record.proxySnatIP,
    proxySnatPort: flow.record.proxySnatPort,
  };
}

/** The row's sink-only values, read from the aggregated flow the row was built from. */
export function exportedRowOf(flow: AggregatedFlow, row: FlowRow): ExportedRow {
  return { ...row, ...sinkOnlyColumnsOf(flow) };
}
