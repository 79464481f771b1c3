// IPFIX an attacker would send (test/unit/ipfix/template-budget.test.ts, test/integration/hostile-input.test.ts):
// templates of many fields that no exporter uses (a template flood), each with a distinct field list so
// nothing can be shared between them.
import { type EncoderField, type EncoderTemplate, encodeMessage } from '../../collector-edge/ipfix/index.ts';

/** A template of `fieldCount` one-to-four-byte unknown IANA elements; `variant` makes its field list unique. */
export function floodTemplate(templateId: number, fieldCount: number, variant: number): EncoderTemplate {
  const fields: EncoderField[] = [];
  for (let i = 0; i < fieldCount; i++) {
    // Unassigned IANA ids (above 1000) decode as octetArray; lengths vary with the variant.
    fields.push({
      name: `f${i}`,
      type: 'octetArray',
      enterprise: 0,
      id: 1000 + i,
      length: 1 + ((i + variant) % 4),
    });
  }
  fields[0] = { ...fields[0]!, length: 1 + (variant % 200) };
  fields[1] = { ...fields[1]!, length: 1 + (Math.floor(variant / 200) % 200) };
  return { templateId, fields };
}

/** One message defining `templates` (no data). */
export function templateFloodMessage(templates: EncoderTemplate[], observationDomainId = 1): Uint8Array {
  return encodeMessage({ exportTime: 1_700_000_000, sequenceNumber: 0, observationDomainId }, [
    { kind: 'templates', templates },
  ]);
}
