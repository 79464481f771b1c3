// Stateless IPFIX wire parsing (RFC 7011 3): the message header, set headers and template / options template
// records. Nothing here keeps state or decodes data records; the decoder (decoder.ts) applies what is parsed
// to its template store and holding area. Problems are reported through the caller's `fail` with the same
// reasons and wording the decoder always used.
import type { FieldSpecifier } from './compile.ts';
import { DecodeErrorReason } from './types.ts';

export const HEADER_LENGTH = 16;
/** Legal on the wire (up to ~16k), never sent by real exporters (Antrea's largest has 70). */
export const MAX_TEMPLATE_FIELDS = 512;

export interface MessageHeader {
  version: number;
  length: number;
  exportTime: number;
  sequenceNumber: number;
  observationDomainId: number;
}

export type Fail = (reason: DecodeErrorReason, offset: number, detail: string, extra?: FailExtra) => void;
export interface FailExtra {
  observationDomainId?: number;
  setId?: number;
  templateId?: number;
}

/**
 * The header, and the end of the bytes to parse sets from (the declared length, or fewer bytes when the
 * message is truncated); undefined when there is no usable header (the problem went to `fail`).
 */
export function parseMessageHeader(
  bytes: Uint8Array,
  fail: Fail,
): { header: MessageHeader; end: number } | undefined {
  if (bytes.length < HEADER_LENGTH) {
    if (bytes.length >= 2 && ((bytes[0]! << 8) | bytes[1]!) !== 10) {
      fail(
        DecodeErrorReason.UnsupportedVersion,
        0,
        `version ${(bytes[0]! << 8) | bytes[1]!}: only IPFIX (10) is supported`,
      );
    } else {
      fail(DecodeErrorReason.MessageHeaderTruncated, 0, `${bytes.length} bytes, a message header needs 16`);
    }
    return undefined;
  }
  const version = (bytes[0]! << 8) | bytes[1]!;
  const declaredLength = (bytes[2]! << 8) | bytes[3]!;
  if (version !== 10) {
    const what = version === 9 ? 'NetFlow v9' : version === 5 ? 'NetFlow v5' : `version ${version}`;
    fail(DecodeErrorReason.UnsupportedVersion, 0, `${what}: only IPFIX (10) is supported`);
    return undefined;
  }
  if (declaredLength < HEADER_LENGTH) {
    fail(
      DecodeErrorReason.MessageLengthInvalid,
      2,
      `message length ${declaredLength} is below the 16-byte header`,
    );
    return undefined;
  }
  const header: MessageHeader = {
    version,
    length: declaredLength,
    exportTime: u32(bytes, 4),
    sequenceNumber: u32(bytes, 8),
    observationDomainId: u32(bytes, 12),
  };
  const odid = header.observationDomainId;
  let end = declaredLength;
  if (declaredLength > bytes.length) {
    fail(
      DecodeErrorReason.MessageTruncated,
      2,
      `message length ${declaredLength} but only ${bytes.length} bytes: decoding what is present`,
      { observationDomainId: odid },
    );
    end = bytes.length;
  } else if (declaredLength < bytes.length) {
    fail(
      DecodeErrorReason.TrailingBytes,
      declaredLength,
      `${bytes.length - declaredLength} bytes after the message length ${declaredLength} ignored`,
      { observationDomainId: odid },
    );
  }
  return { header, end };
}

export interface SetBounds {
  setId: number;
  /** Offset of the set header. */
  offset: number;
  bodyStart: number;
  setEnd: number;
  /** The set was cut at the end of the message: nothing follows it. */
  last: boolean;
}

/** The set starting at `offset`, or undefined when no further set can be delimited (reported to `fail`). */
export function parseSetHeader(
  bytes: Uint8Array,
  offset: number,
  end: number,
  declaredLength: number,
  odid: number,
  fail: Fail,
): SetBounds | undefined {
  if (end - offset < 4) {
    fail(DecodeErrorReason.SetHeaderTruncated, offset, `${end - offset} bytes left, a set header needs 4`, {
      observationDomainId: odid,
    });
    return undefined;
  }
  const setId = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const setLength = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  if (setLength < 4) {
    fail(DecodeErrorReason.SetLengthInvalid, offset, `set ${setId} has length ${setLength} (minimum 4)`, {
      observationDomainId: odid,
      setId,
    });
    return undefined;
  }
  let setEnd = offset + setLength;
  let last = false;
  if (setEnd > end) {
    // Past the declared message length: an error of its own; past a truncated buffer: already reported.
    if (setEnd > declaredLength) {
      fail(
        DecodeErrorReason.SetLengthOverrun,
        offset,
        `set ${setId} length ${setLength} runs ${setEnd - declaredLength} bytes past the message`,
        { observationDomainId: odid, setId },
      );
    }
    setEnd = end;
    last = true;
  }
  return { setId, offset, bodyStart: offset + 4, setEnd, last };
}

/** What a template set asks of the template store, in order. */
export interface TemplateSetSink {
  /** A valid template record: its field specifiers are bytes[specStart, specEnd) (`fieldCount` of them). */
  define(
    templateId: number,
    scopeFieldCount: number,
    fieldCount: number,
    specStart: number,
    specEnd: number,
  ): void;
  withdraw(templateId: number): void;
  withdrawAll(): void;
  /** An invalid (re)definition: the exporter meant to redefine the id, so the old definition is stale. */
  forget(templateId: number): void;
}

