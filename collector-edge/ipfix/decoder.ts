// The IPFIX message decoder (RFC 7011): message header, sets, template / options template records,
// withdrawals, data records through per-template compiled decoders, a template cache per transport
// session + observation domain + template id, a bounded holding area for data sets that arrive before
// their template, and sequence accounting. It never throws on input: every problem is a counted,
// typed DecodeError and the state stays consistent for the next message.
import {
  type CompiledTemplate,
  compileTemplate,
  type DataSetContext,
  type FieldSpecifier,
  type RecordShape,
  resolveFields,
} from './compile.ts';
import { defaultRegistry, type IeRegistry } from './registry.ts';
import { type SequenceCounters, SequenceTracker } from './sequence.ts';
import { type DecodeError, DecodeErrorReason, type IpfixRecord } from './types.ts';

export interface TransportSession {
  /** Identifies the transport session: e.g. "udp|10.0.0.5:4739|10.0.0.9:53211" or a TCP connection id. */
  id: string;
  exporterAddress: string;
  transport: 'udp' | 'tcp' | 'sctp' | 'file';
}

export interface MessageHeader {
  version: number;
  length: number;
  exportTime: number;
  sequenceNumber: number;
  observationDomainId: number;
}

interface DataSetOrigin extends DataSetContext {
  sessionId: string;
  templateId: number;
  /** Held until its template arrived (then it belongs to an earlier message). */
  delayed: boolean;
  tag: unknown;
}

/**
 * A decoded data set. Data records have the decoder's record shape (IpfixRecord unless a recordShape was
 * given); records of an options template (set 3, `options: true`), e.g. exporter statistics, not flows, are
 * always IpfixRecords. `firstRecordIndex`: data records of the same message before this set (Antrea numbers
 * records sequenceNumber + index).
 */
export type DecodedDataSet<R = IpfixRecord> = DataSetOrigin &
  ({ options: false; records: R[] } | { options: true; records: IpfixRecord[] });

export interface TemplateInfo {
  sessionId: string;
  observationDomainId: number;
  templateId: number;
  options: boolean;
  scopeFieldCount: number;
  fields: CompiledTemplate['fields'];
}

export interface DecodeResult<R = IpfixRecord> {
  header: MessageHeader | undefined;
  /** Data sets decoded from this message, then any held sets its templates released. */
  dataSets: DecodedDataSet<R>[];
  /** Records in dataSets. */
  recordCount: number;
  templatesDefined: TemplateInfo[];
  templatesWithdrawn: number;
  /** Data sets of this message held for a template that has not arrived yet. */
  heldSets: number;
  errors: DecodeError[];
}

export interface DecodeOptions {
  /** Receive time (ms since the epoch); defaults to the decoder's clock. */
  receivedAtMs?: number;
  /** Carried into DecodedDataSet.tag and DecodeError.tag (e.g. a file offset). */
  tag?: unknown;
}

export interface IpfixDecoderOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  registry?: IeRegistry;
  /** UDP templates expire this long after their last (re)definition (RFC 7011 8.4); default 1800 s. */
  udpTemplateLifetimeMs?: number;
  /** Data sets held for a missing template: at most this many ... */
  maxHeldSets?: number;
  /** ... and this many bytes in total ... */
  maxHeldBytes?: number;
  /** ... for at most this long; default 30 s. */
  maxHoldMs?: number;
  /** What data records become (default: IpfixRecord objects keyed by IE name); see compile.ts. */
  recordShape?: RecordShape<unknown>;
}

export interface DecoderStats extends SequenceCounters {
  messages: number;
  records: number;
  dataSets: number;
  templatesDefined: number;
  templatesWithdrawn: number;
  templatesExpired: number;
  setsHeld: number;
  setsReleased: number;
  setsDropped: number;
  currentlyHeld: number;
  compiledDecoders: number;
  errors: Record<DecodeErrorReason, number>;
}

export interface SequenceStats extends SequenceCounters {
  sessionId: string;
  observationDomainId: number;
}

