// Per-template compiled decoders: for each distinct template (field list) a specialised function is
// generated once with `new Function`, reading every field at a constant or running offset with the
// value conversion inlined and building the record as one object literal (one hidden class per
// template). Interpreting the field list per record costs several times more (bench/decode.bench.ts).
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

export interface CompiledTemplate {
  fields: readonly TemplateField[];
  /** Smallest record (variable-length fields count 1 byte); a set's trailing bytes below this are padding. */
  minRecordLength: number;
  /** Exact record length, or undefined when the template has variable-length fields. */
  fixedRecordLength: number | undefined;
  /**
   * Decodes the records of a data set between `start` and `end` into `out`. Returns the offset after the
   * last record (the rest is padding), or `~offset` of the first record that runs past `end`.
   */
  decodeRecords(bytes: Uint8Array, start: number, end: number, out: IpfixRecord[]): number;
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
    return { ...spec, name, type: element ? element.type : 'octetArray', known: element !== undefined };
  });
}

const HELPERS = {
  hex: values.hex,
  text: values.text,
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
      return `((b[${at}] << 24) >> 24)`;
    case 'signed16':
      return length === 2 ? `(((b[${at}] << 24) >> 16) | b[${at} + 1])` : `signed(b, ${at}, ${length})`;
    case 'signed32':
      return length === 4
        ? `((b[${at}] << 24) | (b[${at} + 1] << 16) | (b[${at} + 2] << 8) | b[${at} + 3])`
        : `signed(b, ${at}, ${length})`;
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
      return `ipv4(b, ${at})`;
    case 'ipv6Address':
      return `ipv6(b, ${at})`;
    default:
      return `hex(b, ${at}, ${length})`;
  }
}

function unsignedExpression(at: string, length: number): string {
  switch (length) {
    case 1:
      return `b[${at}]`;
    case 2:
      return `((b[${at}] << 8) | b[${at} + 1])`;
    case 3:
      return `((b[${at}] << 16) | (b[${at} + 1] << 8) | b[${at} + 2])`;
    case 4:
      return `(b[${at}] * 16777216 + ((b[${at} + 1] << 16) | (b[${at} + 2] << 8) | b[${at} + 3]))`;
    case 8:
      // Numbers while the value fits in 2^53 (the high word below 2^21), bigint above.
      return `((h = b[${at}] * 16777216 + ((b[${at} + 1] << 16) | (b[${at} + 2] << 8) | b[${at} + 3])) < 2097152 ? h * 4294967296 + (b[${at} + 4] * 16777216 + ((b[${at} + 5] << 16) | (b[${at} + 6] << 8) | b[${at} + 7])) : u64Big(b, ${at}))`;
    default:
      return `unsigned(b, ${at}, ${length})`;
  }
}

function variableFieldExpression(field: TemplateField): string {
  // Empty strings are common in Antrea records (no policy, no egress): no call for them.
  if (field.type === 'string') return "(l === 0 ? '' : text(b, q, l))";
  if (field.type === 'octetArray' || !field.known) return 'hex(b, q, l)';
  return `decodeValue(${JSON.stringify(field.type)}, b, q, l)`;
}

/** Generates the decoder source for a field list (exported for tests that inspect it). */
export function generateDecoderSource(fields: readonly TemplateField[]): string {
  const isVariable = fields.map((f) => f.length === VARIABLE_LENGTH);
  // Minimum bytes from field i to the end of the record.
  const minFrom = new Array<number>(fields.length + 1).fill(0);
  for (let i = fields.length - 1; i >= 0; i--)
    minFrom[i] = minFrom[i + 1]! + (isVariable[i] ? 1 : fields[i]!.length);
  const minRecord = minFrom[0]!;
  const lines: string[] = [];
  lines.push('return function decodeRecords(b, p, end, out) {');
  lines.push('  let h = 0, l = 0, q = 0;');
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
      lines.push('    q += l;');
    } else {
      lines.push(`    const v${i} = ${fixedFieldExpression(field, fixed === 0 ? 'q' : `q + ${fixed}`)};`);
      fixed += field.length;
    }
  });
  if (fixed > 0) lines.push(`    q += ${fixed};`);
  const properties = fields.map((field, i) => `${JSON.stringify(field.name)}: v${i}`);
  lines.push(`    out.push({ ${properties.join(', ')} });`);
  lines.push('    p = q;');
  lines.push('  }');
  lines.push('  return p;');
  lines.push('};');
  return lines.join('\n');
}

export function compileTemplate(fields: readonly TemplateField[]): CompiledTemplate {
  const source = generateDecoderSource(fields);
  const helperNames = Object.keys(HELPERS);
  const factory = new Function(...helperNames, source) as (
    ...helpers: unknown[]
  ) => CompiledTemplate['decodeRecords'];
  const decodeRecords = factory(...helperNames.map((n) => HELPERS[n as keyof typeof HELPERS]));
  const variable = fields.some((f) => f.length === VARIABLE_LENGTH);
  const minRecordLength = fields.reduce((sum, f) => sum + (f.length === VARIABLE_LENGTH ? 1 : f.length), 0);
  return {
    fields,
    minRecordLength,
    fixedRecordLength: variable ? undefined : minRecordLength,
    decodeRecords,
  };
}
