// pcap and pcapng file readers: capture file bytes -> link-layer packets with timestamps. Malformed
// files give a CaptureMalformed error and stop at the damage; packets before it are kept.

export interface CapturedPacket {
  timestampMs: number;
  linkType: number;
  data: Uint8Array;
  /** Offset of the packet data in the file. */
  fileOffset: number;
}

export interface CaptureProblem {
  problem: string;
  fileOffset: number;
}

export type CaptureItem = CapturedPacket | CaptureProblem;

export function isPcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = u32be(bytes, 0);
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1;
}

export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && u32be(bytes, 0) === 0x0a0d0d0a;
}

function u32be(b: Uint8Array, o: number): number {
  return b[o]! * 16777216 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

function u32le(b: Uint8Array, o: number): number {
  return b[o + 3]! * 16777216 + ((b[o + 2]! << 16) | (b[o + 1]! << 8) | b[o]!);
}

function u16(b: Uint8Array, o: number, little: boolean): number {
  return little ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

export function* readPcap(bytes: Uint8Array): Generator<CaptureItem> {
  if (bytes.length < 24) {
    yield { problem: 'pcap global header truncated', fileOffset: 0 };
    return;
  }
  const magic = u32be(bytes, 0);
  const little = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = little ? u32le : u32be;
  const linkType = u32(bytes, 20) & 0x0fffffff;
  let p = 24;
  while (p < bytes.length) {
    if (bytes.length - p < 16) {
      yield { problem: `pcap record header truncated (${bytes.length - p} bytes)`, fileOffset: p };
      return;
    }
    const seconds = u32(bytes, p);
    const fraction = u32(bytes, p + 4);
    const captured = u32(bytes, p + 8);
    if (captured > 262144 * 4 || p + 16 + captured > bytes.length) {
      yield { problem: `pcap record of ${captured} bytes runs past the end of the file`, fileOffset: p };
      return;
    }
    yield {
      timestampMs: seconds * 1000 + (nanos ? fraction / 1e6 : fraction / 1e3),
      linkType,
      data: bytes.subarray(p + 16, p + 16 + captured),
      fileOffset: p + 16,
    };
    p += 16 + captured;
  }
}

export function* readPcapng(bytes: Uint8Array): Generator<CaptureItem> {
  let little = true;
  // Per interface (in order of their description blocks in the current section): link type, ticks per second.
  let interfaces: Array<{ linkType: number; ticksPerSecond: number }> = [];
  let p = 0;
  while (p < bytes.length) {
    if (bytes.length - p < 12) {
      yield { problem: `pcapng block header truncated (${bytes.length - p} bytes)`, fileOffset: p };
      return;
    }
    const type = u32be(bytes, p);
    if (type === 0x0a0d0d0a) {
      const order = u32be(bytes, p + 8);
      if (order === 0x1a2b3c4d) little = false;
      else if (order === 0x4d3c2b1a) little = true;
      else {
        yield { problem: 'pcapng section header with unknown byte order', fileOffset: p };
        return;
      }
      interfaces = [];
    }
    const u32 = little ? u32le : u32be;
    const blockType = u32(bytes, p);
    const length = u32(bytes, p + 4);
    if (length < 12 || length % 4 !== 0 || p + length > bytes.length) {
      yield { problem: `pcapng block length ${length} invalid or past the end of the file`, fileOffset: p };
      return;
    }
    if (blockType === 1 && length >= 20) {
      interfaces.push({
        linkType: u16(bytes, p + 8, little),
        ticksPerSecond: interfaceResolution(bytes, p, length, little),
      });
    } else if ((blockType === 6 || blockType === 2) && length >= 32) {
      // Enhanced (6) and obsolete (2) packet blocks share this layout.
      const interfaceId = blockType === 6 ? u32(bytes, p + 8) : u16(bytes, p + 8, little);
      const iface = interfaces[interfaceId];
      const high = u32(bytes, p + 12);
      const low = u32(bytes, p + 16);
      const captured = u32(bytes, p + 20);
      if (!iface || 28 + captured > length) {
        yield {
          problem: `pcapng packet block with ${iface ? 'bad length' : `unknown interface ${interfaceId}`}`,
          fileOffset: p,
        };
      } else {
        const ticks = high * 4294967296 + low;
        yield {
          timestampMs: (ticks / iface.ticksPerSecond) * 1000,
          linkType: iface.linkType,
          data: bytes.subarray(p + 28, p + 28 + captured),
          fileOffset: p + 28,
        };
      }
    } else if (blockType === 3 && length >= 16) {
      const iface = interfaces[0];
      const original = u32(bytes, p + 8);
      const captured = Math.min(original, length - 16);
      if (iface)
        yield {
          timestampMs: 0,
          linkType: iface.linkType,
          data: bytes.subarray(p + 12, p + 12 + captured),
          fileOffset: p + 12,
        };
    }
    p += length;
  }
}

function interfaceResolution(bytes: Uint8Array, block: number, length: number, little: boolean): number {
  let o = block + 16;
  const end = block + length - 4;
  while (o + 4 <= end) {
    const code = u16(bytes, o, little);
    const size = u16(bytes, o + 2, little);
    if (code === 0) break;
    if (code === 9 && size >= 1) {
      const v = bytes[o + 4]!;
      return v & 0x80 ? 2 ** (v & 0x7f) : 10 ** (v & 0x7f);
    }
    o += 4 + ((size + 3) & ~3);
  }
  return 1_000_000;
}
