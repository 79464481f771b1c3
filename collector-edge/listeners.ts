// The IPFIX listeners: UDP (one transport session per exporter address and port), TCP and TLS (one session
// per connection, messages framed by their length field). TCP/TLS readers pause while the spool is over its
// limit (the exporter's socket buffer fills and it slows down); UDP cannot push back, so datagrams that
// arrive then are dropped and counted.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer as createTcpServer, isIPv6, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { ListenSpec, TlsFiles } from './config.ts';
import type { ConnectionGuard } from './connection-guard.ts';
import type { IngestPipeline, IngestSession } from './ingest.ts';
import { IpfixStreamFramer } from './ipfix/index.ts';
import type { Logger, LogThrottle } from './log.ts';
import type { CollectorMetrics, Transport } from './metrics.ts';
import { readUdpDrops } from './udp-drops.ts';

export interface Listener {
  readonly spec: ListenSpec;
  /** The bound port (differs from spec.port when that is 0). */
  readonly port: number;
  setPaused(paused: boolean): void;
  /** Stops accepting and closes every session (input not yet read is not accepted). */
  close(): Promise<void>;
}

export interface ListenerContext {
  ingest: IngestPipeline;
  metrics: CollectorMetrics;
  logger: Logger;
  logThrottle: LogThrottle;
  isPaused: () => boolean;
  now: () => number;
}

function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** IPv4-mapped IPv6 peers (dual-stack sockets) are reported as IPv4. */
function peerAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * At the UDP session cap a new exporter address + port replaces the least recently seen session (a flood
 * of source ports cycles through its own sessions, while active exporters keep theirs). Counted and logged.
 */
function evictLeastRecentSession(
  sessions: Map<number, Map<string, IngestSession>>,
  context: ListenerContext,
  maxSessions: number,
): void {
  let oldest: { session: IngestSession; address: string; byAddress: Map<string, IngestSession> } | undefined;
  for (const byAddress of sessions.values()) {
    for (const [address, session] of byAddress) {
      if (!oldest || session.lastSeenMs < oldest.session.lastSeenMs) oldest = { session, address, byAddress };
    }
  }
  if (!oldest) return;
  context.ingest.closeSession(oldest.session);
  oldest.byAddress.delete(oldest.address);
  const oldestSession = oldest.session;
  context.metrics.limitTrips.labels('udp-sessions').inc();
  if (context.logThrottle.allow('limit:udp-sessions'))
    context.logger.warn('UDP session limit reached; least recently seen session closed', {
      limit: 'FLOWLINE_MAX_UDP_SESSIONS',
      maxSessions,
      closed: oldestSession.session.id,
    });
}

/**
 * The UDP listener's work per datagram, apart from the socket: the exporter's transport session (found by
 * exporter port, then address, without building a key string per datagram; opened, evicted and swept
 * here), then the ingest pipeline. bench/collector-ingest-instructions.ts feeds it datagrams directly.
 */
export class UdpSessionTable {
  private readonly sessions = new Map<number, Map<string, IngestSession>>();
  /** Sessions across the map, bounded by maxSessions. */
  private sessionCount = 0;
  private readonly input: CollectorMetrics['input']['udp'];
  private readonly backpressureDrops: { inc(): void };

  constructor(
    private readonly context: ListenerContext,
    private readonly local: string,
    private readonly maxSessions: number,
  ) {
    this.input = context.metrics.input.udp;
    this.backpressureDrops = context.metrics.drops.labels('udp-backpressure');
  }

  /** One datagram from `remote` (the socket's 'message' event). */
  receive(message: Buffer, remote: { address: string; port: number }): void {
    this.input.bytes += message.length;
    if (this.context.isPaused()) {
      this.backpressureDrops.inc();
      return;
    }
    const { ingest } = this.context;
    let byAddress = this.sessions.get(remote.port);
    if (byAddress === undefined) {
      byAddress = new Map();
      this.sessions.set(remote.port, byAddress);
    }
    let session = byAddress.get(remote.address);
    if (session === undefined) {
      if (this.sessionCount >= this.maxSessions) {
        evictLeastRecentSession(this.sessions, this.context, this.maxSessions);
        this.sessionCount -= 1;
      }
      this.sessionCount += 1;
      session = ingest.openSession('udp', peerAddress(remote.address), remote.port, this.local);
      byAddress.set(remote.address, session);
    }
    if (ingest.handleMessage(message, session) === 'template-flood') {
      ingest.closeSession(session);
      byAddress.delete(remote.address);
      this.sessionCount -= 1;
    }
  }

