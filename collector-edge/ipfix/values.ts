// Reading single field values from bytes. The compiled decoders inline the common cases and call these
// for the rest; `decodeValue` is the general (slower) path for any type and length.
import { formatIPv4, formatIPv6 } from '../../core/ip.ts';
import type { IeType, IpfixValue } from './types.ts';

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hex(bytes: Uint8Array, offset: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += HEX_BYTE[bytes[offset + i]!];
  return out;
}

const utf8 = new TextDecoder('utf-8');

// Antrea's strings repeat (namespaces, pod and node names, TCP states, policy names): a direct-mapped
// cache of recent short ASCII strings, checked byte by byte, returns the existing string instead of
// building a new one per record. A miss costs one hash pass more than building it.
const TEXT_CACHE_SIZE = 8192;
const textCache: string[] = new Array<string>(TEXT_CACHE_SIZE).fill('');
const MAX_CACHED_TEXT = 64;

/** UTF-8 text; short ASCII (the usual Kubernetes name) without a TextDecoder call. */
export function text(bytes: Uint8Array, offset: number, length: number): string {
  if (length === 0) return '';
  if (length > MAX_CACHED_TEXT) return utf8.decode(bytes.subarray(offset, offset + length));
  // Slot from the length and a few sampled bytes (constant time); the byte-by-byte check below decides.
  const last = offset + length - 1;
  let hash = Math.imul(
    length ^ (bytes[offset]! << 8) ^ (bytes[last]! << 16) ^ (bytes[offset + (length >> 1)]! << 24),
    0x9e3779b1,
  );
  hash = Math.imul(hash ^ bytes[last - (length >> 2)]! ^ (bytes[offset + (length >> 2)]! << 8), 0x85ebca6b);
  const slot = (hash >>> 19) & (TEXT_CACHE_SIZE - 1);
  const cached = textCache[slot]!;
  if (cached.length === length) {
    let i = 0;
    while (i < length && cached.charCodeAt(i) === bytes[offset + i]) i++;
    if (i === length) return cached;
  }
  for (let i = 0; i < length; i++) {
    if (bytes[offset + i]! >= 0x80) return utf8.decode(bytes.subarray(offset, offset + length));
  }
  const made = String.fromCharCode.apply(
    null,
    bytes.subarray(offset, offset + length) as unknown as number[],
  );
  textCache[slot] = made;
  return made;
}

// The same for IPv4 addresses, keyed by their 32-bit value.
const IPV4_CACHE_SIZE = 8192;
const ipv4CacheKeys = new Float64Array(IPV4_CACHE_SIZE).fill(-1);
const ipv4CacheText: string[] = new Array<string>(IPV4_CACHE_SIZE).fill('');

export function ipv4(bytes: Uint8Array, offset: number): string {
  const value =
    bytes[offset]! * 16777216 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!);
  const slot = (Math.imul(value | 0, 0x9e3779b1) >>> 19) & (IPV4_CACHE_SIZE - 1);
  if (ipv4CacheKeys[slot] === value) return ipv4CacheText[slot]!;
  const made = formatIPv4(bytes, offset);
  ipv4CacheKeys[slot] = value;
  ipv4CacheText[slot] = made;
  return made;
}

/** A fixed-length string field: exporters pad with NULs, which are not part of the value. */
export function paddedText(bytes: Uint8Array, offset: number, length: number): string {
  let end = length;
  while (end > 0 && bytes[offset + end - 1] === 0) end--;
  return text(bytes, offset, end);
}

export function mac(bytes: Uint8Array, offset: number): string {
  return `${HEX_BYTE[bytes[offset]!]}:${HEX_BYTE[bytes[offset + 1]!]}:${HEX_BYTE[bytes[offset + 2]!]}:${HEX_BYTE[bytes[offset + 3]!]}:${HEX_BYTE[bytes[offset + 4]!]}:${HEX_BYTE[bytes[offset + 5]!]}`;
}

export function ipv6(bytes: Uint8Array, offset: number): string {
  return formatIPv6(bytes, offset);
}

const TWO_32 = 4294967296;
const TWO_21 = 2097152;

