// Reading single field values from bytes. The compiled decoders inline the common cases and call these
// for the rest; `decodeValue` is the general (slower) path for any type and length.
import { formatIPv6 } from '../../core/ip.ts';
import type { IeType, IpfixValue } from './types.ts';

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hex(bytes: Uint8Array, offset: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += HEX_BYTE[bytes[offset + i]!];
  return out;
}

const utf8 = new TextDecoder('utf-8');

// String hints: text(), ipv4() and ipv6() return the same string object for the same bytes while it stays
// in their cache, and say which cache slot it came from (lastStringHint(), read right after the call). A
// consumer that dedupes strings (the wire encoder's string table, core/wire.ts) can then look a string up
// by its slot number instead of hashing the text. A hint is only a hint: slots are reused for other
// strings, so a consumer checks that what it finds under a hint is the same string.
let hint = -1;

/** Hint of the string the last text(), ipv4() or ipv6() call returned: a small number, or -1 for none. */
export function lastStringHint(): number {
  return hint;
}

// Antrea's strings repeat (namespaces, pod and node names, TCP states, policy names): a direct-mapped
// cache of recent short ASCII strings, checked byte by byte, returns the existing string instead of
// building a new one per record. A miss costs one hash pass more than building it. The check compares the
// bytes with a copy of the cached string's bytes four at a time (a typed-array read costs V8 a dozen
// checks whatever its width, and String.charCodeAt more).
const TEXT_CACHE_SIZE = 8192;
const MAX_CACHED_TEXT = 64;
const textCache: string[] = new Array<string>(TEXT_CACHE_SIZE).fill('');
/** Byte length of each slot's string (0: empty slot) and its bytes at slot * MAX_CACHED_TEXT. */
const textCacheLength = new Uint8Array(TEXT_CACHE_SIZE);
/**
 * Its first and last four bytes (little-endian), from 4 bytes on: read anyway for the slot, so a hit compares
 * them first and reads only the bytes between from the cache (none up to 8 bytes).
 */
const textCacheHead = new Int32Array(TEXT_CACHE_SIZE);
const textCacheTail = new Int32Array(TEXT_CACHE_SIZE);
const textCacheBytes = new Uint8Array(TEXT_CACHE_SIZE * MAX_CACHED_TEXT);
const textCacheView = new DataView(textCacheBytes.buffer);
// A DataView of the bytes last read from (usually one message's), made once per message.
let viewedBytes: Uint8Array = textCacheBytes;
let viewed: DataView = textCacheView;

