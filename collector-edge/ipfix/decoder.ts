// The IPFIX message decoder (RFC 7011): walks a message's sets (message-parser.ts), applies template
// records to the template store (template-store.ts: per transport session + observation domain + template
// id, under a process-wide budget), decodes data sets through compiled decoders, holds data sets that
// arrive before their template (holding-area.ts), and keeps sequence accounting. It never throws on input:
// every problem is a counted, typed DecodeError and the state stays consistent for the next message.
import type { CompiledTemplate, DataSetContext, RecordShape } from './compile.ts';
import { type HeldSet, HoldingArea } from './holding-area.ts';
import {
  allZero,
  type Fail,
  HEADER_LENGTH,
  type MessageHeader,
  parseMessageHeader,
  parseSetHeader,
  parseTemplateSet,
  type TemplateSetSink,
} from './message-parser.ts';
import { defaultRegistry, type IeRegistry } from './registry.ts';
import { type SequenceCounters, SequenceTracker } from './sequence.ts';
import {
  DEFAULT_TEMPLATE_BUDGET,
  type StoredTemplate,
  type TemplateBudget,
  type TemplateDomain,
  TemplateStore,
} from './template-store.ts';
import { type DecodeError, DecodeErrorReason, type IpfixRecord } from './types.ts';

export type { MessageHeader } from './message-parser.ts';
export type { TemplateBudget } from './template-store.ts';

export interface TransportSession {
  /** Identifies the transport session: e.g. "udp|10.0.0.5:4739|10.0.0.9:53211" or a TCP connection id. */
  id: string;
  exporterAddress: string;
  transport: 'udp' | 'tcp' | 'sctp' | 'file';
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
  /** Process-wide template limits (count, estimated bytes, compile rate); template-store.ts. */
  templateBudget?: Partial<TemplateBudget>;
  /** Told about every template evicted to stay within the budget (the caller counts and logs it). */
  onTemplateEvicted?: (template: TemplateInfo, why: 'count' | 'bytes') => void;
}

export interface DecoderStats extends SequenceCounters {
  messages: number;
  records: number;
  dataSets: number;
  templatesDefined: number;
  templatesWithdrawn: number;
  templatesExpired: number;
  /** Evicted (least recently used first) to stay within the template budget. */
  templatesEvicted: number;
  /** Data sets held because compiling their decoder was over the compile budget of the moment. */
  compileDeferrals: number;
  /** Templates kept now, and their estimated bytes (template-store.ts). */
  templatesStored: number;
  templateBytes: number;
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
  /** Templates kept and their estimated bytes (cheap; for a gauge). */
  templateUsage(): { templates: number; bytes: number };
  sequenceStats(): SequenceStats[];
  templates(): TemplateInfo[];
}

interface SessionSequences {
  domains: Map<number, SequenceTracker>;
}

function emptyErrorCounts(): Record<DecodeErrorReason, number> {
  const counts = {} as Record<DecodeErrorReason, number>;
  for (const reason of Object.values(DecodeErrorReason)) counts[reason] = 0;
  return counts;
}

/** TemplateInfo of a stored template; `fields` is resolved when first read (definitions stay cheap). */
function templateInfo(entry: StoredTemplate): TemplateInfo {
  return {
    sessionId: entry.sessionId,
    observationDomainId: entry.observationDomainId,
    templateId: entry.templateId,
    options: entry.options,
    scopeFieldCount: entry.scopeFieldCount,
    get fields() {
      return entry.fields;
    },
  };
}

/** What decoding one message shares between its sets (createIpfixDecoder's decodeMessage). */
interface MessageInProgress {
  bytes: Uint8Array;
  session: TransportSession;
  tag: unknown;
  receivedAtMs: number;
  result: DecodeResult<unknown>;
  errors: DecodeError[];
  /** Set once the header parses, with its observation domain's templates. */
  header: MessageHeader | undefined;
  odid: number;
  domain: TemplateDomain;
  /** Held sets this message's templates released (they follow its own sets). */
  released: DecodedDataSet<unknown>[];
  /** Data records of this message decoded so far. */
  recordsInMessage: number;
  /** False once a set is held: the message's record count is then unknown (sequence accounting). */
  countable: boolean;
}

const NO_DOMAIN: TemplateDomain = new Map();

/** No message in progress (between decodeMessage calls). */
const IDLE: MessageInProgress = newMessage(
  new Uint8Array(0),
  { id: '', exporterAddress: '', transport: 'file' },
  undefined,
  0,
);

