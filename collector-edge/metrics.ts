// The collector's Prometheus metrics (prom-client). One registry per collector instance, so tests and the
// benchmark can run several collectors in one process. The receive path adds to plain numbers (InputTally)
// that reach their counters when the registry is read; other hot paths use pre-labelled children and add
// per message / per batch, never per record.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The delivery queue's figures the gauges show (delivery-queue.ts). */
export interface QueueGaugeSource {
  readonly unwrittenBytes: number;
  readonly size: number;
  readonly memoryInUse: number;
  readonly spoolBytes: number;
  readonly spoolSegments: number;
}

export type Transport = 'udp' | 'tcp' | 'tls';

/**
 * Input counts per transport that the receive path adds to as plain numbers (a prom-client inc() hashes its
 * labels on every call); added to their counters whenever the registry is read (scrape, total()).
 */
export class InputTally {
  messages = 0;
  records = 0;
  bytes = 0;
}

const TRANSPORTS: readonly Transport[] = ['udp', 'tcp', 'tls'];

export class CollectorMetrics {
  readonly registry = new Registry();

  /** What the receive path counts per transport (messages, records, bytes below). */
  readonly input: Readonly<Record<Transport, InputTally>> = {
    udp: new InputTally(),
    tcp: new InputTally(),
    tls: new InputTally(),
  };
  readonly messages: Counter<'transport'> = new Counter({
    name: 'flowline_collector_ipfix_messages_total',
    help: 'IPFIX messages received, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
    collect: (): void => this.flushInput(this.messages, 'messages'),
  });
  readonly records: Counter<'transport'> = new Counter({
    name: 'flowline_collector_flow_records_total',
    help: 'IPFIX data records accepted (normalised and queued), by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
    collect: (): void => this.flushInput(this.records, 'records'),
  });
  readonly bytes: Counter<'transport'> = new Counter({
    name: 'flowline_collector_received_bytes_total',
    help: 'Bytes received from exporters, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
    collect: (): void => this.flushInput(this.bytes, 'bytes'),
  });