  /** Forgets exporters not seen since `cutoffMs` (and their templates). */
  sweep(cutoffMs: number): void {
    for (const [exporterPort, byAddress] of this.sessions) {
      for (const [address, session] of byAddress) {
        if (session.lastSeenMs >= cutoffMs) continue;
        this.context.ingest.closeSession(session);
        byAddress.delete(address);
        this.sessionCount -= 1;
      }
      if (byAddress.size === 0) this.sessions.delete(exporterPort);
    }
  }

  closeAll(): void {
    for (const byAddress of this.sessions.values())
      for (const session of byAddress.values()) this.context.ingest.closeSession(session);
    this.sessions.clear();
    this.sessionCount = 0;
  }
}

export async function startUdpListener(
  spec: ListenSpec,
  context: ListenerContext,
  options: { receiveBufferBytes: number; sessionIdleMs: number; maxSessions: number; dropCheckMs?: number },
): Promise<Listener> {
  const socket: UdpSocket = createSocket({ type: isIPv6(spec.host) ? 'udp6' : 'udp4' });
  const local = hostPort(spec.host, spec.port);
  const sessions = new UdpSessionTable(context, local, options.maxSessions);
  socket.on('message', (message, remote) => sessions.receive(message, remote));
  socket.on('error', (error) => context.logger.error('UDP listener error', { error, listen: local }));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(spec.port, spec.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    socket.setRecvBufferSize(options.receiveBufferBytes);
  } catch (error) {
    context.logger.warn('could not set the UDP receive buffer size', {
      error,
      wanted: options.receiveBufferBytes,
    });
  }
  // Linux reports twice the size asked for (its bookkeeping share), capped at 2 x net.core.rmem_max.
  const granted = socket.getRecvBufferSize();
  if (granted < options.receiveBufferBytes)
    context.logger.warn('UDP receive buffer smaller than configured (raise net.core.rmem_max)', {
      wanted: options.receiveBufferBytes,
      granted,
    });
  const port = socket.address().port;
  // Forget idle exporters (and their templates), like go-ipfix's UDP template expiry.
  const sweep = setInterval(
    () => sessions.sweep(context.now() - options.sessionIdleMs),
    Math.min(60_000, options.sessionIdleMs),
  );
  sweep.unref();
  const kernelDrops = watchKernelDrops(port, context, options.dropCheckMs ?? 1000);
  return {
    spec,
    port,
    setPaused: () => {},
    close: async () => {
      clearInterval(sweep);
      kernelDrops.stop();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      sessions.closeAll();
    },
  };
}

/**
 * Counts the datagrams the kernel dropped because the socket's receive buffer was full (Linux's per-socket
 * counter, udp-drops.ts), as drops{reason="udp-kernel-buffer"}: otherwise they would be lost unseen.
 */
function watchKernelDrops(port: number, context: ListenerContext, everyMs: number): { stop: () => void } {
  const counter = context.metrics.drops.labels('udp-kernel-buffer');
  if (!existsSync('/proc/net/udp')) return { stop: () => {} }; // no per-socket counter on this platform
  // A new socket's counter starts at 0. A reading can come back empty (the listing is read in pages while
  // other sockets come and go): that check is skipped.
  let last = 0;
  const check = () => {
    const now = readUdpDrops(port);
    if (now === undefined || now <= last) return;
    counter.inc(now - last);
    if (context.logThrottle.allow('udp-kernel-drops'))
      context.logger.warn('the kernel dropped UDP datagrams: receive buffer full', {
        datagrams: now - last,
        port,
      });
    last = now;
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  return {
    stop: () => {
      check();
      clearInterval(timer);
    },
  };
}

/** Serves one TCP or TLS connection: frames the stream into messages and feeds them to the pipeline. */
function serveConnection(
  socket: Socket,
  transport: Exclude<Transport, 'udp'>,
  local: string,
  context: ListenerContext,
  open: Set<Socket>,
  guard: ConnectionGuard,
): void {
  const { ingest, metrics } = context;
  const session = ingest.openSession(
    transport,
    peerAddress(socket.remoteAddress),
    socket.remotePort ?? 0,
    local,
  );
  // Socket 'data' buffers are fresh allocations the socket never touches again.
  const framer = new IpfixStreamFramer({ immutableChunks: true });
  const input = metrics.input[transport];
  open.add(socket);
  if (context.isPaused()) socket.pause();
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    if (closed) return;
    input.bytes += chunk.length;
    const { messages, errors } = framer.push(chunk);
    guard.noteProgress(socket, framer.pending);
    if (errors.length > 0) ingest.countErrors(errors, session);
    for (const message of messages) {
      if (ingest.handleMessage(message.bytes, session) === 'template-flood') {
        closed = true;
        socket.destroy();
        return;
      }
    }
  });
  socket.on('error', (error) => {
    if (context.logThrottle.allow(`socket:${transport}`))
      context.logger.warn('exporter connection error', { error, session: session.session.id });
  });
  socket.on('close', () => {
    open.delete(socket);
    guard.noteProgress(socket, 0);
    // An exporter that disconnects mid-message leaves a truncated message: counted, the rest is kept.
    ingest.countErrors(framer.finish(), session);
    ingest.closeSession(session);
  });
}