/** A DataView of `bytes`: the last one made while the same bytes are read (the compiled decoders share it). */
export function viewOf(bytes: Uint8Array): DataView {
  if (bytes !== viewedBytes) {
    viewedBytes = bytes;
    viewed = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return viewed;
}

/** UTF-8 text; short ASCII (the usual Kubernetes name) without a TextDecoder call. */
export function text(bytes: Uint8Array, offset: number, length: number): string {
  return textIn(viewOf(bytes), bytes, offset, length);
}

/**
 * text() of `bytes` through `view`, a DataView of them (the compiled decoders pass theirs). The cache's
 * arrays are read through locals: V8 loads and checks a module binding again at every use, loop included.
 */
export function textIn(view: DataView, bytes: Uint8Array, offset: number, length: number): string {
  hint = -1;
  if (length === 0) return '';
  if (length > MAX_CACHED_TEXT) return utf8.decode(bytes.subarray(offset, offset + length));
  // Slot from the length and the first and last four bytes (fewer for shorter strings); the check decides.
  let hash: number;
  let head = 0;
  let tail = 0;
  if (length >= 4) {
    head = view.getInt32(offset, true);
    tail = view.getInt32(offset + length - 4, true);
    hash = Math.imul(head ^ Math.imul(tail, 0x85ebca6b), 0x9e3779b1);
  } else {
    hash = Math.imul(
      bytes[offset]! | (bytes[offset + length - 1]! << 8) | (bytes[offset + (length >> 1)]! << 16),
      0x9e3779b1,
    );
  }
  const slot = (Math.imul(hash ^ length, 0xc2b2ae35) >>> 19) & (TEXT_CACHE_SIZE - 1);
  if (
    textCacheLength[slot] === length &&
    (length >= 4
      ? textCacheHead[slot] === head &&
        textCacheTail[slot] === tail &&
        (length <= 8 || sameMiddle(view, offset, length, slot * MAX_CACHED_TEXT))
      : sameAsCached(bytes, offset, length, slot * MAX_CACHED_TEXT))
  ) {
    hint = slot;
    return textCache[slot]!;
  }
  for (let i = 0; i < length; i++) {
    if (bytes[offset + i]! >= 0x80) return utf8.decode(bytes.subarray(offset, offset + length));
  }
  const made = String.fromCharCode.apply(
    null,
    bytes.subarray(offset, offset + length) as unknown as number[],
  );
  textCache[slot] = made;
  textCacheLength[slot] = length;
  textCacheHead[slot] = head;
  textCacheTail[slot] = tail;
  textCacheBytes.set(bytes.subarray(offset, offset + length), slot * MAX_CACHED_TEXT);
  hint = slot;
  return made;
}

/** Whether `length` (below 4) bytes at `offset` equal the cached ones at `base`. */
function sameAsCached(bytes: Uint8Array, offset: number, length: number, base: number): boolean {
  const cached = textCacheBytes;
  for (let i = 0; i < length; i++) if (bytes[offset + i] !== cached[base + i]) return false;
  return true;
}

/**
 * Whether the bytes between the first and the last four of the `length` (above 8) at `offset` equal the
 * cached ones at `base`, four at a time (the last word read may overlap the last four, compared already).
 */
function sameMiddle(view: DataView, offset: number, length: number, base: number): boolean {
  const cached = textCacheView;
  const last = length - 4;
  for (let i = 4; i < last; i += 4)
    if (view.getInt32(offset + i, true) !== cached.getInt32(base + i, true)) return false;
  return true;
}

/**
 * `text` as a sequential (flat) string. V8 makes a concatenation of 13 or more characters a cons string (a
 * pair of pointers to its parts): comparing two different ones goes through a runtime call
 * (String::SlowEquals) and every charCodeAt walks the pair. Cached addresses are compared and hashed once per
 * record that carries them (packer.ts, core/wire.ts), so they are made flat once, when cached.
 */
export function flatString(text: string): string {
  if (text.length < 13) return text;
  const codes = new Array<number>(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return String.fromCharCode.apply(null, codes);
}

// The same for IPv4 addresses, keyed by their 32-bit value. The compiled decoders check the cache inline
// (compile.ts) and call ipv4Text on a miss only: the keys, texts and slot function are exported for them.
const IPV4_CACHE_SIZE = 8192;
/** Hint of IPv4 cache slot n: IPV4_HINTS + n. */
export const IPV4_HINTS = TEXT_CACHE_SIZE;
export const ipv4CacheKeys = new Float64Array(IPV4_CACHE_SIZE).fill(-1);
export const ipv4CacheText: string[] = new Array<string>(IPV4_CACHE_SIZE).fill('');

/** Source of the IPv4 cache slot of the 32-bit address in variable `value` (ipv4Text's, for generated code). */
export function ipv4SlotSource(value: string): string {
  return `(Math.imul(${value} | 0, 0x9e3779b1) >>> 19) & ${IPV4_CACHE_SIZE - 1}`;
}

export function ipv4(bytes: Uint8Array, offset: number): string {
  return ipv4Text(
    bytes[offset]! * 16777216 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!),
  );
}

/** ipv4() of an address given as its 32-bit value. */
export function ipv4Text(value: number): string {
  // The slot as ipv4SlotSource gives it (the compiled decoders' inline check).
  const slot = (Math.imul(value | 0, 0x9e3779b1) >>> 19) & (IPV4_CACHE_SIZE - 1);
  hint = IPV4_HINTS + slot;
  if (ipv4CacheKeys[slot] === value) return ipv4CacheText[slot]!;
  // The unspecified address as the literal: Antrea's unset Service and SNAT addresses are all zeros, and
  // normalising compares every one with '0.0.0.0' (core/ip.ts isUnspecifiedAddress); the literal compares by
  // identity, a string made here by its characters.
  const made =
    value === 0
      ? '0.0.0.0'
      : flatString(`${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`);
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

// And for IPv6 addresses, keyed by their four 32-bit words (formatting one costs far more than a lookup).
const IPV6_CACHE_SIZE = 4096;
const IPV6_HINTS = IPV4_HINTS + IPV4_CACHE_SIZE;
/** Hints are below this. */
export const STRING_HINT_COUNT = IPV6_HINTS + IPV6_CACHE_SIZE;
const ipv6CacheKeys = new Int32Array(IPV6_CACHE_SIZE * 4);
// '' marks an empty slot: a formatted address is never empty.
const ipv6CacheText: string[] = new Array<string>(IPV6_CACHE_SIZE).fill('');

export function ipv6(bytes: Uint8Array, offset: number): string {
  const view = viewOf(bytes);
  const w0 = view.getInt32(offset);
  const w1 = view.getInt32(offset + 4);
  const w2 = view.getInt32(offset + 8);
  const w3 = view.getInt32(offset + 12);
  const slot =
    (Math.imul(
      w3 ^ Math.imul(w2 ^ Math.imul(w1 ^ Math.imul(w0, 0x85ebca6b), 0xc2b2ae35), 0x27d4eb2f),
      0x9e3779b1,
    ) >>>
      20) &
    (IPV6_CACHE_SIZE - 1);
  const key = slot * 4;
  hint = IPV6_HINTS + slot;
  const cached = ipv6CacheText[slot]!;
  if (
    cached !== '' &&
    ipv6CacheKeys[key] === w0 &&
    ipv6CacheKeys[key + 1] === w1 &&
    ipv6CacheKeys[key + 2] === w2 &&
    ipv6CacheKeys[key + 3] === w3
  )
    return cached;
  const made = flatString(formatIPv6(bytes, offset));
  ipv6CacheKeys[key] = w0;
  ipv6CacheKeys[key + 1] = w1;
  ipv6CacheKeys[key + 2] = w2;
  ipv6CacheKeys[key + 3] = w3;
  ipv6CacheText[slot] = made;
  return made;
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
