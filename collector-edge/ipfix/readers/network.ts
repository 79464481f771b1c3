// Link / network / transport parsing for capture files: Ethernet (with VLAN tags), Linux cooked (SLL,
// SLL2), BSD loopback, raw IP; IPv4 (with fragment reassembly) and IPv6 (extension headers); UDP
// datagrams and TCP segments, reassembled in sequence order per connection.
import { formatIPv4, formatIPv6 } from '../../../core/ip.ts';

export interface TransportPacket {
  protocol: 'udp' | 'tcp';
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
  /** TCP only. */
  tcp?: { sequence: number; syn: boolean; fin: boolean; rst: boolean };
}

export type ParseOutcome = { packet: TransportPacket } | { skipped: string } | { problem: string };

const LINK_ETHERNET = 1;
const LINK_NULL = 0;
const LINK_RAW = [12, 14, 101];
const LINK_LOOP = 108;
const LINK_SLL = 113;
const LINK_SLL2 = 276;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;

export class PacketParser {
  private readonly fragments = new Map<
    string,
    { parts: Array<[number, Uint8Array]>; total: number; header: Uint8Array }
  >();

  parse(linkType: number, data: Uint8Array): ParseOutcome {
    let offset: number;
    let etherType: number | undefined;
    if (linkType === LINK_ETHERNET) {
      if (data.length < 14) return { problem: 'Ethernet header truncated' };
      etherType = (data[12]! << 8) | data[13]!;
      offset = 14;
      while ((etherType === 0x8100 || etherType === 0x88a8) && data.length >= offset + 4) {
        etherType = (data[offset + 2]! << 8) | data[offset + 3]!;
        offset += 4;
      }
    } else if (linkType === LINK_NULL || linkType === LINK_LOOP) {
      offset = 4;
    } else if (linkType === LINK_SLL) {
      if (data.length < 16) return { problem: 'Linux cooked header truncated' };
      etherType = (data[14]! << 8) | data[15]!;
      offset = 16;
    } else if (linkType === LINK_SLL2) {
      if (data.length < 20) return { problem: 'Linux cooked v2 header truncated' };
      etherType = (data[0]! << 8) | data[1]!;
      offset = 20;
    } else if (LINK_RAW.includes(linkType) || linkType === LINK_IPV4 || linkType === LINK_IPV6) {
      offset = 0;
    } else {
      return { skipped: `link type ${linkType}` };
    }
    if (etherType !== undefined && etherType !== 0x0800 && etherType !== 0x86dd) {
      return { skipped: `ethertype 0x${etherType.toString(16)}` };
    }
    if (data.length <= offset) return { problem: 'no network header' };
    const version = data[offset]! >> 4;
    if (version === 4) return this.ipv4(data.subarray(offset));
    if (version === 6) return this.ipv6(data.subarray(offset));
    return { skipped: `IP version ${version}` };
  }

  private ipv4(ip: Uint8Array): ParseOutcome {
    if (ip.length < 20) return { problem: 'IPv4 header truncated' };
    const headerLength = (ip[0]! & 0x0f) * 4;
    const totalLength = (ip[2]! << 8) | ip[3]!;
    if (headerLength < 20 || totalLength < headerLength || ip.length < headerLength) {
      return { problem: 'IPv4 header lengths invalid' };
    }
    // Captures may carry Ethernet padding after the datagram; a snapped packet is shorter.
    const end = Math.min(totalLength, ip.length);
    const protocol = ip[9]!;
    const source = formatIPv4(ip, 12);
    const destination = formatIPv4(ip, 16);
    const flags = (ip[6]! << 8) | ip[7]!;
    const moreFragments = (flags & 0x2000) !== 0;
    const fragmentOffset = (flags & 0x1fff) * 8;
    let payload = ip.subarray(headerLength, end);
    if (moreFragments || fragmentOffset > 0) {
      const key = `${source}|${destination}|${protocol}|${(ip[4]! << 8) | ip[5]!}`;
      const whole = this.reassemble(key, fragmentOffset, payload, moreFragments);
      if (!whole) return { skipped: 'IPv4 fragment (waiting for the rest)' };
      payload = whole;
    }
    return transport(protocol, source, destination, payload);
  }

  private reassemble(key: string, offset: number, data: Uint8Array, more: boolean): Uint8Array | undefined {
    let entry = this.fragments.get(key);
    if (!entry) {
      if (this.fragments.size > 1024) this.fragments.clear();
      entry = { parts: [], total: -1, header: new Uint8Array(0) };
      this.fragments.set(key, entry);
    }
    entry.parts.push([offset, new Uint8Array(data)]);
    if (!more) entry.total = offset + data.length;
    if (entry.total < 0) return undefined;
    entry.parts.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    for (const [at, part] of entry.parts) {
      if (at > covered) return undefined;
      covered = Math.max(covered, at + part.length);
    }
    if (covered < entry.total) return undefined;
    const whole = new Uint8Array(entry.total);
    for (const [at, part] of entry.parts) whole.set(part.subarray(0, Math.max(0, entry.total - at)), at);
    this.fragments.delete(key);
    return whole;
  }

