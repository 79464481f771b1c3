// Names shared by the functions (which emit them through Powertools Metrics, i.e. CloudWatch EMF) and the
// alarms and dashboard in lib/monitoring.ts. No CDK imports, so Lambda code can import this module.

/** POWERTOOLS_METRICS_NAMESPACE of every Flowline function. */
export const METRICS_NAMESPACE = 'Flowline';

/** POWERTOOLS_SERVICE_NAME per function; Powertools adds it as the `service` dimension of every metric. */
export const CORRELATOR_SERVICE_NAME = 'flowline-correlator';
export const FLUSHER_SERVICE_NAME = 'flowline-flusher';

/**
 * Emitted by the flusher on every commit cycle, in seconds: now minus the due time of the oldest flow
 * that is due for export and not yet exported (0 when nothing is overdue). Dimension: service.
 */
export const EXPORT_LAG_METRIC = 'ExportLagSeconds';

/**
 * Emitted by the flusher every round: rows left out of their insert because a value does not fit its
 * ClickHouse column (logged in full with the reason). Dimension: service.
 */
export const REJECTED_ROWS_METRIC = 'RejectedRows';

/**
 * Emitted by the correlator per batch: records of an earlier connection on a reused 5-tuple that arrived
 * after the newer connection's first record from the same Node; their counts not yet counted are dropped
 * (docs/exactly-once.md). Dimension: service.
 */
export const STALE_CONNECTION_RECORDS_METRIC = 'StaleConnectionRecords';