/** A message about to be decoded, with its empty result. */
function newMessage(
  bytes: Uint8Array,
  session: TransportSession,
  tag: unknown,
  receivedAtMs: number,
): MessageInProgress {
  const result: DecodeResult<unknown> = {
    header: undefined,
    dataSets: [],
    recordCount: 0,
    templatesDefined: [],
    templatesWithdrawn: 0,
    heldSets: 0,
    errors: [],
  };
  return {
    bytes,
    session,
    tag,
    receivedAtMs,
    result,
    errors: result.errors,
    header: undefined,
    odid: 0,
    domain: NO_DOMAIN,
    released: [],
    recordsInMessage: 0,
    countable: true,
  };
}

/**
 * An empty data set of `entry`'s template, from `header`'s message: decoded in place (decodeDataSet), and the
 * compiled decoder's context. One literal for sets decoded at once and held ones, so both have one shape.
 */
function newDataSet(
  session: Pick<TransportSession, 'id' | 'exporterAddress'>,
  header: MessageHeader,
  entry: StoredTemplate,
  firstRecordIndex: number,
  delayed: boolean,
  receivedAtMs: number,
  tag: unknown,
): DecodedDataSet<unknown> {
  return {
    sessionId: session.id,
    exporterAddress: session.exporterAddress,
    observationDomainId: header.observationDomainId,
    exportTime: header.exportTime,
    sequenceNumber: header.sequenceNumber,
    firstRecordIndex,
    delayed,
    receivedAtMs,
    tag,
    shapeState: undefined,
    templateId: entry.templateId,
    options: entry.options,
    records: [],
  } as DecodedDataSet<unknown>;
}

