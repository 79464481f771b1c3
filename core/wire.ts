// The wire format on Kinesis, defined here: several FlowRecords in one Kinesis record, compact and versioned.
//
// Version 1 layout:
//   "FL" magic (2 bytes) | version u8 = 1 | flags u8 = 0
//   string table: varint count, then per string varint byte length + UTF-8 bytes
//   varint record count, then per record every field of WIRE_FIELDS_V1 in order:
//     string fields as a varint index into the string table, number fields as unsigned varints.
// Pod, namespace and Node names repeat across the records of one batch, so the table keeps a record to
// roughly 60-120 bytes. A reader rejects other magics, versions and flags with WireFormatError so the
// correlator can route the Kinesis record to the failure destination instead of crashing.
import type { FlowRecord, FlowRecordField } from './flow-record.ts';

export const WIRE_MAGIC_0 = 0x46; // 'F'
export const WIRE_MAGIC_1 = 0x4c; // 'L'
export const WIRE_VERSION = 1;
const HEADER_BYTES = 4;

type FieldKind = 'string' | 'number';

/** Field order of version 1. Append-only within a version; a new field means a new version. */
export const WIRE_FIELDS_V1: ReadonlyArray<readonly [FlowRecordField, FieldKind]> = [
  ['exporterAddress', 'string'],
  ['observationDomainId', 'number'],
  ['exportTime', 'number'],
  ['sequenceNumber', 'number'],
  ['receivedAtMs', 'number'],
  ['sourceIP', 'string'],
  ['destinationIP', 'string'],
  ['sourceTransportPort', 'number'],
  ['destinationTransportPort', 'number'],
  ['protocolIdentifier', 'number'],
  ['flowStartSeconds', 'number'],
  ['flowEndSeconds', 'number'],
  ['flowEndReason', 'number'],
  ['tcpState', 'string'],
  ['flowType', 'number'],
  ['packetTotalCount', 'number'],
  ['packetDeltaCount', 'number'],
  ['octetTotalCount', 'number'],
  ['octetDeltaCount', 'number'],
  ['reversePacketTotalCount', 'number'],
  ['reversePacketDeltaCount', 'number'],
  ['reverseOctetTotalCount', 'number'],
  ['reverseOctetDeltaCount', 'number'],
  ['sourcePodName', 'string'],
  ['sourcePodNamespace', 'string'],
  ['sourceNodeName', 'string'],
  ['destinationPodName', 'string'],
  ['destinationPodNamespace', 'string'],
  ['destinationNodeName', 'string'],
  ['destinationClusterIP', 'string'],
  ['destinationServiceIP', 'string'],
  ['destinationServicePort', 'number'],
  ['destinationServicePortName', 'string'],
  ['ingressNetworkPolicyName', 'string'],
  ['ingressNetworkPolicyNamespace', 'string'],
  ['ingressNetworkPolicyRuleName', 'string'],
  ['ingressNetworkPolicyRuleAction', 'number'],
  ['ingressNetworkPolicyType', 'number'],
  ['egressNetworkPolicyName', 'string'],
  ['egressNetworkPolicyNamespace', 'string'],
  ['egressNetworkPolicyRuleName', 'string'],
  ['egressNetworkPolicyRuleAction', 'number'],
  ['egressNetworkPolicyType', 'number'],
  ['egressName', 'string'],
  ['egressIP', 'string'],
  ['egressNodeName', 'string'],
  ['proxySnatIP', 'string'],
  ['proxySnatPort', 'number'],
  ['sourcePodLabels', 'string'],
  ['destinationPodLabels', 'string'],
];

export class WireFormatError extends Error {
  constructor(
    readonly reason:
      | 'bad-magic'
      | 'unknown-version'
      | 'unknown-flags'
      | 'truncated'
      | 'bad-string-index'
      | 'trailing-bytes',
    message: string,
  ) {
    super(message);
    this.name = 'WireFormatError';
  }
}

