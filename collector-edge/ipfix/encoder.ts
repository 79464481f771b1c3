// IPFIX encoder (RFC 7011): template / options template / withdrawal / data sets with variable-length
// strings, stamped with RFC sequence numbers. Used by the Antrea agent simulator, tests and benchmarks.
import { parseIP } from '../../core/ip.ts';
import type { FieldSpecifier } from './compile.ts';
import { defaultRegistry, type IeRegistry } from './registry.ts';
import { type IeType, type InformationElement, VARIABLE_LENGTH } from './types.ts';
import { lengthFits } from './values.ts';

/** A value to encode; strings for addresses, MACs ("aa:bb:..") and hex (octetArray), bigint for u64. */
export type EncodableValue = number | bigint | string | boolean | Uint8Array | null | undefined;

export interface EncoderField extends FieldSpecifier {
  /** Key of the value in a record object. */
  name: string;
  type: IeType;
}

export interface EncoderTemplate {
  templateId: number;
  fields: EncoderField[];
  /** Options template when set: the first scopeFieldCount fields are scope fields. */
  scopeFieldCount?: number;
}

const NATURAL_LENGTH: Partial<Record<IeType, number>> = {
  unsigned8: 1,
  unsigned16: 2,
  unsigned32: 4,
  unsigned64: 8,
  signed8: 1,
  signed16: 2,
  signed32: 4,
  signed64: 8,
  float32: 4,
  float64: 8,
  boolean: 1,
  macAddress: 6,
  dateTimeSeconds: 4,
  dateTimeMilliseconds: 8,
  dateTimeMicroseconds: 8,
  dateTimeNanoseconds: 8,
  ipv4Address: 4,
  ipv6Address: 16,
};

/**
 * A template field by IE name ("sourceIPv4Address", "reverseOctetDeltaCount", "tcpState" -> Antrea's 136)
 * or by explicit specifier. `length` overrides the natural length (reduced-size encoding, fixed strings).
 */
export function field(
  name: string,
  options: { length?: number; enterprise?: number; registry?: IeRegistry } = {},
): EncoderField {
  const registry = options.registry ?? defaultRegistry;
  const element: InformationElement | undefined = registry.byElementName(name);
  if (!element) throw new Error(`unknown information element ${name}`);
  const length = options.length ?? NATURAL_LENGTH[element.type] ?? VARIABLE_LENGTH;
  return {
    name,
    type: element.type,
    enterprise: options.enterprise ?? element.enterprise,
    id: element.id,
    length,
  };
}

/** Grows as needed; big-endian writers. */
class ByteWriter {
  bytes = new Uint8Array(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.length++] = value & 0xff;
  }

  u16(value: number): void {
    this.ensure(2);
    this.bytes[this.length++] = (value >>> 8) & 0xff;
    this.bytes[this.length++] = value & 0xff;
  }

  u32(value: number): void {
    this.u16(Math.floor(value / 65536) & 0xffff);
    this.u16(value & 0xffff);
  }

  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  setU16(at: number, value: number): void {
    this.bytes[at] = (value >>> 8) & 0xff;
    this.bytes[at + 1] = value & 0xff;
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

const utf8 = new TextEncoder();

function integerBytes(value: EncodableValue, length: number, signed: boolean): Uint8Array {
  let big = typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value ?? 0)));
  if (signed && big < 0n) big += 1n << BigInt(8 * length);
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(big & 0xffn);
    big >>= 8n;
  }
  return out;
}