export function createIpfixDecoder(options?: IpfixDecoderOptions & { recordShape?: undefined }): IpfixDecoder;
export function createIpfixDecoder<R>(
  options: IpfixDecoderOptions & { recordShape: RecordShape<R> },
): IpfixDecoder<R>;
export function createIpfixDecoder(options: IpfixDecoderOptions = {}): IpfixDecoder<unknown> {
  const clock = options.clock ?? Date.now;
  const counters = { messages: 0, records: 0, dataSets: 0, templatesDefined: 0, templatesWithdrawn: 0 };
  const errorCounts = emptyErrorCounts();
  const sequences = new Map<string, SessionSequences>();
  const onEvicted = options.onTemplateEvicted;
  const store = new TemplateStore(
    options.registry ?? defaultRegistry,
    options.recordShape,
    options.udpTemplateLifetimeMs ?? 1_800_000,
    { ...DEFAULT_TEMPLATE_BUDGET, ...options.templateBudget },
    onEvicted ? (entry, why) => onEvicted(templateInfo(entry), why) : undefined,
  );
  const holding = new HoldingArea(
    {
      maxSets: options.maxHeldSets ?? 1024,
      maxBytes: options.maxHeldBytes ?? 4 * 1024 * 1024,
      maxHoldMs: options.maxHoldMs ?? 30_000,
    },
    (error) => errorCounts[error.reason]++,
  );

  function sequenceOf(sessionId: string, observationDomainId: number): SequenceTracker {
    let state = sequences.get(sessionId);
    if (!state) {
      state = { domains: new Map() };
      sequences.set(sessionId, state);
    }
    let tracker = state.domains.get(observationDomainId);
    if (!tracker) {
      tracker = new SequenceTracker();
      state.domains.set(observationDomainId, tracker);
    }
    return tracker;
  }

  /**
   * Decodes the records between `start` and `end` into `set.records`. The set is the decoder's context too
   * (a RecordShape's shapeState lands on it): no second object per set.
   */
  function decodeDataSet(
    compiled: CompiledTemplate<unknown>,
    bytes: Uint8Array,
    start: number,
    end: number,
    set: DecodedDataSet<unknown>,
    errors: DecodeError[],
  ): DecodedDataSet<unknown> {
    const { templateId, records } = set;
    let stop = compiled.decodeRecords(bytes, start, end, records, set);
    if (stop < 0) {
      stop = ~stop;
      errorCounts[DecodeErrorReason.RecordOverrun]++;
      errors.push({
        reason: DecodeErrorReason.RecordOverrun,
        offset: stop,
        detail: `data record ${records.length + 1} of template ${templateId} runs past the end of its set (${end - stop} bytes left)`,
        sessionId: set.sessionId,
        observationDomainId: set.observationDomainId,
        setId: templateId,
        templateId,
        tag: set.tag,
      });
    } else if (stop < end && !allZero(bytes, stop, end)) {
      // Padding must be zero (RFC 7011 3.3.1): non-zero leftovers mean the template does not match.
      errorCounts[DecodeErrorReason.RecordOverrun]++;
      errors.push({
        reason: DecodeErrorReason.RecordOverrun,
        offset: stop,
        detail: `${end - stop} non-zero bytes left in the data set of template ${templateId}: not a whole record (template mismatch?)`,
        sessionId: set.sessionId,
        observationDomainId: set.observationDomainId,
        setId: templateId,
        templateId,
        tag: set.tag,
      });
    }
    counters.dataSets++;
    counters.records += records.length;
    return set;
  }

  /** Decodes a held set whose template is now known and compiled. */
  function decodeHeld(
    set: HeldSet,
    entry: StoredTemplate,
    compiled: CompiledTemplate<unknown>,
    errors: DecodeError[],
  ): DecodedDataSet<unknown> {
    const decoded = newDataSet(
      set.session,
      set.header,
      entry,
      set.firstRecordIndex,
      true,
      set.receivedAtMs,
      set.tag,
    );
    return decodeDataSet(compiled, set.bytes, 0, set.bytes.length, decoded, errors);
  }

  /** Held sets whose decoder was over the compile budget: those that compile now are decoded. */
  function retryAwaitingCompile(nowMs: number, out: DecodedDataSet<unknown>[], errors: DecodeError[]): void {
    if (!store.canCompile(nowMs)) return;
    const ready = new Map<HeldSet, [StoredTemplate, CompiledTemplate<unknown>]>();
    let budgetLeft = true;
    const released = holding.release((set) => {
      if (!set.awaitingCompile || !budgetLeft) return false;
      const domain = store.domain(set.session.id, set.header.observationDomainId);
      const entry = store.lookup(domain, set.templateId, set.session.transport === 'udp', nowMs);
      const compiled = entry && store.decoderFor(entry, nowMs);
      if (!entry || !compiled) {
        budgetLeft = entry === undefined; // a missing template (withdrawn, evicted) waits to expire
        return false;
      }
      ready.set(set, [entry, compiled]);
      return true;
    });
    for (const set of released) {
      const [entry, compiled] = ready.get(set)!;
      out.push(decodeHeld(set, entry, compiled, errors));
    }
  }

  // The message being decoded, for `fail` (message-parser.ts reports through it) and the template and
  // holding paths below. These are made once per decoder, not once per message: a closure per message is
  // an allocation (and, under tsx, a defineProperty of its name) that most messages never call.
  // decodeMessage is not re-entered (its callbacks, onTemplateEvicted, must not decode).
  let message = IDLE;
  const fail: Fail = (reason, offset, detail, extra) => {
    errorCounts[reason]++;
    message.errors.push({
      reason,
      offset,
      detail,
      sessionId: message.session.id,
      tag: message.tag,
      ...extra,
    });
  };

  function templateSink(setId: number): TemplateSetSink {
    const m = message;
    return {
      define(templateId, scopeFieldCount, fieldCount, specStart, specEnd) {
        const entry = store.define(
          m.domain,
          { sessionId: m.session.id, observationDomainId: m.odid, templateId },
          setId === 3,
          scopeFieldCount,
          fieldCount,
          m.bytes.subarray(specStart, specEnd),
          m.receivedAtMs,
        );
        counters.templatesDefined++;
        m.result.templatesDefined.push(templateInfo(entry));
        releaseHeld(m, entry);
      },
      withdraw: (templateId) => withdraw(m, templateId),
      withdrawAll() {
        for (const [id, entry] of m.domain) if (entry.options === (setId === 3)) withdraw(m, id);
      },
      forget(templateId) {
        store.delete(m.domain, templateId);
      },
    };
  }

  function withdraw(m: MessageInProgress, templateId: number): void {
    if (store.delete(m.domain, templateId)) {
      counters.templatesWithdrawn++;
      m.result.templatesWithdrawn++;
    }
  }

  /** Sets held for this template: decoded now if its decoder compiles, else kept to retry. */
  function releaseHeld(m: MessageInProgress, entry: StoredTemplate): void {
    if (holding.size === 0) return;
    const waiting = (set: HeldSet) =>
      !set.awaitingCompile &&
      set.templateId === entry.templateId &&
      set.session.id === m.session.id &&
      set.header.observationDomainId === m.odid;
    const compiled = store.decoderFor(entry, m.receivedAtMs);
    if (!compiled) {
      holding.awaitCompile(waiting);
      return;
    }
    for (const set of holding.release(waiting)) m.released.push(decodeHeld(set, entry, compiled, m.errors));
  }

  function holdSet(
    m: MessageInProgress,
    templateId: number,
    setOffset: number,
    bodyStart: number,
    setEnd: number,
    awaitingCompile: boolean,
  ): void {
    m.countable = false;
    m.result.heldSets++;
    holding.hold(
      {
        session: m.session,
        header: m.header!,
        templateId,
        firstRecordIndex: m.recordsInMessage,
        bytes: new Uint8Array(m.bytes.subarray(bodyStart, setEnd)), // a copy, never a view of the caller's buffer
        offset: setOffset,
        heldAtMs: m.receivedAtMs,
        receivedAtMs: m.receivedAtMs,
        tag: m.tag,
        awaitingCompile,
      },
      m.errors,
    );
  }

  /** Decodes the data set of template `setId` at `offset`, or holds it until its template (or decoder) is ready. */
  function dataSet(
    m: MessageInProgress,
    setId: number,
    offset: number,
    bodyStart: number,
    setEnd: number,
  ): void {
    const entry = store.lookup(m.domain, setId, m.session.transport === 'udp', m.receivedAtMs);
    const compiled = entry && store.decoderFor(entry, m.receivedAtMs);
    if (!entry || !compiled) {
      holdSet(m, setId, offset, bodyStart, setEnd, entry !== undefined);
      return;
    }
    const set = newDataSet(m.session, m.header!, entry, m.recordsInMessage, false, m.receivedAtMs, m.tag);
    const decoded = decodeDataSet(compiled, m.bytes, bodyStart, setEnd, set, m.errors);
    m.recordsInMessage += decoded.records.length;
    m.result.dataSets.push(decoded);
  }

  function decodeMessage(
    bytes: Uint8Array,
    session: TransportSession,
    decodeOptions?: DecodeOptions,
  ): DecodeResult<unknown> {
    const receivedAtMs = decodeOptions?.receivedAtMs ?? clock();
    const m = newMessage(bytes, session, decodeOptions?.tag, receivedAtMs);
    message = m;
    counters.messages++;
    if (holding.size > 0) {
      m.errors.push(...holding.expire(receivedAtMs));
      if (holding.awaitingCompile > 0) retryAwaitingCompile(receivedAtMs, m.released, m.errors);
    }

    const parsed = parseMessageHeader(bytes, fail);
    if (parsed) {
      const { header, end } = parsed;
      const odid = header.observationDomainId;
      m.result.header = header;
      m.header = header;
      m.odid = odid;
      m.domain = store.domain(session.id, odid);
      let offset = HEADER_LENGTH;
      while (offset < end) {
        const set = parseSetHeader(bytes, offset, end, header.length, odid, fail);
        if (!set) break;
        const { setId, bodyStart, setEnd } = set;
        if (setId >= 256) dataSet(m, setId, offset, bodyStart, setEnd);
        else if (setId === 2 || setId === 3)
          parseTemplateSet(bytes, setId, bodyStart, setEnd, odid, templateSink(setId), fail);
        else
          fail(
            DecodeErrorReason.SetIdReserved,
            offset,
            `set id ${setId} is reserved (0-1, 4-255): set skipped`,
            {
              observationDomainId: odid,
              setId,
            },
          );
        if (set.last) break;
        offset = setEnd;
      }
      sequenceOf(session.id, odid).observe(
        header.sequenceNumber,
        m.countable ? m.recordsInMessage : undefined,
      );
    }
    if (m.released.length > 0) m.result.dataSets.push(...m.released);
    for (const set of m.result.dataSets) m.result.recordCount += set.records.length;
    message = IDLE;
    return m.result;
  }

  return {
    decodeMessage,
    expireHeld: (nowMs: number = clock()) => holding.expire(nowMs),
    dropAllHeld: () => holding.dropAll('end of input without its template'),
    closeSession(sessionId: string): DecodeError[] {
      store.closeSession(sessionId);
      sequences.delete(sessionId);
      return holding.dropSession(sessionId);
    },
    stats(): DecoderStats {
      let lostRecords = 0;
      let reorderedMessages = 0;
      for (const state of sequences.values()) {
        for (const tracker of state.domains.values()) {
          lostRecords += tracker.lostRecords;
          reorderedMessages += tracker.reorderedMessages;
        }
      }
      return {
        ...counters,
        ...store.counters,
        templatesStored: store.size,
        templateBytes: store.bytes,
        setsHeld: holding.setsHeld,
        setsReleased: holding.setsReleased,
        setsDropped: holding.setsDropped,
        lostRecords,
        reorderedMessages,
        currentlyHeld: holding.size,
        compiledDecoders: store.compiledDecoders,
        errors: { ...errorCounts },
      };
    },
    templateUsage: () => ({ templates: store.size, bytes: store.bytes }),
    sequenceStats(): SequenceStats[] {
      const out: SequenceStats[] = [];
      for (const [sessionId, state] of sequences) {
        for (const [observationDomainId, tracker] of state.domains) {
          const { messages, lostRecords, reorderedMessages } = tracker;
          out.push({ sessionId, observationDomainId, messages, lostRecords, reorderedMessages });
        }
      }
      return out;
    },
    templates: () => [...store.all()].map(templateInfo),
  };
}
