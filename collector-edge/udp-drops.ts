// The kernel's drops of a UDP listener's datagrams (its receive buffer was full), from Linux's per-socket
// counter: the `drops` column of /proc/net/udp and /proc/net/udp6, found by the socket's local port; and
// the bytes waiting in its receive queue (`rx_queue`, what the benchmark's sender paces itself on). Other
// platforms expose no per-socket figure: undefined there, and the metric stays absent.
import { readFileSync } from 'node:fs';

const PROC_FILES = ['/proc/net/udp', '/proc/net/udp6'];

export interface UdpSocketStats {
  /** Datagrams the kernel dropped (receive buffer full). */
  drops: number;
  /** Bytes waiting in the receive queue (kernel accounting: each datagram with its buffer overhead). */
  receiveQueueBytes: number;
}

/**
 * Sums over the sockets bound to local `port` in a /proc/net/udp(6) listing, or undefined when none is
 * listed.
 */
export function udpSocketStats(listing: string, port: number): UdpSocketStats | undefined {
  const headerEnd = listing.indexOf('\n');
  const header = listing
    .slice(0, headerEnd < 0 ? undefined : headerEnd)
    .trim()
    .split(/\s+/);
  // The header names "tx_queue rx_queue" and "tr tm->when" as two columns each where rows have one.
  const dropsColumn = header.indexOf('drops') - 2;
  if (dropsColumn < 0 || headerEnd < 0) return undefined;
  // Only the lines naming the port are split (the listing has a line per UDP socket of the host or Pod).
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  let total: UdpSocketStats | undefined;
  for (let at = listing.indexOf(needle, headerEnd); at >= 0; ) {
    const lineStart = listing.lastIndexOf('\n', at) + 1;
    const found = listing.indexOf('\n', at);
    const lineEnd = found < 0 ? listing.length : found;
    at = listing.indexOf(needle, lineEnd);
    const columns = listing.slice(lineStart, lineEnd).trim().split(/\s+/);
    const local = columns[1];
    if (!local || Number.parseInt(local.slice(local.indexOf(':') + 1), 16) !== port) continue;
    const drops = Number(columns[dropsColumn]);
    const queues = columns[4] ?? ''; // tx_queue:rx_queue, hexadecimal
    const receiveQueueBytes = Number.parseInt(queues.slice(queues.indexOf(':') + 1), 16);
    if (!Number.isFinite(drops) || !Number.isFinite(receiveQueueBytes)) continue;
    total ??= { drops: 0, receiveQueueBytes: 0 };
    total.drops += drops;
    total.receiveQueueBytes += receiveQueueBytes;
  }
  return total;
}

/** The kernel's figures for the UDP sockets bound to `port` (undefined off Linux). */
export function readUdpSocketStats(port: number): UdpSocketStats | undefined {
  let total: UdpSocketStats | undefined;
  for (const file of PROC_FILES) {
    let listing: string;
    try {
      listing = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const stats = udpSocketStats(listing, port);
    if (stats === undefined) continue;
    total ??= { drops: 0, receiveQueueBytes: 0 };
    total.drops += stats.drops;
    total.receiveQueueBytes += stats.receiveQueueBytes;
  }
  return total;
}

/** The kernel's drop counter of the UDP sockets bound to `port` (undefined off Linux). */
export function readUdpDrops(port: number): number | undefined {
  return readUdpSocketStats(port)?.drops;
}