function hexBytes(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const NTP_TO_UNIX_SECONDS = 2208988800n;

/** Bytes of one value for a field of the given type; `length` VARIABLE_LENGTH for variable-length. */
export function encodeValue(type: IeType, value: EncodableValue, length: number): Uint8Array {
  const variable = length === VARIABLE_LENGTH;
  if (value instanceof Uint8Array) return variable ? value : fitLength(value, length);
  switch (type) {
    case 'string': {
      const data = utf8.encode(value === undefined || value === null ? '' : String(value));
      return variable ? data : fitLength(data, length);
    }
    case 'ipv4Address':
    case 'ipv6Address': {
      const size = type === 'ipv4Address' ? 4 : 16;
      const parsed = typeof value === 'string' && value !== '' ? parseIP(value) : undefined;
      const out = new Uint8Array(size);
      if (parsed && parsed.length === size) out.set(parsed);
      else if (parsed && parsed.length === 4 && size === 16) out.set([0xff, 0xff, ...parsed], 10);
      return out;
    }
    case 'macAddress':
      return fitLength(hexBytes(String(value ?? '')), 6);
    case 'boolean':
      return Uint8Array.of(value === true || value === 1 ? 1 : 2);
    case 'float32':
    case 'float64': {
      const size = variable ? (NATURAL_LENGTH[type] ?? 8) : length;
      const out = new Uint8Array(size);
      const view = new DataView(out.buffer);
      if (size === 4) view.setFloat32(0, Number(value ?? 0));
      else view.setFloat64(0, Number(value ?? 0));
      return out;
    }
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds': {
      // NTP format: seconds since 1900, then a 2^-32 fraction.
      const perSecond = type === 'dateTimeMicroseconds' ? 1_000_000n : 1_000_000_000n;
      const total = typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value ?? 0)));
      const seconds = total / perSecond + NTP_TO_UNIX_SECONDS;
      // Rounded up so that the decoder's truncation gives back the same value.
      const fraction = (((total % perSecond) << 32n) + perSecond - 1n) / perSecond;
      return integerBytes((seconds << 32n) | fraction, 8, false);
    }
    case 'octetArray':
    case 'basicList':
    case 'subTemplateList':
    case 'subTemplateMultiList': {
      const data = typeof value === 'string' ? hexBytes(value) : new Uint8Array(0);
      return variable ? data : fitLength(data, length);
    }
    default: {
      const size = variable ? (NATURAL_LENGTH[type] ?? 8) : length;
      return integerBytes(value, size, type.startsWith('signed'));
    }
  }
}

function fitLength(data: Uint8Array, length: number): Uint8Array {
  if (data.length === length) return data;
  const out = new Uint8Array(length);
  out.set(data.subarray(0, length));
  return out;
}

export interface MessageOptions {
  exportTime: number;
  sequenceNumber: number;
  observationDomainId: number;
}

/** A set to put in a message; `raw` is for tests that need arbitrary (even malformed) set contents. */
export type SetSpec =
  | { kind: 'templates'; templates: EncoderTemplate[] }
  | { kind: 'withdraw'; templateIds: number[]; options?: boolean }
  | { kind: 'withdrawAll'; options?: boolean }
  | { kind: 'data'; template: EncoderTemplate; records: Array<Record<string, EncodableValue>> }
  | { kind: 'raw'; setId: number; body: Uint8Array };

/** Encodes one IPFIX message (no size limit check beyond the 16-bit length). */
export function encodeMessage(header: MessageOptions, sets: SetSpec[]): Uint8Array {
  const w = new ByteWriter();
  w.u16(10);
  w.u16(0);
  w.u32(header.exportTime);
  w.u32(header.sequenceNumber);
  w.u32(header.observationDomainId);
  for (const set of sets) writeSet(w, set);
  if (w.length > 0xffff) throw new Error(`IPFIX message of ${w.length} bytes exceeds 65535`);
  w.setU16(2, w.length);
  return w.result();
}

function writeSet(w: ByteWriter, set: SetSpec): void {
  const start = w.length;
  switch (set.kind) {
    case 'templates': {
      const options = set.templates.some((t) => t.scopeFieldCount !== undefined);
      w.u16(options ? 3 : 2);
      w.u16(0);
      for (const template of set.templates) {
        w.u16(template.templateId);
        w.u16(template.fields.length);
        if (options) w.u16(template.scopeFieldCount ?? 0);
        for (const f of template.fields) {
          if (f.enterprise !== 0) {
            w.u16(f.id | 0x8000);
            w.u16(f.length);
            w.u32(f.enterprise);
          } else {
            w.u16(f.id);
            w.u16(f.length);
          }
        }
      }
      break;
    }
    case 'withdraw':
      w.u16(set.options ? 3 : 2);
      w.u16(0);
      for (const id of set.templateIds) {
        w.u16(id);
        w.u16(0);
      }
      break;
    case 'withdrawAll': {
      const setId = set.options ? 3 : 2;
      w.u16(setId);
      w.u16(0);
      w.u16(setId);
      w.u16(0);
      break;
    }
    case 'data':
      w.u16(set.template.templateId);
      w.u16(0);
      for (const record of set.records) writeRecord(w, set.template, record);
      break;
    case 'raw':
      w.u16(set.setId);
      w.u16(4 + set.body.length);
      w.raw(set.body);
      return;
  }
  w.setU16(start + 2, w.length - start);
}

