// Per-template compiled decoders: for each distinct template (field list) a specialised function is
// generated once with `new Function`, reading every field at a constant or running offset with the
// value conversion inlined and building the record as one object literal (one hidden class per
// template). Interpreting the field list per record costs several times more (bench/decode.bench.ts).
// What a record becomes is a RecordShape: by default an object keyed by IE name; a caller can compile its
// own record type straight from the field values (the collector builds FlowRecords, normalise.ts), which
// saves building and reading an intermediate object per record.
import { type IeRegistry, unknownElementName } from './registry.ts';
import { type IeType, type IpfixRecord, VARIABLE_LENGTH } from './types.ts';
import * as values from './values.ts';

export interface FieldSpecifier {
  enterprise: number;
  id: number;
  /** Bytes in each record, or VARIABLE_LENGTH (65535). */
  length: number;
}

export interface TemplateField extends FieldSpecifier {
  /** IE name, `reverseXxx` for RFC 5103, "enterprise:id" when unknown; made unique within the template. */
  name: string;
  type: IeType;
  known: boolean;
}

/** What the data set a record came in tells a RecordShape (decoder.ts DecodedDataSet carries these). */
export interface DataSetContext {
  exporterAddress: string;
  observationDomainId: number;
  /** Export time (seconds) and sequence number of the message the set came in. */
  exportTime: number;
  sequenceNumber: number;
  /** Data records of the same message before this set. */
  firstRecordIndex: number;
  receivedAtMs: number;
  /** Free for a RecordShape to note per-set data (normalise.ts: where the set's string hints start). */
  shapeState: unknown;
}

/** What a value is, as far as the template tells: a shape can skip conversions for 'number' and 'string'. */
export type ValueKind = 'number' | 'string' | 'other' | 'absent';

/** A template's fields as the generated decoder holds them for one record, for a RecordShape. */
export interface TemplateValues {
  fields: readonly TemplateField[];
  /** Smallest record in bytes (variable-length fields count 1): a set holds at most (end - p) / this. */
  minRecordLength: number;
  /** Expression of IE `name`'s value in this record; `undefined` when the template lacks the IE. */
  value(name: string): string;
  kind(name: string): ValueKind;
  /** Expression of the value's string hint (values.ts lastStringHint); -1 when it has none. */
  hint(name: string): string;
}

/** The record type R a compiled decoder builds. */
export interface RecordShape<R> {
  /**
   * Source that builds one record: optional statements, then the expression whose value is the record.
   * Both may read `c`, the set's DataSetContext, and `i`, the record's index in its set; statements may
   * declare locals not named like the decoder's own (b, dv, p, end, out, c, h, k, l, q, t, i, v<n>, s<n>).
   * `setup` runs once per data set before its first record (it may read `c`, `p` and `end`, and declare
   * locals the statements use), `after` once after its last (not when a record runs past the set's end).
   */
  source(template: TemplateValues): {
    setup?: string;
    statements?: string;
    expression: string;
    after?: string;
  };
  /** Functions the source calls, by name (must not shadow the decoder's own helpers). */
  readonly helpers: Readonly<Record<string, unknown>>;
  /** Phantom: the record type (never read). */
  readonly record?: R;
}

/** The default shape: a plain object keyed by IE name (unknown IEs under "enterprise:id"). */
export const ieRecordShape: RecordShape<IpfixRecord> = {
  source: ({ fields, value }) => ({
    expression: `{ ${fields.map((f) => `${JSON.stringify(f.name)}: ${value(f.name)}`).join(', ')} }`,
  }),
  helpers: {},
};

export interface CompiledTemplate<R = IpfixRecord> {
  fields: readonly TemplateField[];
  /** Smallest record (variable-length fields count 1 byte); a set's trailing bytes below this are padding. */
  minRecordLength: number;
  /** Exact record length, or undefined when the template has variable-length fields. */
  fixedRecordLength: number | undefined;
  /**
   * Decodes the records of a data set between `start` and `end` into `out`. Returns the offset after the
   * last record (the rest is padding), or `~offset` of the first record that runs past `end`.
   */
  decodeRecords(bytes: Uint8Array, start: number, end: number, out: R[], context: DataSetContext): number;
  /**
   * The caller no longer uses this decoder: its generated factory (source and code) is freed once no other
   * decoder of the same source is in use. Idempotent; the decoder keeps working for whoever still holds it.
   */
  release(): void;
}

