// Test helper: builds pcap files of synthetic Ethernet/IPv4/IPv6/UDP/TCP packets (loopback addresses).
import { parseIP } from '../../../core/ip.ts';

export interface PacketSpec {
  timestampMs: number;
  frame: Uint8Array;
}

function checksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length % 2) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ethernet(etherType: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(14 + payload.length);
  frame.set([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1], 0);
  frame[12] = etherType >> 8;
  frame[13] = etherType & 0xff;
  frame.set(payload, 14);
  return frame;
}

function ipv4(
  source: string,
  destination: string,
  protocol: number,
  payload: Uint8Array,
  id = 1,
): Uint8Array {
  const ip = new Uint8Array(20 + payload.length);
  const total = ip.length;
  ip.set([0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff, 0x40, 0, 64, protocol, 0, 0]);
  ip.set(parseIP(source)!, 12);
  ip.set(parseIP(destination)!, 16);
  const sum = checksum(ip.subarray(0, 20));
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  ip.set(payload, 20);
  return ip;
}

function ipv6(source: string, destination: string, protocol: number, payload: Uint8Array): Uint8Array {
  const ip = new Uint8Array(40 + payload.length);
  ip.set([0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, protocol, 64]);
  ip.set(parseIP(source)!, 8);
  ip.set(parseIP(destination)!, 24);
  ip.set(payload, 40);
  return ip;
}

function pseudoHeaderChecksum(
  source: string,
  destination: string,
  protocol: number,
  segment: Uint8Array,
): number {
  const s = parseIP(source)!;
  const d = parseIP(destination)!;
  const pseudo = new Uint8Array(s.length * 2 + 4 + segment.length + (segment.length % 2));
  pseudo.set(s, 0);
  pseudo.set(d, s.length);
  const o = s.length * 2;
  pseudo[o + 1] = protocol;
  pseudo[o + 2] = segment.length >> 8;
  pseudo[o + 3] = segment.length & 0xff;
  pseudo.set(segment, o + 4);
  return checksum(pseudo);
}

function ipFrame(
  source: string,
  destination: string,
  protocol: number,
  segment: Uint8Array,
  id?: number,
): Uint8Array {
  return source.includes(':')
    ? ethernet(0x86dd, ipv6(source, destination, protocol, segment))
    : ethernet(0x0800, ipv4(source, destination, protocol, segment, id));
}

export function udpFrame(
  source: string,
  sourcePort: number,
  destination: string,
  destinationPort: number,
  payload: Uint8Array,
): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  udp.set([
    sourcePort >> 8,
    sourcePort & 0xff,
    destinationPort >> 8,
    destinationPort & 0xff,
    udp.length >> 8,
    udp.length & 0xff,
  ]);
  udp.set(payload, 8);
  const sum = pseudoHeaderChecksum(source, destination, 17, udp) || 0xffff;
  udp[6] = sum >> 8;
  udp[7] = sum & 0xff;
  return ipFrame(source, destination, 17, udp);
}

export const TcpFlags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export function tcpFrame(
  source: string,
  sourcePort: number,
  destination: string,
  destinationPort: number,
  sequence: number,
  acknowledgement: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const tcp = new Uint8Array(20 + payload.length);
  const w = (o: number, v: number) => {
    tcp[o] = (v >>> 24) & 0xff;
    tcp[o + 1] = (v >>> 16) & 0xff;
    tcp[o + 2] = (v >>> 8) & 0xff;
    tcp[o + 3] = v & 0xff;
  };
  tcp.set([sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff]);
  w(4, sequence >>> 0);
  w(8, acknowledgement >>> 0);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp[14] = 0xff;
  tcp[15] = 0xff;
  tcp.set(payload, 20);
  const sum = pseudoHeaderChecksum(source, destination, 6, tcp);
  tcp[16] = sum >> 8;
  tcp[17] = sum & 0xff;
  return ipFrame(source, destination, 6, tcp);
}

/** A classic pcap file (microsecond timestamps, Ethernet). */
export function pcapFile(packets: PacketSpec[]): Uint8Array {
  const size = 24 + packets.reduce((n, p) => n + 16 + p.frame.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 262144, true);
  view.setUint32(20, 1, true);
  let o = 24;
  for (const p of packets) {
    view.setUint32(o, Math.floor(p.timestampMs / 1000), true);
    view.setUint32(o + 4, Math.round((p.timestampMs % 1000) * 1000), true);
    view.setUint32(o + 8, p.frame.length, true);
    view.setUint32(o + 12, p.frame.length, true);
    out.set(p.frame, o + 16);
    o += 16 + p.frame.length;
  }
  return out;
}

