// Exporting process towards an external IPFIX collector (go-ipfix collector, ELK, any IPFIX tool), as
// Antrea's Flow Aggregator with flowCollector.enable: transport tcp, tls (TCP + TLS 1.2+) or udp, record
// format IPFIX or JSON (Node's net, tls and dgram; bytes from antrea-ipfix.ts).
//
// Per connection, as go-ipfix's InitExportingProcess: a fresh sequence number, templates 256 (IPv4) and
// 257 (IPv6) sent first; over UDP templates are sent again every templateRefreshMs (Antrea's
// templateRefreshTimeout, 600 s). In JSON format no template is sent. A failed write closes the
// connection; the next delivery reconnects and sends the templates again.
//
// Over UDP nothing reports a lost datagram (as with go-ipfix): delivery there is best effort. Over TCP
// and TLS delivery is at least once, never exactly once: IPFIX has no acknowledgement and no
// deduplication. A batch whose write fails is sent again whole, on a new connection, so the collector
// may see some of its records twice. Bytes the kernel accepted on a connection the collector then reset are lost without any
// error (TCP gives the sender no receipt); a collector that closes its side is noticed at once (its FIN)
// and the next batch goes out on a new connection.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { AggregatedRecordEncoder, jsonRecordLine } from './antrea-ipfix.ts';
import type { ExportedBatch } from './exported-row.ts';

export type CollectorTransport = 'tcp' | 'tls' | 'udp';
export type RecordFormat = 'IPFIX' | 'JSON';

export interface CollectorTlsOptions {
  /** PEM CA bundle for the collector's certificate; the system roots when unset. */
  ca?: string;
  /** PEM client certificate and key, when the collector verifies clients. */
  cert?: string;
  key?: string;
  serverName?: string;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface IpfixExporterOptions {
  transport: CollectorTransport;
  host: string;
  port: number;
  format: RecordFormat;
  observationDomainId: number;
  /** clusterId IE: Antrea's configurable clusterID, the cluster UUID by default. */
  clusterId: string;
  /** Largest IPFIX message: 65535 on TCP; on UDP the path MTU less IP and UDP headers. */
  maxMessageBytes: number;
  templateRefreshMs: number;
  connectTimeoutMs: number;
  /** The TLS options, or what gives them on each connection (collector-tls.ts: a secret read then). */
  tls?: CollectorTlsOptions | (() => Promise<CollectorTlsOptions>);
  /** Epoch ms. */
  clock: () => number;
}

/** Defaults of Antrea's flowCollector section, where Flowline has a choice to make. */
export const EXPORTER_DEFAULTS = {
  format: 'IPFIX' as RecordFormat,
  templateRefreshMs: 600_000,
  tcpMaxMessageBytes: 65_535,
  /** 1500-byte MTU less 20 (IPv4) and 8 (UDP): what go-ipfix derives in a Pod on a plain Ethernet. */
  udpMaxMessageBytes: 1_472,
  connectTimeoutMs: 10_000,
};

interface Channel {
  /** Resolves once the bytes are handed to the kernel. */
  send(chunks: Uint8Array[]): Promise<void>;
  readonly alive: boolean;
  close(): void;
}

function streamChannel(socket: net.Socket): Channel {
  let alive = true;
  const dead = () => {
    alive = false;
  };
  socket.on('close', dead);
  socket.on('end', dead); // the collector closed its side: nothing more will be read
  socket.on('error', dead);
  socket.resume(); // a collector sends nothing; drain anything so 'end' is seen
  return {
    get alive() {
      return alive && !socket.destroyed;
    },
    send: (chunks) =>
      new Promise((resolve, reject) => {
        if (!alive) return reject(new Error('connection to the collector is closed'));
        socket.write(Buffer.concat(chunks), (error) => (error ? reject(error) : resolve()));
      }),
    close: () => {
      alive = false;
      socket.destroy();
    },
  };
}

function datagramChannel(socket: dgram.Socket): Channel {
  let alive = true;
  socket.on('error', () => {
    alive = false;
  });
  return {
    get alive() {
      return alive;
    },
    async send(chunks) {
      for (const chunk of chunks) {
        await new Promise<void>((resolve, reject) =>
          socket.send(chunk, (error) => (error ? reject(error) : resolve())),
        );
      }
    },
    close: () => {
      alive = false;
      socket.close();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connect(options: IpfixExporterOptions): Promise<Channel> {
  const { transport, host, port, connectTimeoutMs } = options;
  const where = `${transport}://${host}:${port}`;
  if (transport === 'udp') {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.connect(port, host, () => {
            socket.off('error', reject);
            resolve();
          });
        }),
        connectTimeoutMs,
        `connect ${where}`,
        () => undefined,
      );
    } catch (error) {
      socket.close();
      throw error;
    }
    return datagramChannel(socket);
  }
  // A secret read that hangs must not hold the sink's worker: it gets the connection's time limit.
  const tlsOptions =
    typeof options.tls === 'function'
      ? await withTimeout(options.tls(), connectTimeoutMs, `TLS material for ${where}`, () => undefined)
      : options.tls;
  const socket =
    transport === 'tls'
      ? tls.connect({
          host,
          port,
          ca: tlsOptions?.ca,
          cert: tlsOptions?.cert,
          key: tlsOptions?.key,
          servername: tlsOptions?.serverName ?? (net.isIP(host) ? undefined : host),
          minVersion: tlsOptions?.minVersion ?? 'TLSv1.2',
        })
      : net.connect({ host, port });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve();
      });
    }),
    connectTimeoutMs,
    `connect ${where}`,
    () => socket.destroy(),
  );
  if (socket instanceof tls.TLSSocket) await serverVerdict(socket, where);
  socket.setNoDelay(true);
  return streamChannel(socket);
}