export interface IpfixDecoder<R = IpfixRecord> {
  decodeMessage(bytes: Uint8Array, session: TransportSession, options?: DecodeOptions): DecodeResult<R>;
  /** Drops held sets older than maxHoldMs (also done on every decodeMessage); returns their errors. */
  expireHeld(nowMs?: number): DecodeError[];
  /** Drops every held set now (end of input); returns one TemplateMissing error per set. */
  dropAllHeld(): DecodeError[];
  /** Forgets a closed transport session: its templates, sequence state and held sets (dropped, returned). */
  closeSession(sessionId: string): DecodeError[];
  stats(): DecoderStats;
  sequenceStats(): SequenceStats[];
  templates(): TemplateInfo[];
}

interface TemplateEntry extends TemplateInfo {
  /** Options templates decode to IpfixRecords, data templates to the decoder's record shape. */
  compiled: CompiledTemplate<unknown>;
  definedAtMs: number;
}

interface DomainState {
  templates: Map<number, TemplateEntry>;
  sequence: SequenceTracker;
}

interface SessionState {
  session: TransportSession;
  domains: Map<number, DomainState>;
}

interface HeldSet {
  session: TransportSession;
  header: MessageHeader;
  templateId: number;
  firstRecordIndex: number;
  bytes: Uint8Array;
  offset: number;
  heldAtMs: number;
  receivedAtMs: number;
  tag: unknown;
}

const HEADER_LENGTH = 16;
const MAX_COMPILED = 4096;
const MAX_TEMPLATE_FIELDS = 512;

function emptyErrorCounts(): Record<DecodeErrorReason, number> {
  const counts = {} as Record<DecodeErrorReason, number>;
  for (const reason of Object.values(DecodeErrorReason)) counts[reason] = 0;
  return counts;
}