  private flushInput(counter: Counter<'transport'>, field: keyof InputTally): void {
    for (const transport of TRANSPORTS) {
      const tally = this.input[transport];
      if (tally[field] === 0) continue;
      counter.labels(transport).inc(tally[field]);
      tally[field] = 0;
    }
  }
  readonly decodeErrors = new Counter({
    name: 'flowline_collector_decode_errors_total',
    help: 'IPFIX input that could not be decoded, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly templates = new Counter({
    name: 'flowline_collector_templates_total',
    help: 'Template records received (definitions and withdrawals)',
    registers: [this.registry],
  });
  readonly templatesActive = new Gauge({
    name: 'flowline_collector_templates_active',
    help: 'Templates currently known across all sessions',
    registers: [this.registry],
  });
  readonly sequenceGaps = new Counter({
    name: 'flowline_collector_sequence_gaps_total',
    help: 'Messages whose sequence number was not the expected one (lost or reordered data records)',
    registers: [this.registry],
  });
  readonly sessions = new Gauge({
    name: 'flowline_collector_sessions',
    help: 'Open IPFIX transport sessions, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly connections = new Counter({
    name: 'flowline_collector_connections_total',
    help: 'TCP/TLS connections accepted or refused, by transport and outcome',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly drops = new Counter({
    name: 'flowline_collector_dropped_total',
    help: 'Input dropped before it was accepted, by reason (unit: records, or datagrams for udp-backpressure and udp-kernel-buffer)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly limitTrips = new Counter({
    name: 'flowline_collector_limit_trips_total',
    help:
      'Hostile-input limits that tripped, by limit (template-count, template-bytes, template-compile-rate, ' +
      'templates-per-session, udp-sessions, connections, connections-per-source, connection-idle, ' +
      'partial-message-age)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly rejectedRecords = new Counter({
    name: 'flowline_collector_rejected_records_total',
    help: 'Decoded data records rejected because they cannot form a flow key, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly templateBytes = new Gauge({
    name: 'flowline_collector_template_bytes',
    help: 'Estimated memory of the templates kept across all sessions (bounded by FLOWLINE_MAX_TEMPLATE_BYTES)',
    registers: [this.registry],
  });
  readonly deliveryStalled = new Gauge({
    name: 'flowline_kinesis_delivery_stalled',
    help: '1 while records have waited longer than FLOWLINE_DELIVERY_STALL_MS without any Kinesis delivery',
    registers: [this.registry],
  });
  readonly secondsSinceDelivery = new Gauge({
    name: 'flowline_kinesis_seconds_since_delivery',
    help: 'Seconds since Kinesis last acknowledged a record while records wait (0 when nothing waits)',
    registers: [this.registry],
  });
  readonly batchesSealed = new Counter({
    name: 'flowline_collector_kinesis_records_sealed_total',
    help: 'Kinesis records (packed wire batches) sealed and written to the spool',
    registers: [this.registry],
  });
  readonly putLatency = new Histogram({
    name: 'flowline_kinesis_put_records_duration_seconds',
    help: 'PutRecords request latency, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly putRequests = new Counter({
    name: 'flowline_kinesis_put_records_requests_total',
    help: 'PutRecords requests, by outcome (ok, partial, error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly throttles = new Counter({
    name: 'flowline_kinesis_throttles_total',
    help: 'Kinesis records or requests refused with ProvisionedThroughputExceeded / throttling',
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'flowline_kinesis_retried_records_total',
    help: 'Kinesis records sent again after a failed entry or a failed request, by error',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'flowline_kinesis_delivered_records_total',
    help: 'Kinesis records acknowledged by Kinesis',
    registers: [this.registry],
  });
  readonly deliveredFlowRecords = new Counter({
    name: 'flowline_kinesis_delivered_flow_records_total',
    help: 'Flow records inside acknowledged Kinesis records',
    registers: [this.registry],
  });
  readonly deliveredBytes = new Counter({
    name: 'flowline_kinesis_delivered_bytes_total',
    help: 'Payload bytes (data + partition key) acknowledged by Kinesis',
    registers: [this.registry],
  });
  readonly putPayloadUnits = new Counter({
    name: 'flowline_kinesis_put_payload_units_total',
    help: 'PUT payload units (25 KB chunks) of acknowledged Kinesis records',
    registers: [this.registry],
  });
  /** Read when scraped (see observeOpenFlowRecords), so the hot path never updates it. */
  private openFlowRecordsSource: () => number = () => 0;
  readonly openFlowRecords: Gauge = new Gauge({
    name: 'flowline_packer_open_flow_records',
    help: 'Flow records not yet written to the spool (batches still filling, or sealed and waiting for the spool writer): what a crash would lose',
    registers: [this.registry],
    collect: (): void => this.openFlowRecords.set(this.openFlowRecordsSource()),
  });
  /** Read when scraped (see observeQueue): a gauge set by a timer is up to a period stale. */
  private queueSource: QueueGaugeSource = {
    unwrittenBytes: 0,
    size: 0,
    memoryInUse: 0,
    spoolBytes: 0,
    spoolSegments: 0,
  };
  readonly spoolUnwrittenBytes: Gauge = new Gauge({
    name: 'flowline_spool_unwritten_bytes',
    help: 'Sealed batches waiting for the spool writer, in bytes (grows while the disk is slower than the input)',
    registers: [this.registry],
    collect: (): void => this.spoolUnwrittenBytes.set(this.queueSource.unwrittenBytes),
  });
  readonly queueEntries: Gauge = new Gauge({
    name: 'flowline_queue_entries',
    help: 'Kinesis records waiting for acknowledgement',
    registers: [this.registry],
    collect: (): void => this.queueEntries.set(this.queueSource.size),
  });
  readonly queueMemoryBytes: Gauge = new Gauge({
    name: 'flowline_queue_memory_bytes',
    help: 'Payload bytes of waiting Kinesis records held in memory',
    registers: [this.registry],
    collect: (): void => this.queueMemoryBytes.set(this.queueSource.memoryInUse),
  });
  readonly spoolBytes: Gauge = new Gauge({
    name: 'flowline_spool_bytes',
    help: 'Bytes of spool segment files on disk',
    registers: [this.registry],
    collect: (): void => this.spoolBytes.set(this.queueSource.spoolBytes),
  });
  readonly spoolSegments: Gauge = new Gauge({
    name: 'flowline_spool_segments',
    help: 'Spool segment files on disk',
    registers: [this.registry],
    collect: (): void => this.spoolSegments.set(this.queueSource.spoolSegments),
  });
  readonly spoolRecovered = new Counter({
    name: 'flowline_spool_recovered_records_total',
    help: 'Unacknowledged Kinesis records found in the spool at startup',
    registers: [this.registry],
  });
  readonly spoolCorrupt = new Counter({
    name: 'flowline_spool_corrupt_entries_total',
    help: 'Spool entries that failed their CRC or were torn by a crash (the segment is cut there)',
    registers: [this.registry],
  });
  readonly backpressure = new Gauge({
    name: 'flowline_backpressure_active',
    help: '1 while the spool is over its limit (TCP/TLS paused, UDP dropped)',
    registers: [this.registry],
  });
  readonly shards = new Gauge({
    name: 'flowline_kinesis_open_shards',
    help: 'Open shards in the current shard map',
    registers: [this.registry],
  });
  readonly shardMapRefreshes = new Counter({
    name: 'flowline_kinesis_shard_map_refreshes_total',
    help: 'ListShards refreshes, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the open-flow-records gauge reads its value when scraped: always current, never stale. */
  observeOpenFlowRecords(read: () => number): void {
    this.openFlowRecordsSource = read;
  }

  /** Where the queue and spool gauges read their values when scraped. */
  observeQueue(source: QueueGaugeSource): void {
    this.queueSource = source;
  }

  /** Sum of one metric (all label sets), for tests and the benchmark. */

  async total(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const data = await metric.get();
    return data.values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
      .filter((v) => !('metricName' in v) || v.metricName === name || v.metricName === `${name}_count`)
      .reduce((sum, v) => sum + v.value, 0);
  }
}
