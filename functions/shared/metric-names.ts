// Names shared by the functions (which emit them through Powertools Metrics, i.e. CloudWatch EMF) and the
// alarms and dashboard of the CDK app (lib/monitoring.ts). This folder holds the contracts between the
// Lambda code and the CDK app; it imports nothing, so both sides can depend on it and neither on the other.

/** POWERTOOLS_METRICS_NAMESPACE of every Flowline function. */
export const METRICS_NAMESPACE = 'Flowline';

/** POWERTOOLS_SERVICE_NAME per function; Powertools adds it as the `service` dimension of every metric. */
export const CORRELATOR_SERVICE_NAME = 'flowline-correlator';
export const EXPORTER_SERVICE_NAME = 'flowline-exporter';
export const TICKER_SERVICE_NAME = 'flowline-ticker';

/**
 * Emitted by the ticker every round, in seconds: now minus the due-index key of the oldest flow
 * that is due for export and not yet exported (0 when nothing is overdue). Dimension: service.
 */
export const EXPORT_LAG_METRIC = 'ExportLagSeconds';

/**
 * Emitted by the exporter every batch: rows left out of their insert because a value does not fit its
 * ClickHouse column (logged in full with the reason). Dimension: service.
 */
export const REJECTED_ROWS_METRIC = 'RejectedRows';

/**
 * Emitted by the exporter: stream batches that failed (mostly an insert or its replay ClickHouse did not
 * acknowledge). The exporter never pings ClickHouse, so this is its health signal; the rows wait in the
 * table's stream and the batch is delivered again.
 */
export const INSERT_FAILURES_METRIC = 'InsertFailures';

/**
 * Emitted by the correlator per batch: records of an earlier connection on a reused 5-tuple that arrived
 * after the newer connection's first record from the same Node; their counts not yet counted are dropped
 * (docs/exactly-once.md). Dimension: service.
 */
export const STALE_CONNECTION_RECORDS_METRIC = 'StaleConnectionRecords';

/**
 * Emitted by the exporter for each extra sink (dimension `sink`: "ipfix" or "archive", plus service) every
 * round: rows delivered, failed delivery attempts (each retried), rows dropped because the sink's backlog
 * in the durable outbox was over its bound (ClickHouse still has them), rows waiting in the outbox for
 * the sink, and the age in seconds of the oldest batch the sink is failing to take (0 when none).
 */
export const SINK_ROWS_SENT_METRIC = 'SinkRowsSent';
export const SINK_RETRIES_METRIC = 'SinkRetries';
export const SINK_ROWS_DROPPED_METRIC = 'SinkRowsDropped';
export const SINK_QUEUED_ROWS_METRIC = 'SinkQueuedRows';
export const SINK_BACKLOG_AGE_METRIC = 'SinkBacklogAge';

/**
 * Counters the correlator emits per invocation (functions/correlator/make-handler.ts) that the dashboard
 * shows. A test checks the handler emits each of them, so a rename cannot leave an empty graph.
 */
export const CORRELATOR_METRICS = {
  flowRecords: 'FlowRecords',
  /** Kinesis records that do not decode: reported as batch item failures, then to the on-failure queue. */
  poisonRecords: 'PoisonRecords',
  writeConflicts: 'WriteConflicts',
  failedFlowKeys: 'FailedFlowKeys',
  consumedWriteUnits: 'ConsumedWriteUnits',
  writeUnitsPerFlowRecord: 'WriteUnitsPerFlowRecord',
} as const;

/** Counters the exporter emits per stream batch (functions/exporter/make-handler.ts). */
export const EXPORTER_METRICS = {
  rowsInserted: 'RowsInserted',
  replayedRows: 'ReplayedRows',
  incompleteRows: 'IncompleteRows',
  insertFailures: INSERT_FAILURES_METRIC,
  rejectedRows: REJECTED_ROWS_METRIC,
} as const;

/** Counters the ticker emits per round (functions/ticker/make-handler.ts). */
export const TICKER_METRICS = {
  flowsDue: 'FlowsDue',
  rowsClosed: 'RowsClosed',
  closedFlows: 'ClosedFlows',
  conflicts: 'TickConflicts',
  failedRounds: 'FailedRounds',
  exportLag: EXPORT_LAG_METRIC,
} as const;
