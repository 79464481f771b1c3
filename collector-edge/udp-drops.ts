// The kernel's drops of a UDP listener's datagrams (its receive buffer was full), from Linux's per-socket
// counter: the `drops` column of /proc/net/udp and /proc/net/udp6, found by the socket's local port. Other
// platforms expose no per-socket figure: undefined there, and the metric stays absent.
import { readFileSync } from 'node:fs';

const PROC_FILES = ['/proc/net/udp', '/proc/net/udp6'];

/**
 * Sum of the `drops` column over the sockets bound to local `port` in a /proc/net/udp(6) listing, or
 * undefined when none is listed.
 */
export function udpSocketDrops(listing: string, port: number): number | undefined {
  const lines = listing.split('\n');
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  // The header names "tx_queue rx_queue" and "tr tm->when" as two columns each where rows have one.
  const dropsColumn = header.indexOf('drops') - 2;
  if (dropsColumn < 0) return undefined;
  let total: number | undefined;
  for (const line of lines.slice(1)) {
    const columns = line.trim().split(/\s+/);
    const local = columns[1];
    if (!local || Number.parseInt(local.slice(local.indexOf(':') + 1), 16) !== port) continue;
    const drops = Number(columns[dropsColumn]);
    if (Number.isFinite(drops)) total = (total ?? 0) + drops;
  }
  return total;
}

/** Reads the kernel's drop counter of the UDP sockets bound to `port` (undefined off Linux). */
export function readUdpDrops(port: number): number | undefined {
  let total: number | undefined;
  for (const file of PROC_FILES) {
    let listing: string;
    try {
      listing = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const drops = udpSocketDrops(listing, port);
    if (drops !== undefined) total = (total ?? 0) + drops;
  }
  return total;
}