/** A pcapng file (one Ethernet interface, microsecond resolution) with the same packets. */
export function pcapngFile(packets: PacketSpec[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array) => {
    const padded = (body.length + 3) & ~3;
    const b = new Uint8Array(12 + padded);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, b.length, true);
    b.set(body, 8);
    v.setUint32(b.length - 4, b.length, true);
    blocks.push(b);
  };
  const shb = new Uint8Array(16);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, 0x1a2b3c4d, true);
  sv.setUint16(4, 1, true);
  sv.setBigInt64(8, -1n, true);
  block(0x0a0d0d0a, shb);
  const idb = new Uint8Array(8);
  new DataView(idb.buffer).setUint16(0, 1, true);
  new DataView(idb.buffer).setUint32(4, 262144, true);
  block(1, idb);
  for (const p of packets) {
    const body = new Uint8Array(20 + p.frame.length);
    const v = new DataView(body.buffer);
    const ticks = BigInt(Math.round(p.timestampMs * 1000));
    v.setUint32(0, 0, true);
    v.setUint32(4, Number(ticks >> 32n), true);
    v.setUint32(8, Number(ticks & 0xffffffffn), true);
    v.setUint32(12, p.frame.length, true);
    v.setUint32(16, p.frame.length, true);
    body.set(p.frame, 20);
    block(6, body);
  }
  const total = blocks.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** Synthetic traffic on 127.0.0.1: `flows` TCP connections (handshake, data, FIN) and UDP exchanges. */
export function syntheticTraffic(flows: number, startMs: number): PacketSpec[] {
  const packets: PacketSpec[] = [];
  let t = startMs;
  const next = (step: number): number => {
    t += step;
    return t;
  };
  for (let i = 0; i < flows; i++) {
    const client = 40000 + i;
    const server = [80, 443, 5432, 8080][i % 4]!;
    const a = '127.0.0.1';
    const b = '127.0.0.2';
    if (i % 3 === 2) {
      // UDP request/response pairs; every other one over IPv6 loopback
      const [x, y] = i % 2 === 1 ? ['::1', '::1'] : [a, b];
      for (let k = 0; k < 1 + (i % 4); k++) {
        packets.push({ timestampMs: next(3), frame: udpFrame(x, client, y, 53, new Uint8Array(40 + k)) });
        packets.push({ timestampMs: next(2), frame: udpFrame(y, 53, x, client, new Uint8Array(120 + k)) });
      }
      continue;
    }
    let cs = 1000 * (i + 1);
    let ss = 500000 * (i + 1);
    packets.push({ timestampMs: next(5), frame: tcpFrame(a, client, b, server, cs, 0, TcpFlags.SYN) });
    packets.push({
      timestampMs: next(1),
      frame: tcpFrame(b, server, a, client, ss, cs + 1, TcpFlags.SYN | TcpFlags.ACK),
    });
    cs++;
    ss++;
    packets.push({ timestampMs: next(1), frame: tcpFrame(a, client, b, server, cs, ss, TcpFlags.ACK) });
    for (let k = 0; k < 2 + (i % 5); k++) {
      const request = new Uint8Array(100 + 10 * k);
      packets.push({
        timestampMs: next(2),
        frame: tcpFrame(a, client, b, server, cs, ss, TcpFlags.ACK | TcpFlags.PSH, request),
      });
      cs += request.length;
      const response = new Uint8Array(900 + 50 * k);
      packets.push({
        timestampMs: next(3),
        frame: tcpFrame(b, server, a, client, ss, cs, TcpFlags.ACK | TcpFlags.PSH, response),
      });
      ss += response.length;
    }
    packets.push({
      timestampMs: next(1),
      frame: tcpFrame(a, client, b, server, cs, ss, TcpFlags.FIN | TcpFlags.ACK),
    });
    packets.push({
      timestampMs: next(1),
      frame: tcpFrame(b, server, a, client, ss, cs + 1, TcpFlags.FIN | TcpFlags.ACK),
    });
    packets.push({
      timestampMs: next(1),
      frame: tcpFrame(a, client, b, server, cs + 1, ss + 1, TcpFlags.ACK),
    });
  }
  return packets;
}