function writeRecord(w: ByteWriter, template: EncoderTemplate, record: Record<string, EncodableValue>): void {
  for (const f of template.fields) {
    const data = encodeValue(f.type, record[f.name], f.length);
    if (f.length === VARIABLE_LENGTH) {
      if (data.length < 255) w.u8(data.length);
      else {
        w.u8(255);
        w.u16(data.length);
      }
    } else if (!lengthFits(f.type, f.length) && data.length !== f.length) {
      throw new Error(`field ${f.name}: ${data.length} bytes for length ${f.length}`);
    }
    w.raw(data);
  }
}

/**
 * A stateful exporter side for one observation domain: keeps templates and the RFC 7011 sequence number
 * (data records sent before each message), and splits data into messages of at most maxMessageBytes.
 */
export class IpfixEncoder {
  readonly observationDomainId: number;
  private readonly maxMessageBytes: number;
  private readonly templatesById = new Map<number, EncoderTemplate>();
  private sequence = 0;

  constructor(options: { observationDomainId: number; maxMessageBytes?: number; initialSequence?: number }) {
    this.observationDomainId = options.observationDomainId;
    this.maxMessageBytes = options.maxMessageBytes ?? 65535;
    this.sequence = options.initialSequence ?? 0;
  }

  defineTemplate(templateId: number, fields: EncoderField[], scopeFieldCount?: number): EncoderTemplate {
    if (templateId < 256 || templateId > 65535) throw new Error(`template id ${templateId} out of range`);
    const template: EncoderTemplate = { templateId, fields, scopeFieldCount };
    this.templatesById.set(templateId, template);
    return template;
  }

  template(templateId: number): EncoderTemplate {
    const template = this.templatesById.get(templateId);
    if (!template) throw new Error(`template ${templateId} not defined`);
    return template;
  }

  get sequenceNumber(): number {
    return this.sequence;
  }

  /** One message carrying the given templates (all defined ones by default). */
  templateMessage(exportTime: number, templateIds?: number[]): Uint8Array {
    const templates = (templateIds ?? [...this.templatesById.keys()]).map((id) => this.template(id));
    const plain = templates.filter((t) => t.scopeFieldCount === undefined);
    const options = templates.filter((t) => t.scopeFieldCount !== undefined);
    const sets: SetSpec[] = [];
    if (plain.length > 0) sets.push({ kind: 'templates', templates: plain });
    if (options.length > 0) sets.push({ kind: 'templates', templates: options });
    return encodeMessage(this.header(exportTime), sets);
  }

  withdrawalMessage(exportTime: number, templateIds: number[] | 'all'): Uint8Array {
    const sets: SetSpec[] =
      templateIds === 'all' ? [{ kind: 'withdrawAll' }] : [{ kind: 'withdraw', templateIds }];
    if (templateIds !== 'all') for (const id of templateIds) this.templatesById.delete(id);
    else this.templatesById.clear();
    return encodeMessage(this.header(exportTime), sets);
  }

  /** Data messages for the records (split to respect maxMessageBytes); advances the sequence number. */
  dataMessages(
    templateId: number,
    records: Array<Record<string, EncodableValue>>,
    exportTime: number,
  ): Uint8Array[] {
    const template = this.template(templateId);
    const messages: Uint8Array[] = [];
    let batch: Array<Record<string, EncodableValue>> = [];
    let batchBytes = 20;
    const flush = () => {
      if (batch.length === 0) return;
      messages.push(encodeMessage(this.header(exportTime), [{ kind: 'data', template, records: batch }]));
      this.sequence = (this.sequence + batch.length) >>> 0;
      batch = [];
      batchBytes = 20;
    };
    for (const record of records) {
      const size = recordSize(template, record);
      if (batchBytes + size > this.maxMessageBytes) flush();
      batch.push(record);
      batchBytes += size;
    }
    flush();
    return messages;
  }

  private header(exportTime: number): MessageOptions {
    return { exportTime, sequenceNumber: this.sequence, observationDomainId: this.observationDomainId };
  }
}

function recordSize(template: EncoderTemplate, record: Record<string, EncodableValue>): number {
  let size = 0;
  for (const f of template.fields) {
    if (f.length !== VARIABLE_LENGTH) size += f.length;
    else {
      const n = encodeValue(f.type, record[f.name], f.length).length;
      size += n + (n < 255 ? 1 : 3);
    }
  }
  return size;
}