/** Unsigned big-endian integer of 1..8 bytes: a number up to 2^53, a bigint above. */
export function unsigned(bytes: Uint8Array, offset: number, length: number): number | bigint {
  if (length <= 6) {
    let value = 0;
    for (let i = 0; i < length; i++) value = value * 256 + bytes[offset + i]!;
    return value;
  }
  let hi = 0;
  for (let i = 0; i < length - 4; i++) hi = hi * 256 + bytes[offset + i]!;
  const lo = u32(bytes, offset + length - 4);
  if (hi < TWO_21) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Signed big-endian two's complement integer of 1..8 bytes (reduced-size encoding sign-extends). */
export function signed(bytes: Uint8Array, offset: number, length: number): number | bigint {
  const raw = unsigned(bytes, offset, length);
  const negative = (bytes[offset]! & 0x80) !== 0;
  if (!negative) return raw;
  if (typeof raw === 'number' && length <= 6) return raw - 2 ** (8 * length);
  const value = BigInt(raw) - (1n << BigInt(8 * length));
  return value >= -(2n ** 53n) ? Number(value) : value;
}

export function u32(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 16777216 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

/** 8-byte unsigned: the compiled decoders call this only when the value is above 2^53. */
export function u64Big(bytes: Uint8Array, offset: number): bigint {
  return (BigInt(u32(bytes, offset)) << 32n) | BigInt(u32(bytes, offset + 4));
}

export function float(bytes: Uint8Array, offset: number, length: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  return length === 4 ? view.getFloat32(0) : view.getFloat64(0);
}

// RFC 7011 6.1.9: dateTimeMicroseconds/Nanoseconds are NTP timestamps (seconds since 1900 + 2^-32 fraction).
const NTP_TO_UNIX_SECONDS = 2208988800;

export function ntpMicroseconds(bytes: Uint8Array, offset: number): number {
  const seconds = u32(bytes, offset) - NTP_TO_UNIX_SECONDS;
  // The fraction's low 11 bits are below microsecond resolution (RFC 7011 6.1.9).
  const fraction = u32(bytes, offset + 4);
  return seconds * 1_000_000 + Math.floor((fraction * 1_000_000) / TWO_32);
}

export function ntpNanoseconds(bytes: Uint8Array, offset: number): bigint {
  const seconds = BigInt(u32(bytes, offset) - NTP_TO_UNIX_SECONDS);
  const fraction = BigInt(u32(bytes, offset + 4));
  return seconds * 1_000_000_000n + ((fraction * 1_000_000_000n) >> 32n);
}

export function bool(value: number): boolean | number {
  return value === 1 ? true : value === 2 ? false : value;
}

/** True when `length` is a valid encoding of `type` (including reduced-size integers, RFC 7011 6.2). */
export function lengthFits(type: IeType, length: number): boolean {
  switch (type) {
    case 'unsigned8':
    case 'signed8':
    case 'boolean':
      return length === 1;
    case 'unsigned16':
    case 'signed16':
      return length >= 1 && length <= 2;
    case 'unsigned32':
    case 'signed32':
      return length >= 1 && length <= 4;
    case 'unsigned64':
    case 'signed64':
      return length >= 1 && length <= 8;
    case 'float32':
      return length === 4;
    case 'float64':
      return length === 4 || length === 8;
    case 'macAddress':
      return length === 6;
    case 'dateTimeSeconds':
      return length === 4;
    case 'dateTimeMilliseconds':
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      return length === 8;
    case 'ipv4Address':
      return length === 4;
    case 'ipv6Address':
      return length === 16;
    default:
      return true;
  }
}

/** General value decoder (any type, any length); an impossible length for the type decodes as hex. */
export function decodeValue(type: IeType, bytes: Uint8Array, offset: number, length: number): IpfixValue {
  if (!lengthFits(type, length)) return hex(bytes, offset, length);
  switch (type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
    case 'dateTimeSeconds':
    case 'dateTimeMilliseconds':
      return unsigned(bytes, offset, length);
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return signed(bytes, offset, length);
    case 'float32':
    case 'float64':
      return float(bytes, offset, length);
    case 'boolean':
      return bool(bytes[offset]!);
    case 'macAddress':
      return mac(bytes, offset);
    case 'string':
      return text(bytes, offset, length);
    case 'dateTimeMicroseconds':
      return ntpMicroseconds(bytes, offset);
    case 'dateTimeNanoseconds':
      return ntpNanoseconds(bytes, offset);
    case 'ipv4Address':
      return ipv4(bytes, offset);
    case 'ipv6Address':
      return ipv6(bytes, offset);
    default:
      return hex(bytes, offset, length);
  }
}