export function createIpfixDecoder(options?: IpfixDecoderOptions & { recordShape?: undefined }): IpfixDecoder;
export function createIpfixDecoder<R>(
  options: IpfixDecoderOptions & { recordShape: RecordShape<R> },
): IpfixDecoder<R>;
export function createIpfixDecoder(options: IpfixDecoderOptions = {}): IpfixDecoder<unknown> {
  const clock = options.clock ?? Date.now;
  const registry = options.registry ?? defaultRegistry;
  const udpLifetimeMs = options.udpTemplateLifetimeMs ?? 1_800_000;
  const maxHeldSets = options.maxHeldSets ?? 1024;
  const maxHeldBytes = options.maxHeldBytes ?? 4 * 1024 * 1024;
  const maxHoldMs = options.maxHoldMs ?? 30_000;

  const sessions = new Map<string, SessionState>();
  const recordShape = options.recordShape;
  // Compiled decoders are shared by every session sending the same field list (all Antrea agents).
  const compiledBySignature = new Map<string, CompiledTemplate<unknown>>();
  let held: HeldSet[] = [];
  let heldBytes = 0;

  const counters = {
    messages: 0,
    records: 0,
    dataSets: 0,
    templatesDefined: 0,
    templatesWithdrawn: 0,
    templatesExpired: 0,
    setsHeld: 0,
    setsReleased: 0,
    setsDropped: 0,
  };
  const errorCounts = emptyErrorCounts();

  function domainOf(session: TransportSession, observationDomainId: number): DomainState {
    let state = sessions.get(session.id);
    if (!state) {
      state = { session, domains: new Map() };
      sessions.set(session.id, state);
    }
    let domain = state.domains.get(observationDomainId);
    if (!domain) {
      domain = { templates: new Map(), sequence: new SequenceTracker() };
      state.domains.set(observationDomainId, domain);
    }
    return domain;
  }

  function compiledFor(specifiers: FieldSpecifier[], options: boolean): CompiledTemplate<unknown> {
    const shape = options ? undefined : recordShape;
    const signature =
      (shape ? 'shaped|' : '') + specifiers.map((s) => `${s.enterprise}:${s.id}:${s.length}`).join(',');
    let compiled = compiledBySignature.get(signature);
    if (!compiled) {
      if (compiledBySignature.size >= MAX_COMPILED) compiledBySignature.clear();
      compiled = compileTemplate<unknown>(resolveFields(specifiers, registry), shape);
      compiledBySignature.set(signature, compiled);
    }
    return compiled;
  }

  function lookupTemplate(
    domain: DomainState,
    session: TransportSession,
    templateId: number,
    nowMs: number,
  ): TemplateEntry | undefined {
    const entry = domain.templates.get(templateId);
    if (entry && session.transport === 'udp' && nowMs - entry.definedAtMs > udpLifetimeMs) {
      domain.templates.delete(templateId);
      counters.templatesExpired++;
      return undefined;
    }
    return entry;
  }

  function dropHeld(set: HeldSet, why: string): DecodeError {
    counters.setsDropped++;
    heldBytes -= set.bytes.length;
    errorCounts[DecodeErrorReason.TemplateMissing]++;
    return {
      reason: DecodeErrorReason.TemplateMissing,
      offset: set.offset,
      detail: `data set for template ${set.templateId} dropped: ${why}`,
      sessionId: set.session.id,
      observationDomainId: set.header.observationDomainId,
      setId: set.templateId,
      templateId: set.templateId,
      tag: set.tag,
    };
  }

  function expireHeld(nowMs: number = clock()): DecodeError[] {
    const errors: DecodeError[] = [];
    if (held.length === 0) return errors;
    const keep: HeldSet[] = [];
    for (const set of held) {
      if (nowMs - set.heldAtMs > maxHoldMs) errors.push(dropHeld(set, `no template within ${maxHoldMs} ms`));
      else keep.push(set);
    }
    held = keep;
    return errors;
  }

  function hold(set: HeldSet, errors: DecodeError[]): void {
    held.push(set);
    heldBytes += set.bytes.length;
    counters.setsHeld++;
    while (held.length > maxHeldSets || heldBytes > maxHeldBytes) {
      errors.push(dropHeld(held.shift()!, 'holding area full'));
    }
  }

  function decodeDataSet(
    entry: TemplateEntry,
    bytes: Uint8Array,
    start: number,
    end: number,
    context: Omit<DataSetOrigin, 'templateId'>,
    templateId: number,
    errors: DecodeError[],
  ): DecodedDataSet<unknown> {
    const records: unknown[] = [];
    let stop = entry.compiled.decodeRecords(bytes, start, end, records, context);
    if (stop < 0) {
      stop = ~stop;
      errorCounts[DecodeErrorReason.RecordOverrun]++;
      errors.push({
        reason: DecodeErrorReason.RecordOverrun,
        offset: stop,
        detail: `data record ${records.length + 1} of template ${templateId} runs past the end of its set (${end - stop} bytes left)`,
        sessionId: context.sessionId,
        observationDomainId: context.observationDomainId,
        setId: templateId,
        templateId,
        tag: context.tag,
      });
    } else if (stop < end && !allZero(bytes, stop, end)) {
      // Padding must be zero (RFC 7011 3.3.1): non-zero leftovers mean the template does not match.
      errorCounts[DecodeErrorReason.RecordOverrun]++;
      errors.push({
        reason: DecodeErrorReason.RecordOverrun,
        offset: stop,
        detail: `${end - stop} non-zero bytes left in the data set of template ${templateId}: not a whole record (template mismatch?)`,
        sessionId: context.sessionId,
        observationDomainId: context.observationDomainId,
        setId: templateId,
        templateId,
        tag: context.tag,
      });
    }
    counters.dataSets++;
    counters.records += records.length;
    return { ...context, templateId, options: entry.options, records } as DecodedDataSet<unknown>;
  }

  function decodeMessage(
    bytes: Uint8Array,
    session: TransportSession,
    decodeOptions?: DecodeOptions,
  ): DecodeResult<unknown> {
    const receivedAtMs = decodeOptions?.receivedAtMs ?? clock();
    const tag = decodeOptions?.tag;
    const result: DecodeResult<unknown> = {
      header: undefined,
      dataSets: [],
      recordCount: 0,
      templatesDefined: [],
      templatesWithdrawn: 0,
      heldSets: 0,
      errors: [],
    };
    const errors = result.errors;
    const fail = (
      reason: DecodeErrorReason,
      offset: number,
      detail: string,
      extra?: Partial<DecodeError>,
    ) => {
      errorCounts[reason]++;
      errors.push({ reason, offset, detail, sessionId: session.id, tag, ...extra });
    };
    counters.messages++;
    if (held.length > 0) errors.push(...expireHeld(receivedAtMs));

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
      return result;
    }
    const version = (bytes[0]! << 8) | bytes[1]!;
    const declaredLength = (bytes[2]! << 8) | bytes[3]!;
    if (version !== 10) {
      const what = version === 9 ? 'NetFlow v9' : version === 5 ? 'NetFlow v5' : `version ${version}`;
      fail(DecodeErrorReason.UnsupportedVersion, 0, `${what}: only IPFIX (10) is supported`);
      return result;
    }
    if (declaredLength < HEADER_LENGTH) {
      fail(
        DecodeErrorReason.MessageLengthInvalid,
        2,
        `message length ${declaredLength} is below the 16-byte header`,
      );
      return result;
    }
    const header: MessageHeader = {
      version,
      length: declaredLength,
      exportTime: u32(bytes, 4),
      sequenceNumber: u32(bytes, 8),
      observationDomainId: u32(bytes, 12),
    };
    result.header = header;
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

    const domain = domainOf(session, odid);
    let recordsInMessage = 0;
    let countable = true;
    const released: DecodedDataSet<unknown>[] = [];
    let offset = HEADER_LENGTH;
    while (offset < end) {
      if (end - offset < 4) {
        fail(
          DecodeErrorReason.SetHeaderTruncated,
          offset,
          `${end - offset} bytes left, a set header needs 4`,
          {
            observationDomainId: odid,
          },
        );
        break;
      }
      const setId = (bytes[offset]! << 8) | bytes[offset + 1]!;
      const setLength = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
      if (setLength < 4) {
        fail(DecodeErrorReason.SetLengthInvalid, offset, `set ${setId} has length ${setLength} (minimum 4)`, {
          observationDomainId: odid,
          setId,
        });
        break;
      }
      let setEnd = offset + setLength;
      let lastSet = false;
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
        lastSet = true;
      }
      const bodyStart = offset + 4;
      if (setId === 2 || setId === 3) {
        parseTemplateSet(setId, bodyStart, setEnd);
      } else if (setId >= 256) {
        const entry = lookupTemplate(domain, session, setId, receivedAtMs);
        const context = {
          sessionId: session.id,
          exporterAddress: session.exporterAddress,
          observationDomainId: odid,
          exportTime: header.exportTime,
          sequenceNumber: header.sequenceNumber,
          firstRecordIndex: recordsInMessage,
          delayed: false,
          receivedAtMs,
          tag,
          shapeState: undefined,
        };
        if (entry) {
          const set = decodeDataSet(entry, bytes, bodyStart, setEnd, context, setId, errors);
          recordsInMessage += set.records.length;
          result.dataSets.push(set);
        } else {
          countable = false;
          result.heldSets++;
          hold(
            {
              session,
              header,
              templateId: setId,
              firstRecordIndex: recordsInMessage,
              bytes: new Uint8Array(bytes.subarray(bodyStart, setEnd)), // a copy, never a view of the caller's buffer
              offset,
              heldAtMs: receivedAtMs,
              receivedAtMs,
              tag,
            },
            errors,
          );
        }
      } else {
        fail(
          DecodeErrorReason.SetIdReserved,
          offset,
          `set id ${setId} is reserved (0-1, 4-255): set skipped`,
          {
            observationDomainId: odid,
            setId,
          },
        );
      }
      if (lastSet) break;
      offset = setEnd;
    }
    domain.sequence.observe(header.sequenceNumber, countable ? recordsInMessage : undefined);
    result.dataSets.push(...released);
    for (const set of result.dataSets) result.recordCount += set.records.length;
    return result;

    function parseTemplateSet(setId: number, start: number, setEnd: number): void {
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
              {
                observationDomainId: odid,
                setId,
              },
            );
          }
          return;
        }
        const templateId = (bytes[p]! << 8) | bytes[p + 1]!;
        const fieldCount = (bytes[p + 2]! << 8) | bytes[p + 3]!;
        if (fieldCount === 0) {
          if (templateId === setId) withdrawAll(options);
          else if (templateId >= 256) withdraw(templateId);
          else {
            fail(
              DecodeErrorReason.TemplateIdInvalid,
              p,
              `withdrawal of template id ${templateId} (below 256)`,
              {
                observationDomainId: odid,
                setId,
                templateId,
              },
            );
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
            {
              observationDomainId: odid,
              setId,
              templateId,
            },
          );
          return;
        }
        let q = p + 4;
        let scopeFieldCount = 0;
        if (options) {
          if (setEnd - q < 2) {
            fail(DecodeErrorReason.TemplateRecordTruncated, p, 'options template record header truncated', {
              observationDomainId: odid,
              setId,
              templateId,
            });
            domain.templates.delete(templateId);
            return;
          }
          scopeFieldCount = (bytes[q]! << 8) | bytes[q + 1]!;
          q += 2;
        }
        const specifiers: FieldSpecifier[] = [];
        let truncated = false;
        let invalidField = -1;
        for (let i = 0; i < fieldCount; i++) {
          if (setEnd - q < 4) {
            truncated = true;
            break;
          }
          let id = (bytes[q]! << 8) | bytes[q + 1]!;
          const length = (bytes[q + 2]! << 8) | bytes[q + 3]!;
          q += 4;
          let enterprise = 0;
          if (id & 0x8000) {
            if (setEnd - q < 4) {
              truncated = true;
              break;
            }
            id &= 0x7fff;
            enterprise = u32(bytes, q);
            q += 4;
          }
          if (length === 0 && invalidField < 0) invalidField = i;
          specifiers.push({ enterprise, id, length });
        }
        if (truncated) {
          // As go-ipfix: the exporter meant to redefine this id, so the old definition is stale.
          domain.templates.delete(templateId);
          fail(
            DecodeErrorReason.TemplateRecordTruncated,
            p,
            `template ${templateId} declares ${fieldCount} fields but only ${specifiers.length} fit in the set`,
            { observationDomainId: odid, setId, templateId },
          );
          return;
        }
        p = q;
        if (invalidField >= 0) {
          domain.templates.delete(templateId);
          fail(
            DecodeErrorReason.TemplateFieldInvalid,
            p,
            `template ${templateId} field ${invalidField + 1} has length 0`,
            {
              observationDomainId: odid,
              setId,
              templateId,
            },
          );
          continue;
        }
        if (specifiers.length > MAX_TEMPLATE_FIELDS) {
          // Legal on the wire (up to ~16k), never sent by real exporters (Antrea's largest has 70), and
          // compiling such a decoder would cost far more than any message is worth.
          domain.templates.delete(templateId);
          fail(
            DecodeErrorReason.TemplateFieldInvalid,
            p,
            `template ${templateId} has ${specifiers.length} fields (more than ${MAX_TEMPLATE_FIELDS} are not accepted)`,
            { observationDomainId: odid, setId, templateId },
          );
          continue;
        }
        if (options && (scopeFieldCount === 0 || scopeFieldCount > fieldCount)) {
          domain.templates.delete(templateId);
          fail(
            DecodeErrorReason.OptionsTemplateScopeInvalid,
            p,
            `options template ${templateId} scope field count ${scopeFieldCount} of ${fieldCount} fields`,
            { observationDomainId: odid, setId, templateId },
          );
          continue;
        }
        define(templateId, options, scopeFieldCount, specifiers);
      }
    }

    function define(
      templateId: number,
      options: boolean,
      scopeFieldCount: number,
      specifiers: FieldSpecifier[],
    ): void {
      const compiled = compiledFor(specifiers, options);
      const entry: TemplateEntry = {
        sessionId: session.id,
        observationDomainId: odid,
        templateId,
        options,
        scopeFieldCount,
        fields: compiled.fields,
        compiled,
        definedAtMs: receivedAtMs,
      };
      domain.templates.set(templateId, entry);
      counters.templatesDefined++;
      result.templatesDefined.push({
        sessionId: session.id,
        observationDomainId: odid,
        templateId,
        options,
        scopeFieldCount,
        fields: compiled.fields,
      });
      releaseHeld(entry);
    }

    function releaseHeld(entry: TemplateEntry): void {
      if (held.length === 0) return;
      const keep: HeldSet[] = [];
      for (const set of held) {
        if (
          set.templateId !== entry.templateId ||
          set.session.id !== session.id ||
          set.header.observationDomainId !== odid
        ) {
          keep.push(set);
          continue;
        }
        heldBytes -= set.bytes.length;
        counters.setsReleased++;
        released.push(
          decodeDataSet(
            entry,
            set.bytes,
            0,
            set.bytes.length,
            {
              sessionId: set.session.id,
              exporterAddress: set.session.exporterAddress,
              observationDomainId: odid,
              exportTime: set.header.exportTime,
              sequenceNumber: set.header.sequenceNumber,
              firstRecordIndex: set.firstRecordIndex,
              delayed: true,
              receivedAtMs: set.receivedAtMs,
              tag: set.tag,
              shapeState: undefined,
            },
            entry.templateId,
            errors,
          ),
        );
      }
      held = keep;
    }

    function withdraw(templateId: number): void {
      if (domain.templates.delete(templateId)) {
        counters.templatesWithdrawn++;
        result.templatesWithdrawn++;
      }
    }

    function withdrawAll(options: boolean): void {
      for (const [id, entry] of domain.templates) {
        if (entry.options === options) withdraw(id);
      }
    }
  }

  function dropAllHeld(): DecodeError[] {
    const errors = held.map((set) => dropHeld(set, 'end of input without its template'));
    held = [];
    heldBytes = 0;
    return errors;
  }

  return {
    decodeMessage,
    expireHeld,
    dropAllHeld,
    closeSession(sessionId: string): DecodeError[] {
      sessions.delete(sessionId);
      const errors: DecodeError[] = [];
      const keep: HeldSet[] = [];
      for (const set of held) {
        if (set.session.id === sessionId) errors.push(dropHeld(set, 'transport session closed'));
        else keep.push(set);
      }
      held = keep;
      return errors;
    },
    stats(): DecoderStats {
      let lostRecords = 0;
      let reorderedMessages = 0;
      for (const state of sessions.values()) {
        for (const domain of state.domains.values()) {
          lostRecords += domain.sequence.lostRecords;
          reorderedMessages += domain.sequence.reorderedMessages;
        }
      }
      return {
        ...counters,
        lostRecords,
        reorderedMessages,
        currentlyHeld: held.length,
        compiledDecoders: compiledBySignature.size,
        errors: { ...errorCounts },
      };
    },
    sequenceStats(): SequenceStats[] {
      const out: SequenceStats[] = [];
      for (const [sessionId, state] of sessions) {
        for (const [observationDomainId, domain] of state.domains) {
          const { messages, lostRecords, reorderedMessages } = domain.sequence;
          out.push({ sessionId, observationDomainId, messages, lostRecords, reorderedMessages });
        }
      }
      return out;
    },
    templates(): TemplateInfo[] {
      const out: TemplateInfo[] = [];
      for (const state of sessions.values()) {
        for (const domain of state.domains.values()) {
          for (const { compiled: _compiled, definedAtMs: _at, ...info } of domain.templates.values())
            out.push(info);
        }
      }
      return out;
    },
  };
}

function u32(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 16777216 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

function allZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