/** Parses the template records of set 2 (templates) or 3 (options templates) between start and setEnd. */
export function parseTemplateSet(
  bytes: Uint8Array,
  setId: number,
  start: number,
  setEnd: number,
  odid: number,
  sink: TemplateSetSink,
  fail: Fail,
): void {
  const options = setId === 3;
  let p = start;
  while (p < setEnd) {
    const left = setEnd - p;
    if (left < 4) {
      if (!allZero(bytes, p, setEnd)) {
        fail(
          DecodeErrorReason.TemplateRecordTruncated,
          p,
          `${left} bytes left, a template record header needs 4`,
          { observationDomainId: odid, setId },
        );
      }
      return;
    }
    const templateId = (bytes[p]! << 8) | bytes[p + 1]!;
    const fieldCount = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    if (fieldCount === 0) {
      if (templateId === setId) sink.withdrawAll();
      else if (templateId >= 256) sink.withdraw(templateId);
      else {
        fail(DecodeErrorReason.TemplateIdInvalid, p, `withdrawal of template id ${templateId} (below 256)`, {
          observationDomainId: odid,
          setId,
          templateId,
        });
      }
      p += 4;
      continue;
    }
    if (templateId < 256) {
      // Without a valid id the record cannot be trusted, nor anything after it in the set.
      fail(
        DecodeErrorReason.TemplateIdInvalid,
        p,
        `template id ${templateId} is below 256: rest of set skipped`,
        { observationDomainId: odid, setId, templateId },
      );
      return;
    }
    const where = { observationDomainId: odid, setId, templateId };
    let q = p + 4;
    let scopeFieldCount = 0;
    if (options) {
      if (setEnd - q < 2) {
        fail(DecodeErrorReason.TemplateRecordTruncated, p, 'options template record header truncated', where);
        sink.forget(templateId);
        return;
      }
      scopeFieldCount = (bytes[q]! << 8) | bytes[q + 1]!;
      q += 2;
    }
    const specStart = q;
    const scan = scanSpecifiers(bytes, q, setEnd, fieldCount);
    if (scan.truncated) {
      // As go-ipfix: the exporter meant to redefine this id, so the old definition is stale.
      sink.forget(templateId);
      fail(
        DecodeErrorReason.TemplateRecordTruncated,
        p,
        `template ${templateId} declares ${fieldCount} fields but only ${scan.complete} fit in the set`,
        where,
      );
      return;
    }
    p = scan.end;
    if (scan.zeroLengthField >= 0) {
      sink.forget(templateId);
      fail(
        DecodeErrorReason.TemplateFieldInvalid,
        p,
        `template ${templateId} field ${scan.zeroLengthField + 1} has length 0`,
        where,
      );
      continue;
    }
    if (fieldCount > MAX_TEMPLATE_FIELDS) {
      // Compiling such a decoder would cost far more than any message is worth.
      sink.forget(templateId);
      fail(
        DecodeErrorReason.TemplateFieldInvalid,
        p,
        `template ${templateId} has ${fieldCount} fields (more than ${MAX_TEMPLATE_FIELDS} are not accepted)`,
        where,
      );
      continue;
    }
    if (options && (scopeFieldCount === 0 || scopeFieldCount > fieldCount)) {
      sink.forget(templateId);
      fail(
        DecodeErrorReason.OptionsTemplateScopeInvalid,
        p,
        `options template ${templateId} scope field count ${scopeFieldCount} of ${fieldCount} fields`,
        where,
      );
      continue;
    }
    sink.define(templateId, scopeFieldCount, fieldCount, specStart, scan.end);
  }
}

/** Walks `fieldCount` field specifiers from q: where they end, whether they fit, the first of length 0. */
function scanSpecifiers(
  bytes: Uint8Array,
  q: number,
  setEnd: number,
  fieldCount: number,
): { end: number; truncated: boolean; complete: number; zeroLengthField: number } {
  let zeroLengthField = -1;
  for (let i = 0; i < fieldCount; i++) {
    if (setEnd - q < 4) return { end: q, truncated: true, complete: i, zeroLengthField };
    const enterpriseBit = bytes[q]! & 0x80;
    const length = (bytes[q + 2]! << 8) | bytes[q + 3]!;
    q += 4;
    if (enterpriseBit) {
      if (setEnd - q < 4) return { end: q, truncated: true, complete: i, zeroLengthField };
      q += 4;
    }
    if (length === 0 && zeroLengthField < 0) zeroLengthField = i;
  }
  return { end: q, truncated: false, complete: fieldCount, zeroLengthField };
}

/** The field specifiers stored by parseTemplateSet's `define` (bytes of one template record's fields). */
export function readSpecifiers(bytes: Uint8Array, fieldCount: number): FieldSpecifier[] {
  const specifiers: FieldSpecifier[] = [];
  let q = 0;
  for (let i = 0; i < fieldCount; i++) {
    let id = (bytes[q]! << 8) | bytes[q + 1]!;
    const length = (bytes[q + 2]! << 8) | bytes[q + 3]!;
    q += 4;
    let enterprise = 0;
    if (id & 0x8000) {
      id &= 0x7fff;
      enterprise = u32(bytes, q);
      q += 4;
    }
    specifiers.push({ enterprise, id, length });
  }
  return specifiers;
}

export function u32(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 16777216 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

export function allZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
