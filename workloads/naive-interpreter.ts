// BASELINE ONLY (benchmark and differential test): a naive interpreting data-record decoder that walks
// the template's field list for every record and switches on each field's type. Production code uses
// the per-template compiled decoders (collector-edge/ipfix/compile.ts).
import type { TemplateField } from '../collector-edge/ipfix/compile.ts';
import { type IpfixRecord, VARIABLE_LENGTH } from '../collector-edge/ipfix/types.ts';
import { decodeValue, paddedText } from '../collector-edge/ipfix/values.ts';

export function naiveInterpretRecords(
  fields: readonly TemplateField[],
  bytes: Uint8Array,
  start: number,
  end: number,
  out: IpfixRecord[],
): number {
  let minimum = 0;
  for (const f of fields) minimum += f.length === VARIABLE_LENGTH ? 1 : f.length;
  let p = start;
  while (end - p >= minimum) {
    const record: IpfixRecord = {};
    let q = p;
    for (const f of fields) {
      let length = f.length;
      if (length === VARIABLE_LENGTH) {
        if (q >= end) return ~p;
        length = bytes[q++]!;
        if (length === 255) {
          if (end - q < 2) return ~p;
          length = (bytes[q]! << 8) | bytes[q + 1]!;
          q += 2;
        }
      }
      if (q + length > end) return ~p;
      record[f.name] =
        f.type === 'string' && f.length !== VARIABLE_LENGTH
          ? paddedText(bytes, q, length)
          : decodeValue(f.known ? f.type : 'octetArray', bytes, q, length);
      q += length;
    }
    out.push(record);
    p = q;
  }
  return p;
}