/** Resolves names and types of a field list (unknown IEs are octetArray under "enterprise:id"). */
export function resolveFields(specifiers: readonly FieldSpecifier[], registry: IeRegistry): TemplateField[] {
  const seen = new Map<string, number>();
  return specifiers.map((spec) => {
    const element = registry.lookup(spec.enterprise, spec.id);
    let name = element ? element.name : unknownElementName(spec.enterprise, spec.id);
    // A template may repeat an element (e.g. several MPLS labels): later copies get "#2", "#3", ...
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    if (count > 1) name = `${name}#${count}`;
    // One object literal (one hidden class, in-object properties): a spread copy costs several times more memory.
    return {
      enterprise: spec.enterprise,
      id: spec.id,
      length: spec.length,
      name,
      type: element ? element.type : 'octetArray',
      known: element !== undefined,
    };
  });
}

const HELPERS = {
  hex: values.hex,
  text: values.text,
  textIn: values.textIn,
  paddedText: values.paddedText,
  mac: values.mac,
  ipv4: values.ipv4,
  ipv6: values.ipv6,
  unsigned: values.unsigned,
  signed: values.signed,
  u64Big: values.u64Big,
  float: values.float,
  ntpMicroseconds: values.ntpMicroseconds,
  ntpNanoseconds: values.ntpNanoseconds,
  bool: values.bool,
  decodeValue: values.decodeValue,
  lastStringHint: values.lastStringHint,
  ipv4Text: values.ipv4Text,
  ipv4Keys: values.ipv4CacheKeys,
  ipv4Texts: values.ipv4CacheText,
  viewOf: values.viewOf,
};

/** JavaScript expression reading a fixed-length field at `at` (an expression) from `b`. */
function fixedFieldExpression(field: TemplateField, at: string): string {
  const { type, length } = field;
  if (!values.lengthFits(type, length)) return `hex(b, ${at}, ${length})`;
  switch (type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
    case 'dateTimeSeconds':
    case 'dateTimeMilliseconds':
      return unsignedExpression(at, length);
    case 'signed8':
      return `dv.getInt8(${at})`;
    case 'signed16':
      return length === 2 ? `dv.getInt16(${at})` : `signed(b, ${at}, ${length})`;
    case 'signed32':
      return length === 4 ? `dv.getInt32(${at})` : `signed(b, ${at}, ${length})`;
    case 'signed64':
      return `signed(b, ${at}, ${length})`;
    case 'float32':
    case 'float64':
      return `float(b, ${at}, ${length})`;
    case 'boolean':
      return `bool(b[${at}])`;
    case 'macAddress':
      return `mac(b, ${at})`;
    case 'string':
      return `paddedText(b, ${at}, ${length})`;
    case 'dateTimeMicroseconds':
      return `ntpMicroseconds(b, ${at})`;
    case 'dateTimeNanoseconds':
      return `ntpNanoseconds(b, ${at})`;
    case 'ipv4Address':
      // ipv4Text's cache check inline (the call only on a miss): every Antrea record has 5 IPv4 fields, and
      // the call cost more than the check. `t` is the slot, which the field's string hint is made of.
      return `((k = dv.getUint32(${at})), (t = ${values.ipv4SlotSource('k')}), ipv4Keys[t] === k ? ipv4Texts[t] : ipv4Text(k))`;
    case 'ipv6Address':
      return `ipv6(b, ${at})`;
    default:
      return `hex(b, ${at}, ${length})`;
  }
}