/**
 * How long a TLS 1.3 connection waits for the collector's verdict on the client (below). Collectors send
 * their session tickets within a round trip; one that sends none costs this once per connection.
 */
const TLS13_VERDICT_MS = 1000;

/**
 * In TLS 1.3 the client's handshake is over before the server has checked the client's certificate (or
 * its absence): a collector that refuses it says so by an alert after 'secureConnect'. Bytes written in
 * between would be accepted by the kernel and lost, counted as sent, for every batch of every connection.
 * So wait for the first sign of acceptance (the server's session ticket, sent once it has verified the
 * client), or for the refusal, before the first batch; TLS 1.2 verifies the client inside the handshake.
 */
async function serverVerdict(socket: tls.TLSSocket, where: string): Promise<void> {
  if (socket.getProtocol() !== 'TLSv1.3') return;
  socket.resume(); // read, so the ticket or the alert is seen (a collector sends nothing else)
  let settle = (_error?: Error) => {};
  const verdict = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => settle(), TLS13_VERDICT_MS);
    settle = (error) => {
      clearTimeout(timer);
      socket.off('session', accepted).off('error', refused).off('close', closed);
      if (error) reject(error);
      else resolve();
    };
  });
  // Not at once: a write made while Node is still inside the ticket's callback is lost (Node 22).
  const accepted = () => setImmediate(() => settle());
  const refused = (error: Error) => settle(new Error(`${where} refused the connection: ${error.message}`));
  const closed = () => settle(new Error(`${where} closed the connection after the TLS handshake`));
  socket.once('session', accepted).once('error', refused).once('close', closed);
  try {
    await verdict;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

export class IpfixExporter {
  private channel: Channel | undefined;
  private encoder: AggregatedRecordEncoder | undefined;
  private templatesSentAt = 0;

  constructor(private readonly options: IpfixExporterOptions) {}

  get name(): string {
    const { transport, host, port, format } = this.options;
    return `${format} ${transport}://${host}:${port}`;
  }

  /** True while a connection is open and the collector has not closed it. */
  get connected(): boolean {
    return this.channel?.alive === true;
  }

  async deliver(batch: ExportedBatch): Promise<void> {
    if (batch.rows.length === 0) return;
    const channel = await this.openChannel();
    try {
      await this.refreshTemplatesIfDue(channel);
      await channel.send(this.encode(batch));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
    this.encoder = undefined;
  }

  private encode(batch: ExportedBatch): Uint8Array[] {
    const nowMs = this.options.clock();
    if (this.options.format === 'JSON') {
      const lines = batch.rows.map((row) => jsonRecordLine(row, this.options.clusterId, nowMs));
      // go-ipfix writes each JSON record on its own: one datagram per record over UDP.
      return this.options.transport === 'udp'
        ? lines.map((line) => Buffer.from(line))
        : [Buffer.from(lines.join(''))];
    }
    return this.encoder!.dataMessages(batch.rows, Math.floor(nowMs / 1000));
  }

  private async openChannel(): Promise<Channel> {
    if (this.channel?.alive) return this.channel;
    this.close();
    const channel = await connect(this.options);
    const { observationDomainId, clusterId, maxMessageBytes } = this.options;
    this.encoder = new AggregatedRecordEncoder(observationDomainId, clusterId, maxMessageBytes);
    this.channel = channel;
    this.templatesSentAt = Number.NEGATIVE_INFINITY;
    return channel;
  }

  private async refreshTemplatesIfDue(channel: Channel): Promise<void> {
    if (this.options.format === 'JSON') return;
    const now = this.options.clock();
    const due =
      this.templatesSentAt === Number.NEGATIVE_INFINITY ||
      (this.options.transport === 'udp' && now - this.templatesSentAt >= this.options.templateRefreshMs);
    if (!due) return;
    await channel.send([this.encoder!.templateMessage(Math.floor(now / 1000))]);
    this.templatesSentAt = now;
  }
}
