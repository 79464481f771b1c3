// The simulated agents' exporting processes: one IPFIX transport session per Node (a UDP socket, a TCP or
// a TLS connection) with its own observation domain, the agent's IPv4 and IPv6 templates (256, 257) sent
// first (and again every poll over UDP, where datagrams can be lost), then every poll's records. Event time
// comes from the model; the clock only paces real-time runs, so tests run as fast as the sockets allow.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { type EncodableValue, field, IpfixEncoder } from '../collector-edge/ipfix/index.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import { agentTemplateNames, IPV4_TEMPLATE_ID, IPV6_TEMPLATE_ID } from './agent-template.ts';
import { type ClusterSimulation, type GroundTruth, nodeName, observationDomainOf } from './model.ts';

export type ExportProtocol = 'udp' | 'tcp' | 'tls';

export interface CollectorAddress {
  host: string;
  port: number;
  protocol: ExportProtocol;
}

/** Antrea's flowCollectorAddr syntax: `<host>:[<port>][:<proto>]`, default port 4739, default proto tls. */
export function parseCollectorAddress(text: string): CollectorAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{0,5}))?(?::(udp|tcp|tls))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not <host>:[<port>][:<proto>] (proto udp, tcp or tls)`);
  const port = match[2] ? Number(match[2]) : 4739;
  if (port < 1 || port > 65535) throw new Error(`"${text}": port must be 1-65535`);
  return {
    host: match[1]!.replace(/^\[|\]$/g, ''),
    port,
    protocol: (match[3] as ExportProtocol | undefined) ?? 'tls',
  };
}

export interface ExporterTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

export interface SimClock {
  sleep(ms: number): Promise<void>;
}

export const realClock: SimClock = { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

export interface ExportOptions {
  collector: CollectorAddress;
  tls?: ExporterTls;
  /** UDP message size limit (go-ipfix: path MTU minus headers). */
  maxUdpMessageBytes?: number;
  /** Pace polls by the poll interval on this clock (real-time demo); otherwise send as fast as possible. */
  pace?: SimClock;
  /** Keep the list of every record sent (tests compare it with what reached Kinesis). */
  keepSent?: boolean;
}

/** A record as sent, with the identifiers the collector will attach to it. */
export interface SentRecord {
  node: string;
  observationDomainId: number;
  sequenceNumber: number;
  exportTime: number;
  record: FlowRecord;
}

export interface SimulationReport {
  truth: GroundTruth;
  messages: number;
  bytes: number;
  sent?: SentRecord[];
}

/** FlowRecord (content fields) -> agent IPFIX record keyed by IE name. */
export function toAgentFields(record: FlowRecord, ipv6: boolean): Record<string, EncodableValue> {
  const v = ipv6 ? 'IPv6' : 'IPv4';
  const fields: Record<string, EncodableValue> = { ...record };
  fields[`source${v}Address`] = record.sourceIP;
  fields[`destination${v}Address`] = record.destinationIP;
  fields[`destinationCluster${v}`] = record.destinationClusterIP;
  fields[`destinationService${v}`] = record.destinationServiceIP;
  fields[`proxySnat${v}`] = record.proxySnatIP;
  return fields;
}

interface NodeSession {
  node: number;
  encoder: IpfixEncoder;
  send(message: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

async function openSession(node: number, options: ExportOptions): Promise<NodeSession> {
  const { collector } = options;
  const maxMessageBytes = collector.protocol === 'udp' ? (options.maxUdpMessageBytes ?? 1400) : 65535;
  const encoder = new IpfixEncoder({ observationDomainId: observationDomainOf(node), maxMessageBytes });
  encoder.defineTemplate(
    IPV4_TEMPLATE_ID,
    agentTemplateNames(false).map((name) => field(name)),
  );
  encoder.defineTemplate(
    IPV6_TEMPLATE_ID,
    agentTemplateNames(true).map((name) => field(name)),
  );
  if (collector.protocol === 'udp') {
    const socket: UdpSocket = createSocket(collector.host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(collector.port, collector.host, () => resolve());
    });
    return {
      node,
      encoder,
      send: (message) =>
        new Promise((resolve, reject) =>
          socket.send(message, (error) => (error ? reject(error) : resolve())),
        ),
      close: () => new Promise((resolve) => socket.close(() => resolve())),
    };
  }
  let socket: Socket;
  if (collector.protocol === 'tls') {
    socket = connectTls({
      host: collector.host,
      port: collector.port,
      minVersion: 'TLSv1.2',
      ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      ...(options.tls?.cert ? { cert: options.tls.cert } : {}),
      ...(options.tls?.key ? { key: options.tls.key } : {}),
      // SNI carries host names only (RFC 6066); an address is verified against the certificate's IP SANs.
      servername: options.tls?.serverName ?? (isIP(collector.host) ? undefined : collector.host),
    });
    await once(socket, 'secureConnect');
  } else {
    socket = connectTcp({ host: collector.host, port: collector.port });
    await once(socket, 'connect');
  }
  socket.setNoDelay(true);
  let failure: Error | undefined;
  socket.on('error', (error) => {
    failure = error;
  });
  return {
    node,
    encoder,
    send: async (message) => {
      if (failure) throw failure;
      if (!socket.write(message)) await once(socket, 'drain');
    },
    close: async () => {
      if (socket.destroyed) return;
      socket.end();
      await once(socket, 'close');
    },
  };
}

/** Runs the whole simulation against a collector and returns the ground truth of what was sent. */
export async function exportSimulation(
  sim: ClusterSimulation,
  options: ExportOptions,
): Promise<SimulationReport> {
  const sessions: NodeSession[] = [];
  const sent: SentRecord[] | undefined = options.keepSent ? [] : undefined;
  let messages = 0;
  let bytes = 0;
  const udp = options.collector.protocol === 'udp';
  try {
    for (let node = 0; node < sim.options.nodes; node++) sessions.push(await openSession(node, options));
    const send = async (session: NodeSession, message: Uint8Array) => {
      await session.send(message);
      messages++;
      bytes += message.length;
      // Over UDP give the receiver a turn now and then: a loopback burst can overrun its socket buffer.
      if (udp && messages % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    };
    let first = true;
    for (let poll = sim.nextExport(); poll; poll = sim.nextExport()) {
      if (!first && options.pace) await options.pace.sleep(sim.options.pollIntervalSeconds * 1000);
      for (const session of sessions) {
        if (first || udp) await send(session, session.encoder.templateMessage(poll.exportTime));
        const records = poll.byNode[session.node]!;
        for (const ipv6 of [false, true]) {
          const subset = records.filter((r) => r.ipv6 === ipv6);
          if (subset.length === 0) continue;
          const sequenceBefore = session.encoder.sequenceNumber;
          const encoded = session.encoder.dataMessages(
            ipv6 ? IPV6_TEMPLATE_ID : IPV4_TEMPLATE_ID,
            subset.map((r) => toAgentFields(r.record, ipv6)),
            poll.exportTime,
          );
          for (const message of encoded) await send(session, message);
          if (sent) {
            subset.forEach((r, k) => {
              sent.push({
                node: nodeName(session.node),
                observationDomainId: session.encoder.observationDomainId,
                sequenceNumber: (sequenceBefore + k) >>> 0,
                exportTime: poll.exportTime,
                record: r.record,
              });
            });
          }
        }
      }
      first = false;
    }
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
  return { truth: sim.groundTruth(), messages, bytes, ...(sent ? { sent } : {}) };
}
