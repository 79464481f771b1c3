// Limits on TCP/TLS exporter connections, against connection floods and slow senders (slowloris): at most
// maxConnections open at once and maxConnectionsPerSource from one address (refused beyond, before any TLS
// handshake), closed after idleMs without a byte, and closed when an incomplete IPFIX message has been
// waiting for its rest longer than partialMessageMs. Every trip is counted
// (flowline_collector_limit_trips_total{limit}) and logged (rate-limited). One guard serves every stream
// listener of a collector, so the totals hold across them.
import type { Socket } from 'node:net';
import type { Logger, LogThrottle } from './log.ts';
import type { CollectorMetrics } from './metrics.ts';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleMs: number;
  partialMessageMs: number;
}

export type ConnectionLimit =
  | 'connections'
  | 'connections-per-source'
  | 'connection-idle'
  | 'partial-message-age';

export class ConnectionGuard {
  private open = 0;
  private readonly perSource = new Map<string, number>();
  /** Sockets holding part of a message, and since when. */
  private readonly partialSince = new Map<Socket, number>();
  /** Sockets refused here, so the TLS server's error for them is not counted a second time. */
  private readonly refusedSockets = new WeakSet<Socket>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly metrics: CollectorMetrics,
    private readonly logger: Logger,
    private readonly logThrottle: LogThrottle,
    private readonly now: () => number,
  ) {}

  get openConnections(): number {
    return this.open;
  }

  /**
   * Admits a new connection (its raw socket) or destroys it when a limit is reached. Admitted sockets get
   * the idle timeout and are counted until they close.
   */
  admit(socket: Socket, transport: 'tcp' | 'tls'): boolean {
    const source = socket.remoteAddress ?? '';
    const fromSource = this.perSource.get(source) ?? 0;
    const limit: ConnectionLimit | undefined =
      this.open >= this.limits.maxConnections
        ? 'connections'
        : fromSource >= this.limits.maxConnectionsPerSource
          ? 'connections-per-source'
          : undefined;
    if (limit) {
      this.metrics.connections.labels(transport, `refused-${limit}`).inc();
      this.trip(limit, { source, open: this.open, fromSource });
      this.refusedSockets.add(socket);
      socket.destroy();
      return false;
    }
    this.open++;
    this.perSource.set(source, fromSource + 1);
    socket.setTimeout(this.limits.idleMs);
    socket.on('timeout', () => {
      this.trip('connection-idle', { source, idleMs: this.limits.idleMs });
      socket.destroy();
    });
    socket.once('close', () => {
      this.open--;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left <= 0) this.perSource.delete(source);
      else this.perSource.set(source, left);
      this.partialSince.delete(socket);
    });
    this.startSweep();
    return true;
  }

  /** Whether this raw socket was refused by a limit (already counted). */
  refused(socket: Socket | undefined): boolean {
    return socket !== undefined && this.refusedSockets.has(socket);
  }

  /** After each chunk: whether `socket` now holds part of a message (`pendingBytes` > 0) and since when. */
  noteProgress(socket: Socket, pendingBytes: number): void {
    if (pendingBytes === 0) this.partialSince.delete(socket);
    else if (!this.partialSince.has(socket)) this.partialSince.set(socket, this.now());
  }

  /** Closes connections whose incomplete message is older than partialMessageMs. */
  sweep(): void {
    const cutoff = this.now() - this.limits.partialMessageMs;
    for (const [socket, since] of this.partialSince) {
      if (since >= cutoff) continue;
      this.partialSince.delete(socket);
      this.trip('partial-message-age', { source: socket.remoteAddress, ageMs: this.now() - since });
      socket.destroy();
    }
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private startSweep(): void {
    if (this.sweepTimer) return;
    const every = Math.max(50, Math.min(1000, Math.floor(this.limits.partialMessageMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private trip(limit: ConnectionLimit, fields: Record<string, unknown>): void {
    this.metrics.limitTrips.labels(limit).inc();
    if (this.logThrottle.allow(`limit:${limit}`))
      this.logger.warn('exporter connection limit reached; connection closed', { limit, ...fields });
  }
}