// Multi-byte reads go through `dv`, a big-endian DataView of `b` (one per message, values.ts viewOf): one read per field instead of one per byte
// (each typed-array read costs V8 a dozen checks). The record's bounds are checked before its fields are read.
function unsignedExpression(at: string, length: number): string {
  switch (length) {
    case 1:
      return `b[${at}]`;
    case 2:
      return `dv.getUint16(${at})`;
    case 3:
      return `((dv.getUint16(${at}) << 8) | b[${at} + 2])`;
    case 4:
      return `dv.getUint32(${at})`;
    case 8:
      // Numbers while the value fits in 2^53 (the high word below 2^21), bigint above.
      return `((h = dv.getUint32(${at})) < 2097152 ? h * 4294967296 + dv.getUint32(${at} + 4) : u64Big(b, ${at}))`;
    default:
      return `unsigned(b, ${at}, ${length})`;
  }
}

/** The JavaScript type a field's value always has, if any (see fixedFieldExpression, variableFieldExpression). */
function valueKind(field: TemplateField): ValueKind {
  const { type, length } = field;
  if (length === VARIABLE_LENGTH)
    return type === 'string' || type === 'octetArray' || !field.known ? 'string' : 'other';
  if (!values.lengthFits(type, length)) return 'string'; // hex
  switch (type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
    case 'dateTimeSeconds':
    case 'dateTimeMilliseconds':
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return length <= 6 ? 'number' : 'other'; // 7 and 8 bytes: a bigint above 2^53
    case 'float32':
    case 'float64':
    case 'dateTimeMicroseconds':
      return 'number';
    case 'boolean':
    case 'dateTimeNanoseconds':
      return 'other';
    default:
      return 'string'; // text, addresses, MAC, hex
  }
}

/** Whether a fixed-length field's value comes from a helper that gives a string hint (values.ts). */
function fixedFieldHasHint(field: TemplateField): boolean {
  if (!values.lengthFits(field.type, field.length)) return false;
  return field.type === 'string' || field.type === 'ipv4Address' || field.type === 'ipv6Address';
}

function variableFieldExpression(field: TemplateField): string {
  // Empty strings are common in Antrea records (no policy, no egress): no call for them.
  if (field.type === 'string') return "(l === 0 ? '' : textIn(dv, b, q, l))";
  if (field.type === 'octetArray' || !field.known) return 'hex(b, q, l)';
  return `decodeValue(${JSON.stringify(field.type)}, b, q, l)`;
}

/** Generates the decoder source for a field list (exported for tests that inspect it). */
export function generateDecoderSource<R>(
  fields: readonly TemplateField[],
  shape: RecordShape<R> = ieRecordShape as RecordShape<never>,
): string {
  const isVariable = fields.map((f) => f.length === VARIABLE_LENGTH);
  // Minimum bytes from field i to the end of the record.
  const minFrom = new Array<number>(fields.length + 1).fill(0);
  for (let i = fields.length - 1; i >= 0; i--)
    minFrom[i] = minFrom[i + 1]! + (isVariable[i] ? 1 : fields[i]!.length);
  const minRecord = minFrom[0]!;
  const lines: string[] = [];
  const hinted = new Set<string>();
  lines.push('return function decodeRecords(b, p, end, out, c) {');
  lines.push('  const dv = viewOf(b);');
  lines.push('  let h = 0, k = 0, l = 0, q = 0, t = 0;');
  const loopStart = lines.length;
  lines.push(`  while (end - p >= ${minRecord}) {`);
  lines.push('    q = p;');
  // `fixed` counts bytes since the last variable-length field, so fixed fields read at q + constant.
  let fixed = 0;
  fields.forEach((field, i) => {
    if (isVariable[i]) {
      if (fixed > 0) lines.push(`    q += ${fixed};`);
      fixed = 0;
      const after = minFrom[i + 1]!;
      lines.push('    l = b[q++];');
      lines.push(
        `    if (l === 255) { if (end - q < ${2 + after}) return ~p; l = (b[q] << 8) | b[q + 1]; q += 2; }`,
      );
      lines.push(`    if (end - q < l + ${after}) return ~p;`);
      lines.push(`    const v${i} = ${variableFieldExpression(field)};`);
      if (field.type === 'string') {
        lines.push(`    const s${i} = l === 0 ? -1 : lastStringHint();`);
        hinted.add(field.name);
      }
      lines.push('    q += l;');
    } else {
      lines.push(`    const v${i} = ${fixedFieldExpression(field, fixed === 0 ? 'q' : `q + ${fixed}`)};`);
      if (fixedFieldHasHint(field)) {
        // An inlined IPv4 lookup leaves its slot in `t` (ipv4Text's hint for it, had it been called).
        const inlinedIPv4 = field.type === 'ipv4Address';
        lines.push(`    const s${i} = ${inlinedIPv4 ? `${values.IPV4_HINTS} + t` : 'lastStringHint()'};`);
        hinted.add(field.name);
      }
      fixed += field.length;
    }
  });
  if (fixed > 0) lines.push(`    q += ${fixed};`);
  // Names are unique within a template (resolveFields), so each one names exactly one variable.
  const variables = new Map(fields.map((field, i) => [field.name, i]));
  const { setup, statements, expression, after } = shape.source({
    fields,
    minRecordLength: minRecord,
    value: (name) => (variables.has(name) ? `v${variables.get(name)}` : 'undefined'),
    kind: (name) => (variables.has(name) ? valueKind(fields[variables.get(name)!]!) : 'absent'),
    hint: (name) => (hinted.has(name) ? `s${variables.get(name)}` : '-1'),
  });
  lines.push('    const i = out.length;');
  if (statements) lines.push(statements);
  lines.push(`    out.push(${expression});`);
  lines.push('    p = q;');
  lines.push('  }');
  if (setup) lines.splice(loopStart, 0, setup);
  if (after) lines.push(after);
  lines.push('  return p;');
  lines.push('};');
  // Names the generated code in CPU profiles (it has no file otherwise).
  lines.push('//# sourceURL=flowline-generated/ipfix-decoder.js');
  return lines.join('\n');
}

