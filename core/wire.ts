// The wire format on Kinesis (DESIGN.md): several FlowRecords in one Kinesis record, compact and versioned.
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
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

class ByteWriter {
  buffer = Buffer.allocUnsafe(4096);
  length = 0;

  ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
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

const stringFields = WIRE_FIELDS_V1.filter(([, kind]) => kind === 'string').map(([field]) => field);
/** A record's fields never take more than this: 8 bytes per varint (values stay below 2^53). */
const MAX_RECORD_FIELD_BYTES = 8 * WIRE_FIELDS_V1.length;

type RecordWriter = (
  record: FlowRecord,
  writer: ByteWriter,
  intern: (text: string) => number,
  writeVarint: typeof writeVarintAt,
) => void;

// Generated once with direct property reads: a loop over field names costs several times more, and the
// collector encodes every flow record it receives.
const writeRecordFields = new Function(
  'r',
  'w',
  'intern',
  'writeVarint',
  `w.ensure(${MAX_RECORD_FIELD_BYTES});
  const b = w.buffer;
  let p = w.length;
  let v;
${WIRE_FIELDS_V1.map(([field, kind]) =>
  kind === 'number'
    ? `  v = r.${field}; if (v >= 0 && v < 128) b[p++] = v; else p = writeVarint(b, p, v);`
    : `  v = r.${field}; v = v === '' ? 0 : intern(v); if (v < 128) b[p++] = v; else p = writeVarint(b, p, v);`,
).join('\n')}
  w.length = p;`,
) as RecordWriter;

/**
 * Upper bound of the bytes `record` adds to a batch: a varint per field, plus, for strings new to the
 * batch, a length varint (<= 3 bytes) and at most 3 UTF-8 bytes per UTF-16 unit, plus growth of the two
 * count varints. Lets a producer stop before a size limit without encoding twice.
 */
export const encodedSizeBound = new Function(
  'r',
  `return ${2 + MAX_RECORD_FIELD_BYTES + 3 * stringFields.length} + 3 * (${stringFields
    .map((field) => `r.${field}.length`)
    .join(' + ')});`,
) as (record: FlowRecord) => number;

/**
 * Accumulates records into one wire-format payload, knowing its exact encoded size at every step so a
 * producer can stop before a Kinesis size limit.
 */
export class WireBatchBuilder {
  private readonly strings = new Map<string, number>();
  private readonly table = new ByteWriter();
  private readonly body = new ByteWriter();
  private count = 0;
  private readonly internText = (text: string) => this.intern(text);

  constructor() {
    this.intern(''); // most string fields are empty: index 0, no map lookup
  }

  get recordCount(): number {
    return this.count;
  }

  /** Exact size of finish() now. */
  get byteLength(): number {
    return (
      HEADER_BYTES +
      varintLength(this.strings.size) +
      this.table.length +
      varintLength(this.count) +
      this.body.length
    );
  }

  add(record: FlowRecord): void {
    writeRecordFields(record, this.body, this.internText, writeVarintAt);
    this.count++;
  }

  private intern(text: string): number {
    let index = this.strings.get(text);
    if (index === undefined) {
      index = this.strings.size;
      this.strings.set(text, index);
      this.appendString(text);
    }
    return index;
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

  finish(): Buffer {
    // One allocation of the exact size (byteLength), no intermediate growth.
    const out = Buffer.allocUnsafe(this.byteLength);
    out[0] = WIRE_MAGIC_0;
    out[1] = WIRE_MAGIC_1;
    out[2] = WIRE_VERSION;
    out[3] = 0;
    let offset = writeVarintAt(out, HEADER_BYTES, this.strings.size);
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
