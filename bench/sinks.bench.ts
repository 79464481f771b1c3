// The exporter's extra sinks, per exported row, on the deterministic export workload (10,000 rows):
//  - bytes on the wire / in S3 per row: IPFIX (Antrea's aggregated template), go-ipfix JSON lines, the
//    Parquet archive (SNAPPY), the flow log as CloudWatch Logs bills its ingestion (the line and 26 bytes
//    per event), the sinks' durable outbox in DynamoDB, against the gzip'd JSON-lines
//    encoding of the same rows without their sink columns (exporter/batch.ts, the outbox's own format);
//  - CPU per row to encode each, against JSON.stringify of the rows (the cheapest encoding there is).
// Bytes do not move with the machine's speed; the CPU figures are medians of 3 warm passes.
import { encodeManifestRows, type PendingRow } from '../functions/exporter/batch.ts';
import { buildFlowRow } from '../functions/exporter/rows.ts';
import {
  AggregatedRecordEncoder,
  jsonRecordLine,
  observationDomainIdOf,
} from '../functions/sinks/antrea-ipfix.ts';
import { type ExportedRow, exportedRowOf, sinkOnlyColumnsOf } from '../functions/sinks/exported-row.ts';
import { flowLogLine } from '../functions/sinks/flow-log.ts';
import { PUT_LOG_EVENTS_LIMITS } from '../functions/sinks/flow-log-targets.ts';
import { encodeParquet } from '../functions/sinks/parquet-archive.ts';
import { CLUSTER_UUID, workloadFlows } from '../workloads/exported-flows.ts';
import { median } from './stats.ts';
import type { BenchModule, BenchRow } from './types.ts';

const ROWS = 10_000;

async function cpuMicrosPerRow(rows: number, encode: () => unknown): Promise<number> {
  const passes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const before = process.cpuUsage();
    await encode();
    const used = process.cpuUsage(before);
    if (i > 0) passes.push((used.user + used.system) / rows); // the first pass warms up
  }
  return median(passes);
}

export const sinksBench: BenchModule = {
  async run() {
    const exportedAtMs = 1_800_000_000_000;
    const flows = workloadFlows(ROWS, 19, 1_800_000_000 - 600);
    const rows: ExportedRow[] = flows.map((flow, i) =>
      exportedRowOf(
        flow,
        buildFlowRow(flow, { clusterUUID: CLUSTER_UUID, exportSeq: 1 + (i % 3), exportedAtMs }),
      ),
    );
    const encoder = () =>
      new AggregatedRecordEncoder(observationDomainIdOf(CLUSTER_UUID), CLUSTER_UUID, 65535);
    const ipfix = encoder().dataMessages(rows, 1_800_000_000);
    const ipfixBytes = ipfix.reduce((n, m) => n + m.length, 0);
    const jsonBytes = rows.reduce(
      (n, r) => n + Buffer.byteLength(jsonRecordLine(r, CLUSTER_UUID, exportedAtMs)),
      0,
    );
    const parquetBytes = (await encodeParquet(rows)).length;
    const flowLogBytes = rows.reduce(
      (n, r) => n + Buffer.byteLength(flowLogLine(r, true)) + PUT_LOG_EVENTS_LIMITS.perEventOverhead,
      0,
    );
    const pending: PendingRow[] = rows.map((row) => ({ token: `${row.flowKey}#${row.exportSeq}`, row }));
    const manifestBytes = encodeManifestRows(pending, Number.MAX_SAFE_INTEGER).reduce(
      (n, c) => n + c.length,
      0,
    );
    // The durable outbox stores each batch like a manifest, plus the sink columns of every row.
    const outboxBytes = encodeManifestRows(
      pending.map((p, i) => ({ ...p, sinkColumns: sinkOnlyColumnsOf(flows[i]!) })),
      Number.MAX_SAFE_INTEGER,
    ).reduce((n, c) => n + c.length, 0);
    const stringifyCpu = await cpuMicrosPerRow(ROWS, () => rows.map((r) => JSON.stringify(r)));
    const row = (
      name: string,
      value: number,
      unit: string,
      baselineName: string,
      baseline: number,
    ): BenchRow => ({
      group: 'sinks',
      name,
      value,
      unit,
      baselineName,
      baseline,
      better: 'lower',
    });
    const manifest = 'rows as gzip JSON lines, no sink columns';
    const stringify = 'JSON.stringify of the row';
    return [
      row(
        'IPFIX bytes per row (template 256/257)',
        ipfixBytes / ROWS,
        'B/row',
        manifest,
        manifestBytes / ROWS,
      ),
      row(
        'JSON record bytes per row (go-ipfix lines)',
        jsonBytes / ROWS,
        'B/row',
        manifest,
        manifestBytes / ROWS,
      ),
      row(
        'Parquet archive bytes per row (SNAPPY)',
        parquetBytes / ROWS,
        'B/row',
        manifest,
        manifestBytes / ROWS,
      ),
      row(
        'flow log bytes per row (CloudWatch Logs ingestion: line + 26 B)',
        flowLogBytes / ROWS,
        'B/row',
        manifest,
        manifestBytes / ROWS,
      ),
      row(
        'sink outbox bytes per row (DynamoDB, gzip JSON)',
        outboxBytes / ROWS,
        'B/row',
        manifest,
        manifestBytes / ROWS,
      ),
      row(
        'IPFIX encode CPU per row',
        await cpuMicrosPerRow(ROWS, () => encoder().dataMessages(rows, 1_800_000_000)),
        'us/row',
        stringify,
        stringifyCpu,
      ),
      row(
        'JSON record encode CPU per row',
        await cpuMicrosPerRow(ROWS, () => rows.map((r) => jsonRecordLine(r, CLUSTER_UUID, exportedAtMs))),
        'us/row',
        stringify,
        stringifyCpu,
      ),
      row(
        'flow log line CPU per row (prettyPrint)',
        await cpuMicrosPerRow(ROWS, () => rows.map((r) => flowLogLine(r, true))),
        'us/row',
        stringify,
        stringifyCpu,
      ),
      row(
        'Parquet encode CPU per row',
        await cpuMicrosPerRow(ROWS, () => encodeParquet(rows)),
        'us/row',
        stringify,
        stringifyCpu,
      ),
    ];
  },
};