type DecoderFactory = (...helpers: unknown[]) => CompiledTemplate<unknown>['decodeRecords'];
/** Factories by source, with the number of unreleased decoders made from each. */
const factories = new Map<string, { factory: DecoderFactory; users: number }>();
const MAX_COMPILED_FACTORIES = 1024;

/** Parameters and locals of the generated decoder. */
const GENERATED_NAMES = /^(b|dv|p|end|out|c|h|k|l|q|t|i|[vs]\d+)$/;

export function compileTemplate<R = IpfixRecord>(
  fields: readonly TemplateField[],
  shape?: RecordShape<R>,
): CompiledTemplate<R> {
  const source = generateDecoderSource(fields, shape);
  const helpers: Record<string, unknown> = { ...HELPERS };
  for (const [name, helper] of Object.entries(shape?.helpers ?? {})) {
    if (name in helpers || GENERATED_NAMES.test(name))
      throw new Error(`record shape helper "${name}" shadows a name of the generated decoder`);
    helpers[name] = helper;
  }
  const helperNames = Object.keys(helpers);
  // One factory per distinct source: decoders of the same template (every decoder of a process, every
  // collector in a test run) then share V8's type feedback and optimised code instead of compiling again.
  const key = `${helperNames.join(',')}\n${source}`;
  let shared = factories.get(key);
  if (!shared) {
    // A backstop for callers that never release (dropping the cache only costs a recompile).
    if (factories.size >= MAX_COMPILED_FACTORIES) factories.clear();
    shared = { factory: new Function(...helperNames, source) as DecoderFactory, users: 0 };
    factories.set(key, shared);
  }
  shared.users++;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (--shared.users <= 0 && factories.get(key) === shared) factories.delete(key);
  };
  const decodeRecords = shared.factory(
    ...helperNames.map((n) => helpers[n]),
  ) as CompiledTemplate<R>['decodeRecords'];
  const variable = fields.some((f) => f.length === VARIABLE_LENGTH);
  const minRecordLength = fields.reduce((sum, f) => sum + (f.length === VARIABLE_LENGTH ? 1 : f.length), 0);
  return {
    fields,
    minRecordLength,
    fixedRecordLength: variable ? undefined : minRecordLength,
    decodeRecords,
    release,
  };
}
