// The exporting process over each transport against loopback receivers (no engines): TLS with a private
// CA (a receiver that goes away is reconnected to, templates first, sequence numbers from 0), UDP within
// the message size with templates refreshed on time, JSON over UDP one datagram per record. Every record
// decoded by Flowline's decoder equals its row.
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIpfixDecoder,
  IpfixStreamFramer,
  type TransportSession,
} from '../../collector-edge/ipfix/index.ts';
import {
  aggregatedTemplateNames,
  observationDomainIdOf,
  TEMPLATE_ID_IPV6,
} from '../../functions/sinks/antrea-ipfix.ts';
import { collectorTlsOf } from '../../functions/sinks/collector-tls.ts';
import type { ExportedBatch } from '../../functions/sinks/exported-row.ts';
import { IpfixExporter, type IpfixExporterOptions } from '../../functions/sinks/ipfix-exporter.ts';
import {
  aggregatedFlowArbitrary,
  expectedIeValue,
  exportedRow,
  SINK_CLUSTER_UUID,
} from '../fixtures/exported-rows.ts';
import { makeCertificates } from './collector-support.ts';

let dir = '';
let certs: ReturnType<typeof makeCertificates>;
/** Another CA's certificates: a client certificate the collector does not trust. */
let strangers: ReturnType<typeof makeCertificates>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowline-exporter-'));
  certs = makeCertificates(dir);
  mkdirSync(join(dir, 'other'));
  strangers = makeCertificates(join(dir, 'other'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function batchOf(token: string, count: number, seed: number): ExportedBatch {
  const flows = fc.sample(aggregatedFlowArbitrary, { numRuns: count, seed });
  return { token, rows: flows.map((f, i) => exportedRow(f, i + 1)) };
}

function options(overrides: Partial<IpfixExporterOptions>): IpfixExporterOptions {
  return {
    transport: 'tcp',
    host: '127.0.0.1',
    port: 0,
    format: 'IPFIX',
    observationDomainId: observationDomainIdOf(SINK_CLUSTER_UUID),
    clusterId: SINK_CLUSTER_UUID,
    maxMessageBytes: 65535,
    templateRefreshMs: 600_000,
    connectTimeoutMs: 5000,
    clock: () => 1_800_000_000_000,
    ...overrides,
  };
}

/** Decodes messages of one session and checks every record against the batches' rows, in order. */
function expectRecords(messages: Uint8Array[], session: TransportSession, batches: ExportedBatch[]) {
  const decoder = createIpfixDecoder();
  const records = messages.flatMap((m) => {
    const result = decoder.decodeMessage(m, session);
    expect(result.errors).toEqual([]);
    return result.dataSets.flatMap((s) =>
      s.records.map((r) => ({ r, v6: s.templateId === TEMPLATE_ID_IPV6 })),
    );
  });
  const rows = batches.flatMap((b) => [
    ...b.rows.filter((r) => !String(r.sourceIP).includes(':')),
    ...b.rows.filter((r) => String(r.sourceIP).includes(':')),
  ]);
  expect(records).toHaveLength(rows.length);
  for (const [i, { r, v6 }] of records.entries()) {
    for (const name of aggregatedTemplateNames(v6)) {
      expect(r[name], name).toEqual(expectedIeValue(name, rows[i]!, SINK_CLUSTER_UUID));
    }
  }
  return decoder;
}

const waitFor = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('IPFIX exporter transports', () => {
  it('TLS to a collector with a private CA; reconnects (templates first) after the collector restarts', async () => {
    const connections: Buffer[][] = [];
    const sockets = new Set<net.Socket>();
    const listen = async (port: number) => {
      const server = tls.createServer(
        { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), minVersion: 'TLSv1.2' },
        (socket) => {
          const chunks: Buffer[] = [];
          connections.push(chunks);
          sockets.add(socket);
          socket.on('data', (c) => chunks.push(c));
          socket.on('close', () => sockets.delete(socket));
        },
      );
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return server;
    };
    let server = await listen(0);
    const port = (server.address() as net.AddressInfo).port;
    const exporter = new IpfixExporter(
      options({
        transport: 'tls',
        port,
        tls: { ca: readFileSync(certs.ca, 'utf8'), serverName: 'localhost' },
      }),
    );
    const first = batchOf('a', 30, 1);
    await exporter.deliver(first);
    await waitFor(() => connections[0]!.reduce((n, c) => n + c.length, 0) > 0, 'bytes at the collector');

    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await waitFor(() => !exporter.connected, 'the exporter to see the collector go');
    const second = batchOf('b', 20, 2);
    await expect(exporter.deliver(second)).rejects.toThrow(); // nothing listens
    server = await listen(port);
    await exporter.deliver(second);
    exporter.close();
    await waitFor(() => connections.length === 2 && sockets.size === 0, 'the second connection to end');
    server.close();

    for (const [i, chunks] of connections.entries()) {
      const framed = new IpfixStreamFramer().push(Buffer.concat(chunks));
      expect(framed.errors).toEqual([]);
      const session = { id: `tls|${i}`, exporterAddress: '127.0.0.1', transport: 'tcp' as const };
      const decoder = expectRecords(
        framed.messages.map((m) => m.bytes),
        session,
        [i === 0 ? first : second],
      );
      expect(decoder.sequenceStats()).toMatchObject([{ lostRecords: 0 }]);
    }
  });

  // Antrea's flowCollector.tls with clientSecretName: the collector verifies its exporters.
  it.each(['TLSv1.3', 'TLSv1.2'] as const)(
    "mutual TLS (%s): every record with the client certificate from the secret; without it, or with another CA's, delivery fails",
    async (maxVersion) => {
      const pem = (path: string) => readFileSync(path, 'utf8');
      const received: { peer: unknown; chunks: Buffer[]; closed: boolean }[] = [];
      const server = tls.createServer(
        {
          cert: pem(certs.serverCert),
          key: pem(certs.serverKey),
          ca: pem(certs.ca),
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          maxVersion,
        },
        (socket) => {
          const connection = {
            peer: socket.getPeerCertificate().subject.CN,
            chunks: [] as Buffer[],
            closed: false,
          };
          received.push(connection);
          socket.on('data', (c) => connection.chunks.push(c));
          socket.on('close', () => {
            connection.closed = true;
          });
          socket.on('error', () => {});
        },
      );
      server.on('tlsClientError', () => {}); // the refused handshakes below
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const exporterWith = (tlsOptions: IpfixExporterOptions['tls']) =>
        new IpfixExporter(options({ transport: 'tls', port, tls: tlsOptions }));

      const secretReads: string[] = [];
      const secret = JSON.stringify({
        'ca.crt': pem(certs.ca),
        'tls.crt': pem(certs.clientCert),
        'tls.key': pem(certs.clientKey),
      });
      const trusted = exporterWith(
        collectorTlsOf(
          { secretId: 'flowline/ipfix-client', serverName: 'localhost', minVersion: 'TLSv1.2' },
          async (id) => {
            secretReads.push(id);
            return secret;
          },
        ),
      );
      const batch = batchOf('m', 25, 7);
      await trusted.deliver(batch);
      trusted.close();
      await waitFor(() => received.length === 1 && received[0]!.closed, 'the trusted connection to end');
      expect(secretReads).toEqual(['flowline/ipfix-client']);
      expect(received[0]!.peer).toBe('antrea-agent');
      const framed = new IpfixStreamFramer().push(Buffer.concat(received[0]!.chunks));
      expect(framed.errors).toEqual([]);
      const session = { id: `mtls|${maxVersion}`, exporterAddress: '127.0.0.1', transport: 'tcp' as const };
      expectRecords(
        framed.messages.map((m) => m.bytes),
        session,
        [batch],
      );

      // Refused: the delivery fails (so the outbox keeps the batch and retries), nothing reaches the collector.
      const refused = [
        exporterWith({ ca: pem(certs.ca), serverName: 'localhost' }),
        exporterWith({
          ca: pem(certs.ca),
          cert: pem(strangers.clientCert),
          key: pem(strangers.clientKey),
          serverName: 'localhost',
        }),
      ];
      for (const exporter of refused) {
        await expect(exporter.deliver(batchOf('n', 5, 8))).rejects.toThrow();
        exporter.close();
      }
      expect(received).toHaveLength(1);
      server.close();
    },
  );

  it('TLS material that never comes (a secret read hanging) fails the delivery within the connect time limit', async () => {
    const exporter = new IpfixExporter(
      options({ transport: 'tls', port: 9, connectTimeoutMs: 200, tls: () => new Promise(() => {}) }),
    );
    await expect(exporter.deliver(batchOf('h', 3, 9))).rejects.toThrow(
      /TLS material for tls:\/\/127\.0\.0\.1:9: no answer within 200 ms/,
    );
  });

  it('UDP: messages within the size limit, templates again once the refresh interval has passed', async () => {
    const socket = dgram.createSocket('udp4');
    const datagrams: Buffer[] = [];
    socket.on('message', (m) => datagrams.push(m));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const clock = { now: 1_800_000_000_000 };
    const exporter = new IpfixExporter(
      options({
        transport: 'udp',
        port: socket.address().port,
        maxMessageBytes: 1472,
        templateRefreshMs: 60_000,
        clock: () => clock.now,
      }),
    );
    const batches = [batchOf('a', 40, 3), batchOf('b', 40, 4), batchOf('c', 40, 5)];
    const templateSets = () => datagrams.filter((d) => d.readUInt16BE(16) === 2).length;
    await exporter.deliver(batches[0]!);
    clock.now += 30_000;
    await exporter.deliver(batches[1]!);
    await waitFor(() => datagrams.length > 0 && templateSets() === 1, 'the first template message');
    clock.now += 30_000; // 60 s after the templates: sent again before the data
    await exporter.deliver(batches[2]!);
    exporter.close();
    const records = () => {
      const decoder = createIpfixDecoder();
      const session = { id: 'udp|count', exporterAddress: '127.0.0.1', transport: 'udp' as const };
      return datagrams.reduce(
        (n, d) => n + decoder.decodeMessage(d, session).dataSets.reduce((m, s) => m + s.records.length, 0),
        0,
      );
    };
    await waitFor(
      () => templateSets() === 2 && records() === 120,
      'every record and the refreshed templates',
    );
    socket.close();
    for (const d of datagrams) expect(d.length).toBeLessThanOrEqual(1472);
    // The refreshed templates came before the last batch's data.
    const lastTemplates = datagrams.findLastIndex((d) => d.readUInt16BE(16) === 2);
    expect(datagrams.slice(lastTemplates + 1).length).toBeGreaterThan(0);
    expectRecords(datagrams, { id: 'udp|x', exporterAddress: '127.0.0.1', transport: 'udp' }, batches);
  });

  it('JSON over UDP: one datagram per record', async () => {
    const socket = dgram.createSocket('udp4');
    const datagrams: string[] = [];
    socket.on('message', (m) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const exporter = new IpfixExporter(
      options({ transport: 'udp', format: 'JSON', port: socket.address().port }),
    );
    const batch = batchOf('a', 15, 6);
    await exporter.deliver(batch);
    await waitFor(() => datagrams.length === 15, '15 datagrams');
    exporter.close();
    socket.close();
    for (const [i, d] of datagrams.entries()) {
      expect(d.endsWith('}\n')).toBe(true);
      const { ipfix } = JSON.parse(d) as { ipfix: Record<string, unknown> };
      expect(ipfix.sourceTransportPort).toBe(batch.rows[i]!.sourceTransportPort);
      expect(ipfix.clusterId).toBe(SINK_CLUSTER_UUID);
    }
  });
});
