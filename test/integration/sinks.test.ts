// The exporter's extra sinks against real receivers and the real engines (DynamoDB Local, ClickHouse via
// chDB): IPFIX over TCP to a loopback receiver, decoded by Flowline's decoder and by Debian's tshark, each
// record equal to its ClickHouse row; the JSON record format field by field; the Parquet archive in a
// real S3 implementation (s3rver), read back equal to ClickHouse, one object per batch when a batch is
// delivered again; a sink killed mid-run: ClickHouse rows still exactly once, the sink catches up after,
// its counters show the retries.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ClickHouseClient } from '@clickhouse/client';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANTREA_INSERT_COLUMNS } from '../../clickhouse/columns.ts';
import {
  createIpfixDecoder,
  encodeValue,
  field,
  type IpfixRecord,
  IpfixStreamFramer,
} from '../../collector-edge/ipfix/index.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../core/flow-record.ts';
import { correlatorSettingsOf } from '../../functions/correlator/config.ts';
import type { PendingRow } from '../../functions/exporter/batch.ts';
import { ClickHouseRowSink, type RowSink } from '../../functions/exporter/clickhouse-sink.ts';
import { StreamExporter } from '../../functions/exporter/export-batch.ts';
import { DynamoIntentStore } from '../../functions/exporter/intent-store.ts';
import { changeRecordsOf } from '../../functions/exporter/stream-event.ts';
import type { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import { defaultScheduleConfig } from '../../functions/flow-store/index.ts';
import { DynamoSinkOutboxStore } from '../../functions/flow-store/sink-outbox.ts';
import { aggregatedTemplateNames, TEMPLATE_ID_IPV6 } from '../../functions/sinks/antrea-ipfix.ts';
import type { SinksConfig } from '../../functions/sinks/config.ts';
import type { IpfixExporter } from '../../functions/sinks/ipfix-exporter.ts';
import { DELIVERY_LEASE_MS } from '../../functions/sinks/outbox.ts';
import { ARCHIVE_COLUMNS, decodeParquet } from '../../functions/sinks/parquet-archive.ts';
import { createExtraSinks, type ExtraSinks } from '../../functions/sinks/sinks.ts';
import { Ticker } from '../../functions/ticker/ticker.ts';
import { TableStream } from '../../local/esm/table-stream.ts';
import { ANTREA_AGGREGATED_TEMPLATE_V4 } from '../fixtures/antrea-aggregated-template.ts';
import { useEngines } from '../support/engines.ts';
import { correlateAt, newPipelineStores } from '../support/pipeline-stores.ts';
import { asArray, ensureIpfixTools, tsharkRecords } from '../support/tshark.ts';
import { type PacketSpec, pcapFile, TcpFlags, tcpFrame } from '../unit/ipfix/pcap-writer.ts';

const engines = useEngines({ kinesis: false });
const SCHEDULE = defaultScheduleConfig();
const CLUSTER_UUID = '4f2c1b0e-8a4d-4d8e-9f6a-2b1c3d4e5f60';
const T0 = 1_800_000_000_000;
const BUCKET = 'flowline-archive';

type ChRow = Record<string, string | number>;

/** A loopback IPFIX collector: keeps the bytes of each TCP connection; can be killed and restarted. */
class TcpReceiver {
  port = 0;
  readonly connections: Array<{ clientPort: number; chunks: Buffer[] }> = [];
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  async start(): Promise<void> {
    const server = net.createServer((socket) => {
      const connection = { clientPort: socket.remotePort ?? 0, chunks: [] as Buffer[] };
      this.connections.push(connection);
      this.sockets.add(socket);
      socket.on('data', (chunk) => connection.chunks.push(chunk));
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** The collector goes away: its connections are closed and nothing listens on the port. */
  async kill(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  bytes(): number {
    return this.connections.reduce((n, c) => n + c.chunks.reduce((m, b) => m + b.length, 0), 0);
  }
}

/** Every data record the receiver got, through Flowline's framer and decoder (a session per connection). */
function decodeReceived(
  receiver: TcpReceiver,
): Array<{ templateId: number; domain: number; record: IpfixRecord }> {
  const decoder = createIpfixDecoder();
  const out: Array<{ templateId: number; domain: number; record: IpfixRecord }> = [];
  for (const [i, connection] of receiver.connections.entries()) {
    const framer = new IpfixStreamFramer();
    const framed = framer.push(Buffer.concat(connection.chunks));
    expect(framed.errors).toEqual([]);
    const session = { id: `tcp|${i}`, exporterAddress: '127.0.0.1', transport: 'tcp' as const };
    for (const message of framed.messages) {
      const result = decoder.decodeMessage(message.bytes, session);
      expect(result.errors).toEqual([]);
      for (const set of result.dataSets) {
        for (const record of set.records) {
          out.push({ templateId: set.templateId, domain: set.observationDomainId, record });
        }
      }
    }
  }
  return out;
}

/** The receiver's TCP streams as a pcap: handshake, the bytes in 1,400-byte segments, FIN. */
function capture(receiver: TcpReceiver): Uint8Array {
  const packets: PacketSpec[] = [];
  let t = T0;
  const frame = (frame: Uint8Array) => {
    t += 1;
    packets.push({ timestampMs: t, frame });
  };
  for (const { clientPort, chunks } of receiver.connections) {
    const [c, s] = ['127.0.0.1', '127.0.0.1'];
    const data = Buffer.concat(chunks);
    frame(tcpFrame(c, clientPort, s, receiver.port, 0, 0, TcpFlags.SYN));
    frame(tcpFrame(s, receiver.port, c, clientPort, 0, 1, TcpFlags.SYN | TcpFlags.ACK));
    frame(tcpFrame(c, clientPort, s, receiver.port, 1, 1, TcpFlags.ACK));
    for (let o = 0; o < data.length; o += 1400) {
      const segment = data.subarray(o, Math.min(data.length, o + 1400));
      frame(tcpFrame(c, clientPort, s, receiver.port, 1 + o, 1, TcpFlags.ACK | TcpFlags.PSH, segment));
    }
    frame(tcpFrame(c, clientPort, s, receiver.port, 1 + data.length, 1, TcpFlags.FIN | TcpFlags.ACK));
  }
  return pcapFile(packets);
}

/** Inter-Node flows, IPv4 and IPv6, both halves reported (so per-Node counters and throughputs are set). */
function interNodeHalves(count: number, first: number, seed: number): FlowRecord[] {
  const records: FlowRecord[] = [];
  for (let n = first; n < first + count; n++) {
    const v6 = n % 3 === 0;
    const base: FlowRecord = {
      ...emptyFlowRecord(),
      sourceIP: v6 ? `fd00:10:5::${(n + 1).toString(16)}` : `10.5.${n >> 8}.${n & 255}`,
      destinationIP: v6 ? `fd00:10:6::${(n + 1).toString(16)}` : `10.6.${n >> 8}.${n & 255}`,
      sourceTransportPort: 40000 + n,
      destinationTransportPort: 443,
      protocolIdentifier: 6,
      flowStartSeconds: 1_799_999_000,
      flowEndSeconds: 1_799_999_990 + seed,
      flowEndReason: 2,
      tcpState: 'ESTABLISHED',
      flowType: FlowType.InterNode,
      packetTotalCount: 10 * seed + n,
      packetDeltaCount: 10,
      octetTotalCount: 1500 * seed + n,
      octetDeltaCount: 1500,
      reversePacketTotalCount: 7 * seed,
      reversePacketDeltaCount: 7,
      reverseOctetTotalCount: 900 * seed,
      reverseOctetDeltaCount: 900,
      sourcePodName: `client-${n}`,
      sourcePodNamespace: 'shop',
      sourceNodeName: 'node-a',
      destinationPodName: `server-<${n}>`,
      destinationPodNamespace: 'shop',
      destinationNodeName: 'node-b',
      destinationClusterIP: n % 2 === 0 ? (v6 ? 'fd00:96::a' : '10.96.0.10') : '',
      destinationServicePort: n % 2 === 0 ? 443 : 0,
      destinationServicePortName: n % 2 === 0 ? 'shop/server:https' : '',
      egressNetworkPolicyName: n % 4 === 1 ? 'allow-shop' : '',
      egressNetworkPolicyRuleAction: n % 4 === 1 ? 1 : 0,
      exportTime: 1_799_999_990 + seed,
      sequenceNumber: seed,
      receivedAtMs: 0,
    };
    records.push({ ...base, destinationPodName: '', exporterAddress: '192.168.0.1' });
    records.push({ ...base, sourcePodName: '', sourcePodNamespace: '', exporterAddress: '192.168.0.2' });
  }
  return records;
}

/** The ClickHouse column an IE of the aggregated template carries, in the IE's form; undefined if none. */
function clickHouseValueOfIe(name: string, row: ChRow): string | number | undefined {
  const zero = name.includes('IPv6') ? '::' : '0.0.0.0';
  if (/^sourceIPv[46]Address$/.test(name)) return row.sourceIP;
  if (/^destinationIPv[46]Address$/.test(name)) return row.destinationIP;
  if (/^destinationClusterIPv[46]$/.test(name)) return row.destinationClusterIP || zero;
  if (/^destinationServiceIPv[46]$/.test(name)) return row.destinationServiceIP || zero;
  if (name === 'clusterId') return row.clusterUUID;
  return row[name];
}

const tupleOf = (r: Record<string, unknown>, src: unknown, dst: unknown) =>
  `${src}|${dst}|${r.protocolIdentifier}|${r.sourceTransportPort}|${r.destinationTransportPort}`;

/** What a round of the ticker and the exporter did (the sinks' tests were first written against the flusher, which the exporter replaced). */
interface RoundSummary {
  ok: boolean;
  rowsInserted: number;
  replayedRows: number;
  inserts: number;
  insertFailures: number;
}

interface Stack {
  queue: DynamoExportQueue;
  /** The sinks' outbox in the same table: what a restarted exporter finds. */
  outbox: DynamoSinkOutboxStore;
  clickhouse: ClickHouseClient;
  clock: { now: number };
  /**
   * An exporter container with these sinks: each round the ticker closes what is due, then the exporter
   * takes the table's stream in batches of up to 40 records (the mapping's checkpoint is the stack's).
   */
  exporter(sinks: Pick<ExtraSinks, 'onBatchExported'>, rowSink?: RowSink): { round(): Promise<RoundSummary> };
  /** The extra sinks on this stack's outbox and clock (`s3` for the archive). */
  sinks(config: SinksConfig, s3?: S3Client): ExtraSinks;
  feed(records: FlowRecord[]): Promise<void>;
  rows(): Promise<ChRow[]>;
}

/** Archive runs so far: each writes under its own key prefix. */
let archiveRuns = 0;

async function newStack(): Promise<Stack> {
  const { dynamodb } = engines();
  const { table, queue, clickhouse } = await newPipelineStores(engines(), 'sinks', SCHEDULE);
  const outbox = new DynamoSinkOutboxStore(dynamodb, table);
  const clock = { now: T0 };
  const stream = new TableStream(dynamodb, table);
  streams.push(stream);
  const ticker = new Ticker(queue, {
    schedule: SCHEDULE,
    maxFlowsPerRound: 1000,
    writeConcurrency: 8,
    clock: () => clock.now,
  });
  return {
    queue,
    outbox,
    clickhouse,
    clock,
    sinks: (config, s3) =>
      createExtraSinks(config, {
        clusterUUID: CLUSTER_UUID,
        outbox,
        ...(s3 ? { s3 } : {}),
        clock: () => clock.now,
        sleep,
      }),
    exporter: (sinks, rowSink = new ClickHouseRowSink(clickhouse)) => {
      const exporter = new StreamExporter(new DynamoIntentStore(dynamodb, table, () => clock.now), rowSink, {
        clusterUUID: CLUSTER_UUID,
        onBatchExported: sinks.onBatchExported,
      });
      return {
        async round() {
          const tick = await ticker.round();
          const summary = { ok: tick.ok, rowsInserted: 0, replayedRows: 0, inserts: 0, insertFailures: 0 };
          for (let event = await stream.next(40); event; event = await stream.next(40)) {
            try {
              const report = await exporter.exportBatch(changeRecordsOf(event));
              summary.rowsInserted += report.rowsInserted - report.replayedRows;
              summary.replayedRows += report.replayedRows;
              summary.inserts += report.inserts;
            } catch {
              summary.ok = false;
              summary.insertFailures += 1;
              break;
            }
            stream.ack();
          }
          return summary;
        },
      };
    },
    // Exact due times (no lazy slack): the ticker closes a period at the first round after it ends, so
    // these tests see rows when the flusher they were first written for exported them.
    feed: (records) =>
      correlateAt(
        queue,
        records,
        clock.now,
        correlatorSettingsOf(SCHEDULE, {
          writeConcurrency: 8,
          maxWriteAttempts: 50,
          lazyIndex: { slackMs: 0, marginMs: 0 },
        }),
      ),
    async rows() {
      const dates = new Set(
        ANTREA_INSERT_COLUMNS.filter((c) => c.startsWith('flowEndSeconds') || c === 'flowStartSeconds'),
      );
      const columns = [...ANTREA_INSERT_COLUMNS, 'flowKey', 'exportSeq', 'incomplete', 'destinationServiceIP']
        .map((c) => (dates.has(c as never) ? `toUnixTimestamp(${c}) AS ${c}` : c))
        .concat('toString(exportedAt) AS exportedAt')
        .join(', ');
      const result = await clickhouse.query({
        query: `SELECT ${columns} FROM flows ORDER BY flowKey, exportSeq`,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      return result.json<ChRow>();
    },
  };
}

function sinksConfig(overrides: Partial<SinksConfig>): SinksConfig {
  return {
    ipfix: undefined,
    archive: undefined,
    flowLog: undefined,
    maxQueuedRows: 100_000,
    backoffBaseMs: 5,
    backoffCapMs: 50,
    drainMs: 20_000,
    ...overrides,
  };
}

function ipfixConfig(port: number, format: 'IPFIX' | 'JSON') {
  return {
    transport: 'tcp' as const,
    host: '127.0.0.1',
    port,
    format,
    observationDomainId: undefined,
    clusterId: undefined,
    maxMessageBytes: 65535,
    templateRefreshMs: 600_000,
    tls: undefined,
  };
}

/** tshark's text for a dateTimeSeconds value. */
function tsharkTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  return `${month} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${d.toISOString().slice(11, 19)}.000000000 UTC`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** An s3rver on loopback that can go away and come back on the same port and folder; a client for it. */
async function restartableS3() {
  const directory = mkdtempSync(join(tmpdir(), 'flowline-s3rver-outage-'));
  const start = (port: number) =>
    new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: BUCKET }] });
  let server = start(0);
  const { port } = await server.run();
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1, // each failed PUT is a sink retry, not hidden in the SDK's
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    client,
    stop: () => server.close(),
    async restart() {
      server = start(port);
      await server.run();
    },
    async dispose() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

const streams: TableStream[] = [];
afterAll(() => {
  for (const stream of streams) stream.close();
});

let toolsMissing: string | undefined;
let dir = '';
beforeAll(() => {
  toolsMissing = ensureIpfixTools('the tshark half of the IPFIX export check');
  dir = mkdtempSync(join(tmpdir(), 'flowline-sinks-'));
}, 600_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('IPFIX export of aggregated rows', () => {
  it('Flowline and tshark decode every exported row; each record equals its ClickHouse row', async () => {
    const stack = await newStack();
    const receiver = new TcpReceiver();
    await receiver.start();
    const sinks = stack.sinks(sinksConfig({ ipfix: ipfixConfig(receiver.port, 'IPFIX') }));
    await stack.feed(interNodeHalves(60, 0, 1));
    stack.clock.now += 1000;
    const report = await stack.exporter(sinks).round();
    expect(report).toMatchObject({ ok: true, rowsInserted: 60 });
    expect(await sinks.drain()).toBe(true);
    expect(sinks.counters()).toMatchObject([{ sink: 'ipfix', rowsSent: 60, retries: 0, rowsDropped: 0 }]);

    const clickhouse = new Map((await stack.rows()).map((r) => [tupleOf(r, r.sourceIP, r.destinationIP), r]));
    // drain() resolves when the bytes are written to the socket; the receiver reads them a moment later.
    await waitFor(() => decodeReceived(receiver).length >= 60, 'the collector to read every record');
    const received = decodeReceived(receiver);
    expect(received).toHaveLength(60);
    let compared = 0;
    for (const { templateId, domain, record } of received) {
      const ipv6 = templateId === TEMPLATE_ID_IPV6;
      const family = ipv6 ? 'IPv6' : 'IPv4';
      const row = clickhouse.get(
        tupleOf(record, record[`source${family}Address`], record[`destination${family}Address`]),
      );
      expect(row, 'a ClickHouse row for each record').toBeDefined();
      expect(domain).toBe(37993219); // FNV-1 of the cluster UUID, as Antrea
      expect(Object.keys(record)).toEqual(aggregatedTemplateNames(ipv6));
      for (const name of aggregatedTemplateNames(ipv6)) {
        const expected = clickHouseValueOfIe(name, row!);
        if (expected === undefined) continue; // per-Node counters, proxy SNAT: not in `flows`
        expect(record[name], name).toEqual(expected);
        compared++;
      }
      // Both halves were seen: per-Node counters carry each Node's report.
      expect(record.octetDeltaCountFromSourceNode).toBe(1500);
      expect(record.octetDeltaCountFromDestinationNode).toBe(1500);
    }
    expect(compared).toBeGreaterThanOrEqual(60 * 52);

    if (toolsMissing) return;
    const file = join(dir, 'export.pcap');
    writeFileSync(file, capture(receiver));
    // Antrea's template has 70 fields; tshark ignores templates above cflow.max_template_fields (60).
    const theirs = tsharkRecords(file, `tcp.port==${receiver.port},cflow`, ['cflow.max_template_fields:100']);
    expect(theirs).toHaveLength(60);
    for (const [i, t] of theirs.entries()) {
      const { record, templateId } = received[i]!;
      const v6 = templateId === TEMPLATE_ID_IPV6;
      const family = v6 ? 'IPv6' : 'IPv4';
      const row = clickhouse.get(
        tupleOf(record, record[`source${family}Address`], record[`destination${family}Address`]),
      )!;
      // IANA and reverse IEs, as tshark names them, against the ClickHouse row.
      expect(asArray(t[v6 ? 'cflow.srcaddrv6' : 'cflow.srcaddr'])).toEqual([row.sourceIP]);
      expect(asArray(t[v6 ? 'cflow.dstaddrv6' : 'cflow.dstaddr'])).toEqual([row.destinationIP]);
      const numbers = (key: string) => asArray(t[key]).map(Number);
      expect(numbers('cflow.srcport')).toEqual([row.sourceTransportPort]);
      expect(numbers('cflow.dstport')).toEqual([row.destinationTransportPort]);
      expect(numbers('cflow.protocol')).toEqual([row.protocolIdentifier]);
      expect(numbers('cflow.flow_end_reason')).toEqual([row.flowEndReason]);
      expect(numbers('cflow.packets')).toEqual([row.packetDeltaCount, row.reversePacketDeltaCount]);
      expect(numbers('cflow.octets')).toEqual([row.octetDeltaCount, row.reverseOctetDeltaCount]);
      expect(numbers('cflow.permanent_packets')).toEqual([row.packetTotalCount, row.reversePacketTotalCount]);
      expect(numbers('cflow.permanent_octets')).toEqual([row.octetTotalCount, row.reverseOctetTotalCount]);
      expect(t['cflow.abstimestart']).toBe(tsharkTime(Number(row.flowStartSeconds)));
      expect(t['cflow.abstimeend']).toBe(tsharkTime(Number(row.flowEndSeconds)));
      // Antrea's IEs (tshark knows PEN 56506 as "Project Antrea" but not its IEs): the bytes of each
      // non-empty value, in template order, are those of the ClickHouse value (per-Node ones: our decode).
      const antrea = aggregatedTemplateNames(v6)
        .map((name) => field(name))
        .filter((f) => f.enterprise === 56506)
        .map((f) => encodeValue(f.type, clickHouseValueOfIe(f.name, row) ?? record[f.name], f.length))
        .filter((bytes) => bytes.length > 0)
        .map((bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':'));
      expect(asArray(t['cflow.enterprise_private_entry'])).toEqual(antrea);
    }
  }, 120_000);

  it('JSON format: one go-ipfix JSON line per row, every template IE by name, values = ClickHouse row', async () => {
    const stack = await newStack();
    const receiver = new TcpReceiver();
    await receiver.start();
    const sinks = stack.sinks(sinksConfig({ ipfix: ipfixConfig(receiver.port, 'JSON') }));
    await stack.feed(interNodeHalves(12, 0, 1));
    stack.clock.now += 1000;
    expect(await stack.exporter(sinks).round()).toMatchObject({ ok: true, rowsInserted: 12 });
    expect(await sinks.drain()).toBe(true);
    const lines = Buffer.concat(receiver.connections.flatMap((c) => c.chunks))
      .toString('utf8')
      .split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(12);
    const clickhouse = new Map((await stack.rows()).map((r) => [tupleOf(r, r.sourceIP, r.destinationIP), r]));
    for (const line of lines) {
      const {
        '@timestamp': timestamp,
        ipfix,
        ...rest
      } = JSON.parse(line) as {
        '@timestamp': string;
        ipfix: Record<string, string | number>;
      };
      expect(rest).toEqual({});
      expect(timestamp).toBe(new Date(stack.clock.now).toISOString().replace(/\.\d+Z$/, 'Z'));
      const v6 = 'sourceIPv6Address' in ipfix;
      const names = ANTREA_AGGREGATED_TEMPLATE_V4.map(([n]) => (v6 ? n.replace('IPv4', 'IPv6') : n));
      expect(Object.keys(ipfix)).toEqual([...names].sort());
      const family = v6 ? 'IPv6' : 'IPv4';
      const row = clickhouse.get(
        tupleOf(ipfix, ipfix[`source${family}Address`], ipfix[`destination${family}Address`]),
      );
      for (const name of names) {
        const expected = clickHouseValueOfIe(name, row!);
        if (expected !== undefined) expect(ipfix[name], name).toEqual(expected);
      }
    }
  }, 120_000);

  it('a collector killed mid-run: ClickHouse rows still exactly once, the export catches up, retries counted', async () => {
    const stack = await newStack();
    const receiver = new TcpReceiver();
    await receiver.start();
    const sinks = stack.sinks(sinksConfig({ ipfix: ipfixConfig(receiver.port, 'IPFIX') }));
    const exporter = sinks.sinks.get('ipfix') as IpfixExporter;
    await stack.feed(interNodeHalves(20, 0, 1));
    stack.clock.now += 1000;
    expect(await stack.exporter(sinks).round()).toMatchObject({ ok: true, rowsInserted: 20 });
    expect(await sinks.drain()).toBe(true);

    await receiver.kill();
    await waitFor(() => !exporter.connected, 'the exporter to notice the closed connection');
    // New flows and the next exports of the first ones, while the collector is gone.
    await stack.feed([...interNodeHalves(20, 100, 1), ...interNodeHalves(20, 0, 2)]);
    stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
    const during = await stack.exporter(sinks).round();
    expect(during).toMatchObject({ ok: true, rowsInserted: 40 }); // ClickHouse is not held up
    await waitFor(() => sinks.counters()[0]!.retries >= 3, 'delivery retries');
    expect(sinks.counters()[0]).toMatchObject({ rowsSent: 20, queuedRows: 40 });

    await receiver.start(); // same port
    expect(await sinks.drain()).toBe(true);
    const after = sinks.counters()[0]!;
    expect(after).toMatchObject({ rowsSent: 60, rowsDropped: 0, queuedRows: 0 });
    expect(after.retries).toBeGreaterThanOrEqual(3);

    const rows = await stack.rows();
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(60);
    // Every row reached the collector: the 20 before the kill, the 40 after it (on a new connection).
    // drain() resolves when the bytes are written to the socket; the receiver reads them a moment later.
    await waitFor(() => decodeReceived(receiver).length >= 60, 'the collector to read every record');
    const received = decodeReceived(receiver);
    expect(received).toHaveLength(60);
    expect(receiver.connections).toHaveLength(2);
  }, 120_000);

  it('a collector down across an exporter restart: the new exporter delivers every row from the outbox', async () => {
    const stack = await newStack();
    const receiver = new TcpReceiver();
    await receiver.start();
    const config = sinksConfig({ ipfix: ipfixConfig(receiver.port, 'IPFIX') });
    const before = stack.sinks(config);
    const oldExporter = stack.exporter(before);
    await stack.feed(interNodeHalves(20, 0, 1));
    stack.clock.now += 1000;
    expect(await oldExporter.round()).toMatchObject({ ok: true, rowsInserted: 20 });
    expect(await before.drain()).toBe(true);

    await receiver.kill();
    await waitFor(() => !(before.sinks.get('ipfix') as IpfixExporter).connected, 'the closed connection');
    await stack.feed([...interNodeHalves(20, 100, 1), ...interNodeHalves(20, 0, 2)]);
    stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
    expect(await oldExporter.round()).toMatchObject({ ok: true, rowsInserted: 40 });
    await waitFor(() => before.counters()[0]!.retries >= 2, 'delivery retries');
    // The container goes away with 40 rows undelivered: nothing of it survives but the table.
    before.outbox.stop();
    expect(await before.drain()).toBe(false);
    (before.sinks.get('ipfix') as IpfixExporter).close();
    expect(before.counters()[0]).toMatchObject({ rowsSent: 20, queuedRows: 40 });
    stack.clock.now += DELIVERY_LEASE_MS + 1; // its delivery lease runs out: a new container takes the sink over

    const after = stack.sinks(config);
    after.resume();
    await waitFor(() => after.counters()[0]!.retries >= 1, 'the new exporter retrying the old backlog');
    expect(after.counters()[0]).toMatchObject({ rowsSent: 0, queuedRows: 40 });
    await stack.feed(interNodeHalves(20, 200, 1));
    stack.clock.now += 8000;
    expect(await stack.exporter(after).round()).toMatchObject({ ok: true, rowsInserted: 20 });
    await receiver.start(); // same port
    expect(await after.drain()).toBe(true);
    const counters = after.counters()[0]!;
    expect(counters).toMatchObject({ rowsSent: 60, rowsDropped: 0, queuedRows: 0 });
    expect(counters.retries).toBeGreaterThanOrEqual(1);

    // ClickHouse: every export once. The collector: each of them at least once (here exactly once).
    const rows = await stack.rows();
    expect(rows).toHaveLength(80);
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(80);
    const exportOf = (r: Record<string, unknown>, src: unknown, dst: unknown) =>
      `${tupleOf(r, src, dst)}#${r.packetTotalCount}`;
    await waitFor(() => decodeReceived(receiver).length >= 80, 'the collector to read every record');
    const received = new Set(
      decodeReceived(receiver).map(({ templateId, record }) => {
        const family = templateId === TEMPLATE_ID_IPV6 ? 'IPv6' : 'IPv4';
        return exportOf(record, record[`source${family}Address`], record[`destination${family}Address`]);
      }),
    );
    expect([...received].sort()).toEqual(rows.map((r) => exportOf(r, r.sourceIP, r.destinationIP)).sort());
    expect(decodeReceived(receiver)).toHaveLength(80); // the old container's worker stopped before resending
    (after.sinks.get('ipfix') as IpfixExporter).close();
  }, 120_000);

  it('an insert ClickHouse refuses does not hold back the export of its batch', async () => {
    const stack = await newStack();
    const receiver = new TcpReceiver();
    await receiver.start();
    const sinks = stack.sinks(sinksConfig({ ipfix: ipfixConfig(receiver.port, 'IPFIX') }));
    const clickhouse = new ClickHouseRowSink(stack.clickhouse);
    let refuse = true;
    const exporter = stack.exporter(sinks, {
      insert: (rows, token) =>
        refuse ? Promise.reject(new Error('too many parts')) : clickhouse.insert(rows, token),
    });
    await stack.feed(interNodeHalves(10, 0, 1));
    stack.clock.now += 1000;
    expect(await exporter.round()).toMatchObject({ ok: false, insertFailures: 1 });
    expect(await sinks.drain()).toBe(true);
    await waitFor(() => decodeReceived(receiver).length >= 10, 'the collector to read the batch');
    expect(decodeReceived(receiver)).toHaveLength(10);
    // ClickHouse gets the batch from its manifest next round; this exporter does not send it again.
    refuse = false;
    stack.clock.now += 8000;
    expect(await exporter.round()).toMatchObject({ ok: true, replayedRows: 10 });
    expect(await stack.rows()).toHaveLength(10);
    expect(sinks.counters()[0]).toMatchObject({ rowsSent: 10 });
  }, 120_000);
});

describe('S3 Parquet archive', () => {
  let server: S3rver;
  let s3: S3Client;
  beforeAll(async () => {
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: mkdtempSync(join(tmpdir(), 'flowline-s3rver-')),
      resetOnClose: true,
      configureBuckets: [{ name: BUCKET }],
    });
    const { port } = await server.run();
    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
  });

  async function objects(prefix: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function read(key: string) {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return decodeParquet(Buffer.from(await object.Body!.transformToByteArray()));
  }

  it('holds every exported row once, equal to ClickHouse; a batch delivered again overwrites its object', async () => {
    const stack = await newStack();
    const prefix = `run-${++archiveRuns}/`;
    const sinks = stack.sinks(
      sinksConfig({ archive: { bucket: BUCKET, prefix, format: 'parquet', gzip: true } }),
      s3,
    );
    const offered: Array<[string, readonly PendingRow[]]> = [];
    const exporter = stack.exporter({
      onBatchExported: (token, rows) => {
        offered.push([token, rows]);
        return sinks.onBatchExported(token, rows);
      },
    });
    await stack.feed(interNodeHalves(100, 0, 1));
    stack.clock.now += 1000;
    expect(await exporter.round()).toMatchObject({ ok: true, rowsInserted: 100, inserts: 3 });
    expect(await sinks.drain()).toBe(true);

    const keys = await objects(prefix);
    expect(keys).toHaveLength(3); // 40 + 40 + 20 rows
    for (const key of keys)
      expect(key).toMatch(/^run-\d+\/date=2027-01-15\/hour=08\/flowline-\d+-[0-9a-f]{64}\.parquet$/);
    const clickhouse = new Map((await stack.rows()).map((r) => [`${r.flowKey}#${r.exportSeq}`, r]));
    let archived = 0;
    for (const key of keys) {
      for (const row of await read(key)) {
        archived++;
        const ch = clickhouse.get(`${row.flowKey}#${row.exportSeq}`);
        expect(ch).toBeDefined();
        for (const [column] of ARCHIVE_COLUMNS) {
          if (!(column in ch!)) continue;
          const value = row[column];
          const back =
            value instanceof Date
              ? column === 'exportedAt'
                ? value.toISOString().replace('T', ' ').replace('Z', '')
                : value.getTime() / 1000
              : typeof value === 'bigint'
                ? Number(value)
                : value;
          expect(back, column).toEqual(ch![column]);
        }
      }
    }
    expect(archived).toBe(100);

    // The same batches again (a PUT that landed but whose answer was lost is retried): same objects.
    for (const [token, rows] of offered) await sinks.onBatchExported(token, rows);
    expect(await sinks.drain()).toBe(true);
    expect(await objects(prefix)).toEqual(keys);
    expect(sinks.counters()[0]).toMatchObject({ sink: 'archive', rowsSent: 200, retries: 0 });
  }, 120_000);

  it('an S3 outage mid-run: ClickHouse rows exactly once, the archive catches up, retries counted', async () => {
    const stack = await newStack();
    const { client, stop, restart, dispose } = await restartableS3();
    const sinks = stack.sinks(
      sinksConfig({ archive: { bucket: BUCKET, prefix: 'outage/', format: 'parquet', gzip: true } }),
      client,
    );
    await stack.feed(interNodeHalves(30, 0, 1));
    stack.clock.now += 1000;
    expect(await stack.exporter(sinks).round()).toMatchObject({ ok: true, rowsInserted: 30 });
    expect(await sinks.drain()).toBe(true);

    await stop();
    await stack.feed([...interNodeHalves(30, 200, 1), ...interNodeHalves(30, 0, 2)]);
    stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
    expect(await stack.exporter(sinks).round()).toMatchObject({ ok: true, rowsInserted: 60 });
    await waitFor(() => sinks.counters()[0]!.retries >= 2, 'archive retries');
    await restart();
    expect(await sinks.drain()).toBe(true);
    expect(sinks.counters()[0]).toMatchObject({ rowsSent: 90, rowsDropped: 0, queuedRows: 0 });

    const rows = await stack.rows();
    expect(rows).toHaveLength(90);
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(90);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'outage/' }));
    const archived = new Set<string>();
    for (const { Key } of listed.Contents ?? []) {
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
      for (const row of await decodeParquet(Buffer.from(await object.Body!.transformToByteArray()))) {
        archived.add(`${row.flowKey}#${row.exportSeq}`);
      }
    }
    expect([...archived].sort()).toEqual(rows.map((r) => `${r.flowKey}#${r.exportSeq}`).sort());
    await dispose();
  }, 120_000);

  it('S3 down across an exporter restart: one object per batch, rows equal to ClickHouse, exactly once', async () => {
    const stack = await newStack();
    const { client, stop, restart, dispose } = await restartableS3();
    const config = sinksConfig({
      archive: { bucket: BUCKET, prefix: 'restart/', format: 'parquet', gzip: true },
    });
    const tokens: string[] = [];
    const exporterOf = (sinks: ExtraSinks) =>
      stack.exporter({
        onBatchExported: (token, rows) => {
          tokens.push(token);
          return sinks.onBatchExported(token, rows);
        },
      });
    const before = stack.sinks(config, client);
    await stack.feed(interNodeHalves(30, 0, 1));
    stack.clock.now += 1000;
    expect(await exporterOf(before).round()).toMatchObject({ ok: true, rowsInserted: 30 });
    expect(await before.drain()).toBe(true);

    await stop();
    await stack.feed([...interNodeHalves(30, 300, 1), ...interNodeHalves(30, 0, 2)]);
    stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
    const during = await exporterOf(before).round();
    expect(during).toMatchObject({ ok: true, rowsInserted: 60 });
    expect(during.inserts).toBeGreaterThanOrEqual(2); // the stream's batches of 40 records
    await waitFor(() => before.counters()[0]!.retries >= 2, 'archive retries');
    before.outbox.stop(); // the container is recycled with its batches undelivered
    expect(await before.drain()).toBe(false);
    stack.clock.now += DELIVERY_LEASE_MS + 1; // its delivery lease runs out: a new container takes the sink over

    const after = stack.sinks(config, client);
    after.resume();
    await stack.feed(interNodeHalves(30, 400, 1));
    stack.clock.now += 8000;
    expect(await exporterOf(after).round()).toMatchObject({ ok: true, rowsInserted: 30 });
    await waitFor(() => after.counters()[0]!.retries >= 1, 'the new exporter retrying');
    await restart();
    expect(await after.drain()).toBe(true);
    expect(after.counters()[0]).toMatchObject({ rowsSent: 90, rowsDropped: 0, queuedRows: 0 });

    const rows = await stack.rows();
    expect(rows).toHaveLength(120);
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(120);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'restart/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.map((k) => k.replace(/^.*\/(.*)\.parquet$/, '$1')).sort()).toEqual([...tokens].sort());
    const archived: string[] = [];
    for (const Key of keys) {
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
      for (const row of await decodeParquet(Buffer.from(await object.Body!.transformToByteArray()))) {
        archived.push(`${row.flowKey}#${row.exportSeq}#${row.octetDeltaCount}`);
      }
    }
    expect(archived.sort()).toEqual(
      rows.map((r) => `${r.flowKey}#${r.exportSeq}#${r.octetDeltaCount}`).sort(),
    );
    await dispose();
  }, 120_000);
});

describe('flow log (a file, as local mode writes it)', () => {
  it("every exported row once, as Antrea's flow logger line of its ClickHouse row", async () => {
    const stack = await newStack();
    const file = join(dir, `flow-log-${Date.now()}.log`);
    const sinks = stack.sinks(sinksConfig({ flowLog: { file, prettyPrint: true, filters: [] } }));
    const exporter = stack.exporter({ onBatchExported: sinks.onBatchExported });
    await stack.feed(interNodeHalves(60, 0, 1));
    stack.clock.now += 1000;
    expect(await exporter.round()).toMatchObject({ ok: true, rowsInserted: 60 });
    expect(await sinks.drain()).toBe(true);

    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const fields = ['flowStartSeconds', 'flowEndSeconds', 'sourceIP', 'destinationIP', 'sourceTransportPort'];
    const expected = (await stack.rows()).map((row) =>
      fields.map((f) => row[f as keyof typeof row]).join(','),
    );
    expect(lines.map((line) => line.split(',').slice(0, 5).join(',')).sort()).toEqual(expected.sort());
    expect(lines.every((line) => line.split(',').length === 30 && line.split(',')[6] === 'TCP')).toBe(true);
    expect(sinks.counters()[0]).toMatchObject({ sink: 'flowlog', rowsSent: 60, retries: 0 });
  }, 120_000);
});

describe('the sinks outbox on DynamoDB Local', () => {
  it("appends of four exporters at one head: one lands whole, the rest after it; none overwrites another's entry", async () => {
    const { table } = await newPipelineStores(engines(), 'outbox_race', SCHEDULE);
    const store = new DynamoSinkOutboxStore(engines().dynamodb, table);
    const start = (await store.positions([])).head;
    const entryOf = (i: number) => ({
      token: `batch-${i}`,
      rows: i + 1,
      createdAtMs: T0,
      chunks: [Buffer.from(`rows of batch ${i}`), Buffer.from(`more rows of batch ${i}`)],
    });
    const first = await Promise.all([0, 1, 2, 3].map((i) => store.append(start, entryOf(i))));
    expect(first.filter(Boolean)).toHaveLength(1);
    // The others append after the head as they read it, as the outbox does (concurrently again).
    await Promise.all(
      [0, 1, 2, 3]
        .filter((i) => !first[i])
        .map(async (i) => {
          for (let attempt = 0; attempt < 20; attempt++)
            if (await store.append((await store.positions([])).head, entryOf(i))) return;
          throw new Error(`batch ${i} never appended`);
        }),
    );
    const entries = await Promise.all([0, 1, 2, 3].map((k) => store.entry(start.seq + k, true)));
    expect(entries.map((e) => e!.token).sort()).toEqual(['batch-0', 'batch-1', 'batch-2', 'batch-3']);
    let row = start.row;
    for (const entry of entries) {
      const i = Number(entry!.token.slice('batch-'.length));
      expect(entry!.chunks.map((c) => Buffer.from(c).toString())).toEqual(
        entryOf(i).chunks.map((c) => c.toString()),
      );
      expect(entry!.startRow).toBe(row);
      row += entry!.rows;
    }
    expect((await store.positions([])).head).toEqual({ seq: start.seq + 4, row });
  });

  it("a sink's lease: one holder at a time, renewed by it, taken over once its time ran out, given up", async () => {
    const { table } = await newPipelineStores(engines(), 'outbox_lease', SCHEDULE);
    const store = new DynamoSinkOutboxStore(engines().dynamodb, table);
    const taken = await Promise.all(
      ['a', 'b', 'c'].map((owner) => store.lease('ipfix', owner, T0, T0 + 30_000)),
    );
    expect(taken.filter((answer) => answer.held)).toHaveLength(1);
    const holder = ['a', 'b', 'c'][taken.findIndex((answer) => answer.held)]!;
    const other = holder === 'a' ? 'b' : 'a';
    expect(await store.lease('ipfix', other, T0 + 1000, T0 + 31_000)).toEqual({
      held: false,
      holder,
      untilMs: T0 + 30_000,
    });
    expect(await store.lease('archive', other, T0 + 1000, T0 + 31_000)).toEqual({ held: true }); // per sink
    expect(await store.lease('ipfix', holder, T0 + 20_000, T0 + 50_000)).toEqual({ held: true }); // renewed
    expect((await store.lease('ipfix', other, T0 + 40_000, T0 + 70_000)).held).toBe(false);
    expect(await store.lease('ipfix', other, T0 + 50_001, T0 + 80_001)).toEqual({ held: true }); // ran out
    expect(await store.lease('ipfix', other, T0 + 60_000, T0 + 59_999)).toEqual({ held: true }); // given up
    expect(await store.lease('ipfix', holder, T0 + 60_000, T0 + 90_000)).toEqual({ held: true });
  });

  it('a cursor records the movers of its last moves', async () => {
    const { table } = await newPipelineStores(engines(), 'outbox_movers', SCHEDULE);
    const store = new DynamoSinkOutboxStore(engines().dynamodb, table);
    const movers = { '4': 'a', '5': 'b' };
    expect(await store.moveCursor('ipfix', undefined, { seq: 5, row: 9, movers })).toBe(true);
    expect((await store.positions(['ipfix'])).cursors.get('ipfix')).toEqual({ seq: 5, row: 9, movers });
    expect(await store.moveCursor('ipfix', { seq: 4, row: 7 }, { seq: 6, row: 11 })).toBe(false);
    expect(await store.moveCursor('ipfix', { seq: 5, row: 9 }, { seq: 6, row: 11 })).toBe(true);
    expect((await store.positions(['ipfix'])).cursors.get('ipfix')).toEqual({ seq: 6, row: 11 });
  });
});