export interface TlsContextSource {
  options(): { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Modification stamp of the files, to reload a rotated Kubernetes Secret. */
  stamp(): string;
}

export function tlsFilesSource(files: TlsFiles): TlsContextSource {
  const paths = [files.certFile, files.keyFile, ...(files.caFile ? [files.caFile] : [])];
  return {
    options: () => ({
      cert: readFileSync(files.certFile),
      key: readFileSync(files.keyFile),
      ...(files.caFile ? { ca: readFileSync(files.caFile) } : {}),
    }),
    stamp: () =>
      paths
        .map((p) => {
          try {
            const s = statSync(p);
            return `${s.mtimeMs}:${s.size}:${s.ino}`;
          } catch {
            return 'missing';
          }
        })
        .join('|'),
  };
}

export async function startStreamListener(
  spec: ListenSpec,
  context: ListenerContext,
  guard: ConnectionGuard,
  tls?: { files: TlsFiles; source: TlsContextSource; reloadCheckMs: number },
): Promise<Listener> {
  const open = new Set<Socket>();
  const transport: Exclude<Transport, 'udp'> = tls ? 'tls' : 'tcp';
  const local = hostPort(spec.host, spec.port);
  let server: Server | TlsServer;
  let reloadTimer: NodeJS.Timeout | undefined;
  const accepted = context.metrics.connections.labels(transport, 'accepted');
  if (tls) {
    const clientAuth = tls.files.clientAuth;
    const tlsServer = createTlsServer(
      {
        ...tls.source.options(),
        minVersion: 'TLSv1.2',
        requestCert: clientAuth !== 'none',
        rejectUnauthorized: clientAuth === 'require',
      },
      (socket: TLSSocket) => {
        accepted.inc();
        if (clientAuth === 'optional' && !socket.authorized && socket.getPeerCertificate()?.subject)
          context.logger.warn('client certificate not verified (tls-client-auth=optional)', {
            peer: socket.remoteAddress,
            error: String(socket.authorizationError),
          });
        serveConnection(socket, 'tls', local, context, open, guard);
      },
    );
    // Limits apply before the handshake: a refused connection costs no TLS work.
    tlsServer.on('connection', (raw: Socket) => guard.admit(raw, 'tls'));
    tlsServer.on('tlsClientError', (error, socket) => {
      // A connection the guard refused fails its handshake too: counted once, as refused.
      if (guard.refused((socket as TLSSocket & { _parent?: Socket })._parent)) return;
      context.metrics.connections.labels('tls', 'handshake-failed').inc();
      if (context.logThrottle.allow('tls-handshake'))
        context.logger.warn('TLS handshake failed', { error, peer: socket.remoteAddress });
    });
    // A mounted Kubernetes Secret is updated in place on rotation: pick up the new files.
    let stamp = tls.source.stamp();
    reloadTimer = setInterval(() => {
      const now = tls.source.stamp();
      if (now === stamp) return;
      try {
        tlsServer.setSecureContext({ ...tls.source.options(), minVersion: 'TLSv1.2' });
        stamp = now;
        context.logger.info('TLS certificate reloaded', { listen: local });
      } catch (error) {
        context.logger.error('TLS certificate reload failed; keeping the previous one', { error });
      }
    }, tls.reloadCheckMs);
    reloadTimer.unref();
    server = tlsServer;
  } else {
    server = createTcpServer((socket) => {
      if (!guard.admit(socket, 'tcp')) return;
      accepted.inc();
      serveConnection(socket, 'tcp', local, context, open, guard);
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => context.logger.error('listener error', { error, listen: local }));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : spec.port;
  return {
    spec,
    port,
    setPaused: (paused) => {
      for (const socket of open) {
        if (paused) socket.pause();
        else socket.resume();
      }
    },
    close: async () => {
      if (reloadTimer) clearInterval(reloadTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}