/** Bytes an unsigned varint of this value takes. */
export function varintLength(value: number): number {
  // Comparisons first: the packer asks for two of these per record (byteLength), mostly below 2^14.
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

class ByteWriter {
  buffer = Buffer.allocUnsafe(4096);
  /** The same bytes, for writing up to four at once. */
  view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  length = 0;

  ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  varint(value: number): void {
    this.ensure(8);
    this.length = writeVarintAt(this.buffer, this.length, value);
  }

  bytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/** Writes an unsigned varint at `offset`, returns the offset after it. Room for 8 bytes must exist. */
function writeVarintAt(buffer: Buffer, offset: number, value: number): number {
  if (!(value >= 0) || !Number.isSafeInteger(value)) value = 0; // NaN/negative never come from decoded IPFIX
  // Above 2^31 (millisecond timestamps, big counters) with float arithmetic, then with int32 bit operations.
  while (value > 0x7fffffff) {
    buffer[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  let small = value | 0;
  while (small >= 0x80) {
    buffer[offset++] = (small & 0x7f) | 0x80;
    small >>>= 7;
  }
  buffer[offset++] = small;
  return offset;
}

/** The string fields of version 1, in wire order: the k-th one's string hint is hints[offset + k] (add()). */
export const WIRE_STRING_FIELDS: readonly FlowRecordField[] = WIRE_FIELDS_V1.filter(
  ([, kind]) => kind === 'string',
).map(([field]) => field);
const stringFields = WIRE_STRING_FIELDS;
/** A record's fields never take more than this: 8 bytes per varint (values stay below 2^53). */
const MAX_RECORD_FIELD_BYTES = 8 * WIRE_FIELDS_V1.length;

type RecordWriter = (
  record: FlowRecord,
  builder: WireBatchBuilder,
  body: ByteWriter,
  hints: ArrayLike<number>,
  hintOffset: number,
  hintTable: Uint16Array,
  texts: readonly string[],
) => void;

// The generated writer stores bytes one by one into the body's Buffer (a Uint8Array), not through a
// DataView: V8's optimising compiler forgets what it knows about every object (maps, lengths) after each
// DataView store, so each field paid its record's map check and the view's bounds again; after a typed-array
// element store it keeps them. The record's room is reserved first (8 bytes per field).

/** Source writing `v`, a non-negative integer below 2^28, as a varint at `p` (at most 4 bytes). */
const smallVarintSource = `if (v < 128) {
      b[p] = v;
      p += 1;
    } else if (v < 16384) {
      b[p] = (v & 127) | 128;
      b[p + 1] = v >> 7;
      p += 2;
    } else if (v < 2097152) {
      b[p] = (v & 127) | 128;
      b[p + 1] = ((v >> 7) & 127) | 128;
      b[p + 2] = v >> 14;
      p += 3;
    } else {
      b[p] = (v & 127) | 128;
      b[p + 1] = ((v >> 7) & 127) | 128;
      b[p + 2] = ((v >> 14) & 127) | 128;
      b[p + 3] = v >> 21;
      p += 4;
    }`;

/**
 * Source writing number field value `v` exactly as writeVarintAt does: integers below 2^28 as above, those
 * below 2^31 (second timestamps) in 5 bytes with integer operations, larger safe integers as their low 28 bits
 * in 4 bytes, then the rest (below 2^25) as above: millisecond timestamps (receivedAtMs, every record) take 6,
 * without writeVarint's floating-point modulo per byte. A fraction below 128 is truncated (as it always was); whatever else writeVarintAt would write as 0
 * (negative, NaN, a fraction from 128 on, above 2^53 - 1) is a single 0 byte here, without a call.
 */
const numberVarintSource = `if ((v | 0) === v && v >= 0) {
    if (v < 268435456) {
      ${smallVarintSource}
    } else {
      b[p] = (v & 127) | 128;
      b[p + 1] = ((v >> 7) & 127) | 128;
      b[p + 2] = ((v >> 14) & 127) | 128;
      b[p + 3] = ((v >> 21) & 127) | 128;
      b[p + 4] = v >>> 28;
      p += 5;
    }
  } else if (v >= 268435456 && v <= ${Number.MAX_SAFE_INTEGER} && Math.floor(v) === v) {
    h = Math.floor(v / 268435456);
    v = v - h * 268435456;
    b[p] = (v & 127) | 128;
    b[p + 1] = ((v >> 7) & 127) | 128;
    b[p + 2] = ((v >> 14) & 127) | 128;
    b[p + 3] = (v >> 21) | 128;
    p += 4;
    v = h;
    ${smallVarintSource}
  } else {
    b[p] = v >= 0 && v < 128 ? v : 0;
    p += 1;
  }`;

/** Seed of the string-table hash: per process, so input cannot be made to collide on purpose. */
const STRING_HASH_SEED = (Math.random() * 0x100000000) >>> 0;
/** The string table's hash of `text` (internText computes it inline, with the bytes). */
function stringHash(text: string): number {
  let hash = STRING_HASH_SEED ^ text.length;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/** Probing beyond this means colliding strings: the builder switches to a Map for the rest of its batch. */
const MAX_PROBES = 64;

/** The string hints of a record added without any: none (-1) for each string field. */
const NO_HINTS: ArrayLike<number> = new Int32Array(WIRE_STRING_FIELDS.length).fill(-1);
/** The hint table then: never read (a hint of -1 skips it), but of the same type as a real one. */
const NO_HINT_TABLE = new Uint16Array(0);

/** Slots of a builder's hint table (hints are folded into it; a collision only costs a lookup by content). */
const HINT_SLOTS = 4096;
const HINT_SHIFT = 32 - Math.log2(HINT_SLOTS);
const HINT_MIX = 0x9e3779b1;

// Generated once with direct property reads: a loop over field names costs several times more, and the
// collector encodes every flow record it receives. The strings are looked up first: empty ones (most of
// them) are index 0, a hinted one is found under its hint. Those lookups make no calls, so that V8 keeps the
// record's, the hints' and the tables' checks from one field to the next; strings not found so (new to the
// batch, or without a hint) are interned afterwards, in field order (the table's order is the same as one
// lookup after the other would give). Writing makes no calls either.
const writeRecordFields = new Function(
  'r',
  'w',
  'body',
  'hints',
  'o',
  'hintTable',
  'texts',
  `let v, h, x, missed = false;
  // Read once before any field's branch: V8 then checks the hints', the hint table's and the string table's
  // types once here, not again in every non-empty field's branch.
  h = hints[o];
  x = hintTable.length;
  x = texts.length;
${stringFields
  .map(
    (field, k) => `  v = r.${field};
  let s${k} = 0;
  if (v.length !== 0) {
    h = hints[o + ${k}];
    x = h < 0 ? -1 : hintTable[Math.imul(h, ${HINT_MIX}) >>> ${HINT_SHIFT}] - 1;
    if (x >= 0 && texts[x] === v) s${k} = x;
    else {
      s${k} = -1;
      missed = true;
    }
  }`,
  )
  .join('\n')}
  if (missed) {
${stringFields.map((field, k) => `    if (s${k} < 0) s${k} = w.intern(r.${field}, hints[o + ${k}]);`).join('\n')}
  }
  body.ensure(${MAX_RECORD_FIELD_BYTES});
  const b = body.buffer;
  let p = body.length;
${WIRE_FIELDS_V1.map(([field, kind]) =>
  kind === 'string'
    ? `  v = s${stringFields.indexOf(field)};
  ${smallVarintSource}`
    : `  v = r.${field};
  ${numberVarintSource}`,
).join('\n')}
  body.length = p;
//# sourceURL=flowline-generated/wire-record-writer.js`,
) as RecordWriter;

/**
 * Accumulates records into one wire-format payload, knowing its exact encoded size at every step so a
 * producer can stop before a Kinesis size limit.
 */
export class WireBatchBuilder {
  /**
   * The string table: its first `textCount` entries (the array keeps the entries of earlier batches beyond
   * that after reset(), so that it need not grow again).
   */
  private readonly texts: string[] = [];
  private textCount = 0;
  /**
   * The table's strings by a seeded hash of their characters (open addressing: index + 1, 0 = free), so
   * finding a string costs no Map operations; `byText` takes over for the rest of the batch should the
   * probing ever run long (strings made to collide).
   */
  private byHash = new Int32Array(64);
  private byText: Map<string, number> | undefined;
  /**
   * String hint (folded) -> index + 1 in this batch's table, 0 when none (indexes from 65,535 on are not
   * kept). 8 KB, made on demand: the packer keeps dozens of builders, so their tables must stay small to stay
   * in the CPU's cache.
   */
  private hintIndex: Uint16Array | undefined;
  private readonly table = new ByteWriter();
  private readonly body = new ByteWriter();
  private count = 0;
  /** Where mark() left the batch (rollback()). */
  private markCount = 0;
  private markTextCount = 0;
  private markTableLength = 0;
  private markBodyLength = 0;

  constructor() {
    this.internText(''); // most string fields are empty: index 0, no map lookup
  }

  get recordCount(): number {
    return this.count;
  }

  /** Exact size of finish() now. */
  get byteLength(): number {
    return (
      HEADER_BYTES +
      varintLength(this.textCount) +
      this.table.length +
      varintLength(this.count) +
      this.body.length
    );
  }

  /**
   * Appends a record. `hints` (optional) are string hints of its string fields in WIRE_STRING_FIELDS order
   * from `hintOffset` on: small numbers that are usually equal for the same string (the collector's IPFIX
   * value caches give them, collector-edge/ipfix/values.ts), -1 for none. They only speed up finding a
   * string in the table: the encoding is the same with or without them.
   */
  add(record: FlowRecord, hints?: ArrayLike<number>, hintOffset = 0): void {
    if (hints === undefined) {
      // No hints: every string is interned by its text (a hint of -1 never reads the hint table).
      writeRecordFields(record, this, this.body, NO_HINTS, 0, NO_HINT_TABLE, this.texts);
    } else {
      this.hintIndex ??= new Uint16Array(HINT_SLOTS);
      writeRecordFields(record, this, this.body, hints, hintOffset, this.hintIndex, this.texts);
    }
    this.count++;
  }

  /** Notes where the batch stands, for rollback(). */
  mark(): void {
    this.markCount = this.count;
    this.markTextCount = this.textCount;
    this.markTableLength = this.table.length;
    this.markBodyLength = this.body.length;
  }

  /**
   * Takes the batch back to where mark() left it, when at most one record was added since, with `hints` and
   * `hintOffset` as given to add(): its fields and the strings it added to the table are gone, and finish()
   * gives the bytes it gave at mark(). The packer adds a record that may not fit and takes it back if it did
   * not (packer.ts).
   */
  rollback(hints?: ArrayLike<number>, hintOffset = 0): void {
    const added = this.textCount - this.markTextCount;
    this.count = this.markCount;
    this.textCount = this.markTextCount;
    this.table.length = this.markTableLength;
    this.body.length = this.markBodyLength;
    if (added === 0) return;
    // The record's strings must not be found again: in the index by text and under the record's hints (only
    // intern() of its strings wrote there, at its hints' slots). Newest first: with linear probing, emptying
    // the slot of the string added last breaks no other string's probe sequence (none added before it passed
    // through that slot, then empty; a rehash re-inserts in table order).
    for (let index = this.textCount + added - 1; index >= this.textCount; index--) {
      const text = this.texts[index]!;
      if (this.byText !== undefined) this.byText.delete(text);
      else {
        const slots = this.byHash;
        const mask = slots.length - 1;
        const hash = stringHash(text);
        let slot = (hash ^ (hash >>> 16)) & mask;
        while (slots[slot] !== index + 1) slot = (slot + 1) & mask;
        slots[slot] = 0;
      }
    }
    const hinted = this.hintIndex;
    if (hints === undefined || hinted === undefined) return;
    for (let k = 0; k < WIRE_STRING_FIELDS.length; k++) {
      const hint = hints[hintOffset + k]!;
      if (hint < 0) continue;
      const slot = Math.imul(hint, HINT_MIX) >>> HINT_SHIFT;
      if (hinted[slot]! > this.textCount) hinted[slot] = 0;
    }
  }

  /** Index of `text` in the string table (added if new). Called by the generated record writer. */
  intern(text: string, hint: number): number {
    if (hint < 0) return this.internText(text);
    // The table entry under the hint must be this very string (or an equal one): hints are reused.
    const slot = Math.imul(hint, HINT_MIX) >>> HINT_SHIFT;
    this.hintIndex ??= new Uint16Array(HINT_SLOTS);
    const hinted = this.hintIndex;
    const entry = hinted[slot]!;
    const candidate = entry - 1;
    if (candidate >= 0 && this.texts[candidate] === text) return candidate;
    const index = this.internText(text);
    if (index < 0xffff) hinted[slot] = index + 1;
    return index;
  }

  private internText(text: string): number {
    if (this.byText !== undefined) return this.internByText(text, this.byText);
    // One pass over the characters for the hash and, should the string be new and short ASCII (names and
    // addresses are), its bytes: written after the table's end, kept only if it is appended.
    const length = text.length;
    const table = this.table;
    table.ensure(length + 1);
    const buffer = table.buffer;
    const start = table.length + 1;
    let ascii = length < 0x80;
    let hash = STRING_HASH_SEED ^ length;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      hash = Math.imul(hash ^ code, 0x01000193);
      if (code >= 0x80) ascii = false;
      buffer[start + i] = code;
    }
    const slots = this.byHash;
    const mask = slots.length - 1;
    let slot = (hash ^ (hash >>> 16)) & mask;
    for (let probes = 0; slots[slot] !== 0; probes++) {
      const index = slots[slot]! - 1;
      if (this.texts[index] === text) return index;
      if (probes === MAX_PROBES) {
        this.byText = new Map(this.texts.slice(0, this.textCount).map((t, i) => [t, i]));
        return this.internByText(text, this.byText);
      }
      slot = (slot + 1) & mask;
    }
    let index: number;
    if (ascii) {
      buffer[start - 1] = length;
      table.length = start + length;
      index = this.textCount++;
      if (index < this.texts.length) this.texts[index] = text;
      else this.texts.push(text);
    } else index = this.appendNew(text);
    slots[slot] = index + 1;
    if (this.textCount * 2 > slots.length) this.rehash(slots.length * 2);
    return index;
  }

  private internByText(text: string, byText: Map<string, number>): number {
    let index = byText.get(text);
    if (index === undefined) {
      index = this.appendNew(text);
      byText.set(text, index);
    }
    return index;
  }

  /** Appends a string new to the table. */
  private appendNew(text: string): number {
    const index = this.textCount++;
    if (index < this.texts.length) this.texts[index] = text;
    else this.texts.push(text);
    this.appendString(text);
    return index;
  }

  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    this.texts.slice(0, this.textCount).forEach((text, index) => {
      const hash = stringHash(text);
      let slot = (hash ^ (hash >>> 16)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = index + 1;
    });
    this.byHash = slots;
  }

  /** Appends varint byte length + UTF-8 bytes to the string table without an intermediate Buffer. */
  private appendString(text: string): void {
    const table = this.table;
    const length = text.length;
    // Names, addresses and labels are short ASCII: copy the code units, the length fits one varint byte.
    if (length < 0x80) {
      table.ensure(length + 1);
      const buffer = table.buffer;
      const start = table.length + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[start + i] = code;
      }
      if (i === length) {
        buffer[start - 1] = length;
        table.length = start + length;
        return;
      }
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    table.varint(bytes);
    table.ensure(bytes);
    table.length += table.buffer.write(text, table.length, bytes, 'utf8');
  }

  /** Starts a new, empty payload, keeping the buffers (a packer reuses one builder batch after batch). */
  reset(): void {
    this.textCount = 0;
    // The hint table's entries index this batch's table only (texts keeps old strings beyond textCount).
    this.hintIndex?.fill(0);
    this.byHash.fill(0);
    this.byText = undefined;
    this.table.length = 0;
    this.body.length = 0;
    this.count = 0;
    this.internText('');
  }

  finish(): Buffer {
    // One allocation of the exact size (byteLength), no intermediate growth.
    const out = Buffer.allocUnsafe(this.byteLength);
    out[0] = WIRE_MAGIC_0;
    out[1] = WIRE_MAGIC_1;
    out[2] = WIRE_VERSION;
    out[3] = 0;
    let offset = writeVarintAt(out, HEADER_BYTES, this.textCount);
    offset += this.table.buffer.copy(out, offset, 0, this.table.length);
    offset = writeVarintAt(out, offset, this.count);
    this.body.buffer.copy(out, offset, 0, this.body.length);
    return out;
  }
}

export function encodeWireBatch(records: Iterable<FlowRecord>): Buffer {
  const builder = new WireBatchBuilder();
  for (const record of records) builder.add(record);
  return builder.finish();
}

class ByteReader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.offset >= this.bytes.length)
        throw new WireFormatError('truncated', 'varint runs past the end');
      const byte = this.bytes[this.offset++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new WireFormatError('truncated', 'varint longer than 8 bytes');
  }

  text(length: number): string {
    if (length > this.remaining) throw new WireFormatError('truncated', 'string runs past the end');
    const text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, length).toString('utf8');
    this.offset += length;
    return text;
  }
}

// Builds the record as one object literal in wire order: one hidden class, no per-field dispatch.
const readRecordFields = new Function(
  'num',
  'str',
  `return {\n${WIRE_FIELDS_V1.map(([field, kind]) => `  ${field}: ${kind === 'number' ? 'num()' : 'str()'},`).join('\n')}\n};`,
) as (readNumber: () => number, readString: () => string) => FlowRecord;

/** Decodes one Kinesis record's payload. Throws WireFormatError on anything it does not understand. */
export function decodeWireBatch(payload: Uint8Array): FlowRecord[] {
  if (payload.length < HEADER_BYTES)
    throw new WireFormatError('truncated', 'payload shorter than the header');
  if (payload[0] !== WIRE_MAGIC_0 || payload[1] !== WIRE_MAGIC_1) {
    throw new WireFormatError('bad-magic', 'payload does not start with the Flowline magic "FL"');
  }
  if (payload[2] !== WIRE_VERSION) {
    throw new WireFormatError('unknown-version', `wire format version ${payload[2]} is not supported`);
  }
  if (payload[3] !== 0)
    throw new WireFormatError('unknown-flags', `wire format flags ${payload[3]} not supported`);
  const reader = new ByteReader(payload);
  reader.offset = HEADER_BYTES;
  const stringCount = reader.varint();
  if (stringCount > reader.remaining)
    throw new WireFormatError('truncated', 'string table larger than payload');
  const strings = new Array<string>(stringCount);
  for (let i = 0; i < stringCount; i++) strings[i] = reader.text(reader.varint());
  const recordCount = reader.varint();
  if (recordCount > reader.remaining)
    throw new WireFormatError('truncated', 'record count larger than payload');
  const records: FlowRecord[] = new Array(recordCount);
  const readNumber = () => reader.varint();
  const readString = () => {
    const index = reader.varint();
    const text = strings[index];
    if (text === undefined)
      throw new WireFormatError('bad-string-index', `string index ${index} out of range`);
    return text;
  };
  for (let r = 0; r < recordCount; r++) records[r] = readRecordFields(readNumber, readString);
  if (reader.remaining !== 0)
    throw new WireFormatError('trailing-bytes', `${reader.remaining} bytes after records`);
  return records;
}