  private ipv6(ip: Uint8Array): ParseOutcome {
    if (ip.length < 40) return { problem: 'IPv6 header truncated' };
    const payloadLength = (ip[4]! << 8) | ip[5]!;
    let next = ip[6]!;
    const source = formatIPv6(ip, 8);
    const destination = formatIPv6(ip, 24);
    let offset = 40;
    const end = Math.min(ip.length, 40 + payloadLength);
    // Hop-by-hop, routing, destination options: skip; fragment: not reassembled.
    while (next === 0 || next === 43 || next === 60 || next === 44) {
      if (end - offset < 8) return { problem: 'IPv6 extension header truncated' };
      if (next === 44) return { skipped: 'IPv6 fragment (not reassembled)' };
      const length = (ip[offset + 1]! + 1) * 8;
      next = ip[offset]!;
      offset += length;
    }
    if (offset > end) return { problem: 'IPv6 extension headers past the payload' };
    return transport(next, source, destination, ip.subarray(offset, end));
  }
}

function transport(protocol: number, source: string, destination: string, data: Uint8Array): ParseOutcome {
  if (protocol === 17) {
    if (data.length < 8) return { problem: 'UDP header truncated' };
    const length = (data[4]! << 8) | data[5]!;
    const end = length >= 8 && length <= data.length ? length : data.length;
    return {
      packet: {
        protocol: 'udp',
        source,
        destination,
        sourcePort: (data[0]! << 8) | data[1]!,
        destinationPort: (data[2]! << 8) | data[3]!,
        payload: data.subarray(8, end),
      },
    };
  }
  if (protocol === 6) {
    if (data.length < 20) return { problem: 'TCP header truncated' };
    const headerLength = (data[12]! >> 4) * 4;
    if (headerLength < 20 || headerLength > data.length) return { problem: 'TCP header length invalid' };
    const flags = data[13]!;
    return {
      packet: {
        protocol: 'tcp',
        source,
        destination,
        sourcePort: (data[0]! << 8) | data[1]!,
        destinationPort: (data[2]! << 8) | data[3]!,
        payload: data.subarray(headerLength),
        tcp: {
          sequence: data[4]! * 16777216 + ((data[5]! << 16) | (data[6]! << 8) | data[7]!),
          syn: (flags & 0x02) !== 0,
          fin: (flags & 0x01) !== 0,
          rst: (flags & 0x04) !== 0,
        },
      },
    };
  }
  return { skipped: `IP protocol ${protocol}` };
}

/**
 * One direction of a TCP connection: delivers payload bytes in sequence order, holding out-of-order
 * segments (bounded) and dropping retransmitted bytes.
 */
export class TcpStreamReassembler {
  private next: number | undefined;
  private readonly pending = new Map<number, Uint8Array>();
  private pendingBytes = 0;
  /** Bytes given up on (a gap that never filled before the bound). */
  lostBytes = 0;

  /** Returns the bytes now deliverable in order (possibly several segments). */
  push(sequence: number, syn: boolean, payload: Uint8Array): Uint8Array[] {
    if (syn) {
      this.next = (sequence + 1) >>> 0;
      if (payload.length === 0) return [];
      sequence = this.next;
    }
    if (payload.length === 0) return [];
    if (this.next === undefined) this.next = sequence; // capture started mid-connection
    const out: Uint8Array[] = [];
    this.accept(sequence, payload, out);
    this.drain(out);
    if (this.pendingBytes > 4 * 1024 * 1024) {
      // A gap that will not fill: skip to the earliest held segment.
      const next = this.next!;
      const earliest = [...this.pending.keys()].sort((a, b) => ((a - next) >>> 0) - ((b - next) >>> 0))[0]!;
      this.lostBytes += (earliest - next) >>> 0;
      this.next = earliest;
      this.drain(out);
    }
    return out;
  }

  /** Delivers held segments that are now contiguous. */
  private drain(out: Uint8Array[]): void {
    let progressed = true;
    while (progressed && this.pending.size > 0) {
      progressed = false;
      for (const [seq, data] of this.pending) {
        const behind = (this.next! - seq) >>> 0;
        if (behind < 0x80000000) {
          this.pending.delete(seq);
          this.pendingBytes -= data.length;
          this.accept(seq, data, out);
          progressed = true;
        }
      }
    }
  }

  private accept(sequence: number, payload: Uint8Array, out: Uint8Array[]): void {
    const next = this.next!;
    const ahead = (sequence - next) >>> 0;
    if (ahead === 0) {
      out.push(payload);
      this.next = (next + payload.length) >>> 0;
    } else if (ahead < 0x80000000) {
      if (!this.pending.has(sequence)) {
        this.pending.set(sequence, new Uint8Array(payload));
        this.pendingBytes += payload.length;
      }
    } else {
      // Starts before `next`: a retransmission, possibly with new bytes at its end.
      const overlap = (next - sequence) >>> 0;
      if (overlap < payload.length) {
        out.push(payload.subarray(overlap));
        this.next = (next + payload.length - overlap) >>> 0;
      }
    }
  }
}
