// simulator -> collector (in this process) -> kinesis-mock, read back through the wire format: every record
// exactly once, over TCP, UDP and TLS with client certificates; and bad input counted without a crash.
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { createKinesisClient } from '../../adapters/aws-clients.ts';
import { Collector } from '../../collector-edge/collector.ts';
import { loadCollectorConfig } from '../../collector-edge/config.ts';
import { encodeMessage, field, IpfixEncoder } from '../../collector-edge/ipfix/index.ts';
import { KinesisStreamSink } from '../../collector-edge/kinesis-sink.ts';
import { createLogger } from '../../collector-edge/log.ts';
import { CollectorMetrics } from '../../collector-edge/metrics.ts';
import { type ExportOptions, exportSimulation } from '../../simulator/exporter.ts';
import { ClusterSimulation } from '../../simulator/model.ts';
import { useEngines } from '../support/engines.ts';
import {
  createStream,
  expectExactlyOnce,
  makeCertificates,
  readStream,
  waitFor,
} from './collector-support.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const tmp = mkdtempSync(join(tmpdir(), 'flowline-collector-it-'));
const running: Collector[] = [];
let streamCount = 0;

afterEach(async () => {
  for (const collector of running.splice(0)) await collector.drain();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function startCollector(listen: string, extraEnv: Record<string, string> = {}) {
  const stream = `collector-it-${++streamCount}`;
  await createStream(engines().kinesis, stream);
  const config = loadCollectorConfig({
    FLOWLINE_STREAM_NAME: stream,
    FLOWLINE_LISTEN: listen,
    FLOWLINE_HTTP_LISTEN: '127.0.0.1:0',
    FLOWLINE_SPOOL_DIR: join(tmp, stream),
    FLOWLINE_BATCH_LINGER_MS: '50',
    FLOWLINE_SPOOL_FSYNC_MS: '1000',
    ...extraEnv,
  });
  const metrics = new CollectorMetrics();
  const collector = await Collector.start(config, {
    sink: new KinesisStreamSink(createKinesisClient({ maxAttempts: 1 }), stream),
    metrics,
    logger: createLogger('error'),
  });
  running.push(collector);
  return { collector, metrics, stream };
}

async function roundTrip(protocol: 'tcp' | 'udp' | 'tls', options: Partial<ExportOptions> = {}, env = {}) {
  // The run fits in one linger, so each (shard, lane) batch takes all its records (whenDelivered() seals
  // them): at this test's low rate a 50 ms linger would seal 64 nearly empty batches per poll.
  const { collector, metrics, stream } = await startCollector(`${protocol}://127.0.0.1:0`, {
    FLOWLINE_BATCH_LINGER_MS: '10000',
    ...env,
  });
  const sim = new ClusterSimulation({ seed: 42, nodes: 4, connections: 150, polls: 5 });
  const report = await exportSimulation(sim, {
    collector: { host: '127.0.0.1', port: collector.portOf(protocol), protocol },
    keepSent: true,
    ...options,
  });
  const sent = report.sent!;
  await waitFor(
    'every record accepted',
    async () => (await metrics.total('flowline_collector_flow_records_total')) >= sent.length,
  );
  await collector.whenDelivered();
  const { records, kinesisRecords, shardsUsed } = await readStream(engines().kinesis, stream);
  expectExactlyOnce(records, sent);
  expect(records.length).toBe(report.truth.records);
  expect(shardsUsed).toBe(4);
  expect(kinesisRecords).toBeLessThan(records.length / 10); // packed, not one Kinesis record per flow
  expect(await metrics.total('flowline_collector_decode_errors_total')).toBe(0);
  expect(await metrics.total('flowline_collector_dropped_total')).toBe(0);
  expect(await metrics.total('flowline_collector_sequence_gaps_total')).toBe(0);
  expect(await metrics.total('flowline_kinesis_delivered_flow_records_total')).toBe(sent.length);
  return { collector, metrics, sent };
}

describe('collector-edge against kinesis-mock', () => {
  test('TCP: every simulated record reaches Kinesis exactly once, with its content', async () => {
    const { collector } = await roundTrip('tcp');
    const response = await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`);
    const text = await response.text();
    expect(text).toContain('flowline_collector_ipfix_messages_total{transport="tcp"}');
    expect((await fetch(`http://127.0.0.1:${collector.httpPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${collector.httpPort}/healthz`)).status).toBe(200);
  });

  test('UDP: one session per exporter port, templates refreshed every poll, nothing lost on loopback', async () => {
    const { metrics } = await roundTrip('udp');
    expect(await metrics.total('flowline_collector_templates_total')).toBeGreaterThanOrEqual(4 * 2 * 5);
  });

  test('TLS with client certificates: verified agents deliver, an agent without a certificate is refused', async () => {
    const certs = makeCertificates(tmp);
    const env = {
      FLOWLINE_TLS_CERT: certs.serverCert,
      FLOWLINE_TLS_KEY: certs.serverKey,
      FLOWLINE_TLS_CA: certs.ca,
    };
    const { collector, metrics } = await roundTrip(
      'tls',
      {
        tls: {
          ca: readFileSync(certs.ca),
          cert: readFileSync(certs.clientCert),
          key: readFileSync(certs.clientKey),
          serverName: 'localhost',
        },
      },
      env,
    );
    // No client certificate: the handshake fails (TLS 1.3 reports it after the handshake, on first read).
    const socket = connectTls({
      host: '127.0.0.1',
      port: collector.portOf('tls'),
      ca: readFileSync(certs.ca),
      servername: 'localhost',
    });
    await new Promise<void>((resolve) => {
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
    await waitFor(
      'refused handshake counted',
      async () =>
        (await metrics.total('flowline_collector_connections_total', { outcome: 'handshake-failed' })) === 1,
    );
  });

  test('bad input: garbage, a disconnect mid-message and a template flood are counted; valid input still flows', async () => {
    const { collector, metrics, stream } = await startCollector('tcp://127.0.0.1:0,udp://127.0.0.1:0', {
      FLOWLINE_MAX_TEMPLATES_PER_SESSION: '20',
    });
    const tcpPort = collector.portOf('tcp');
    const sendTcp = (chunks: Uint8Array[]) =>
      new Promise<void>((resolve) => {
        const socket = connect(tcpPort, '127.0.0.1', () => {
          for (const chunk of chunks) socket.write(chunk);
          socket.end();
        });
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    // 1. Garbage over TCP and UDP.
    await sendTcp([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) =>
      udp.send(Buffer.from([0, 9, 0, 20, 1, 2, 3]), collector.portOf('udp'), '127.0.0.1', () => resolve()),
    );
    udp.close();
    // 2. A valid template, then half a data message, then the exporter disconnects.
    const encoder = new IpfixEncoder({ observationDomainId: 7 });
    encoder.defineTemplate(256, [
      field('sourceIPv4Address'),
      field('destinationIPv4Address'),
      field('sourcePodName'),
    ]);
    const data = encoder.dataMessages(
      256,
      [{ sourceIPv4Address: '10.0.0.1', destinationIPv4Address: '10.0.0.2', sourcePodName: 'a' }],
      1,
    )[0]!;
    await sendTcp([encoder.templateMessage(1), data.subarray(0, data.length - 3)]);
    // 3. A template flood: one message defining 100 templates.
    const flood = encodeMessage({ exportTime: 1, sequenceNumber: 0, observationDomainId: 9 }, [
      {
        kind: 'templates',
        templates: Array.from({ length: 100 }, (_, i) => ({
          templateId: 300 + i,
          fields: [field('sourceIPv4Address')],
        })),
      },
    ]);
    await sendTcp([flood]);
    await waitFor('bad input counted', async () => {
      const errors = await metrics.total('flowline_collector_decode_errors_total');
      const floods = await metrics.total('flowline_collector_dropped_total', { reason: 'template-flood' });
      return errors >= 3 && floods === 1;
    });
    expect(
      await metrics.total('flowline_collector_decode_errors_total', { reason: 'streamResync' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metrics.total('flowline_collector_decode_errors_total', { reason: 'messageTruncated' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metrics.total('flowline_collector_decode_errors_total', { reason: 'unsupportedVersion' }),
    ).toBe(1);
    expect(await metrics.total('flowline_collector_templates_active')).toBeLessThanOrEqual(1);
    // 4. Still working.
    const sim = new ClusterSimulation({ seed: 3, nodes: 2, connections: 30, polls: 2 });
    const report = await exportSimulation(sim, {
      collector: { host: '127.0.0.1', port: tcpPort, protocol: 'tcp' },
      keepSent: true,
    });
    await waitFor(
      'records accepted',
      async () => (await metrics.total('flowline_collector_flow_records_total')) >= report.sent!.length,
    );
    await collector.whenDelivered();
    expectExactlyOnce((await readStream(engines().kinesis, stream)).records, report.sent!);
  });
});
