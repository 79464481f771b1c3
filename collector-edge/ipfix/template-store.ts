// The template cache of the decoder: templates per transport session + observation domain + template id,
// under one budget for the whole process (every session together), so that exporters that define templates
// they never use cannot exhaust memory or CPU (a template flood):
// - A template is kept as its field specifier bytes until a data set needs it; only then are its fields
//   resolved and its decoder compiled (compile.ts). Definitions cost a copy of the record.
// - Count and (estimated) bytes are bounded; beyond either, templates are evicted least recently used
//   first, templates that never decoded a data set before those that did (an active exporter's templates
//   outlive a flood of unused ones).
// - Compiled decoders are shared by every template with the same field list, counted, and released
//   (compile.ts releaseCompiled) with the last template that uses them.
// - Resolving and compiling is limited to a number of fields per window of the clock, so compiling cannot
//   hold the event loop for long; a data set whose decoder is over that budget waits in the holding area.
// - UDP templates expire udpTemplateLifetimeMs after their last (re)definition (RFC 7011 8.4).
import { type CompiledTemplate, compileTemplate, type RecordShape, resolveFields } from './compile.ts';
import { readSpecifiers } from './message-parser.ts';
import type { IeRegistry } from './registry.ts';

export interface TemplateBudget {
  /** Templates kept across every session (default 4096). */
  maxTemplates: number;
  /** Estimated bytes of the templates kept across every session (default 32 MiB); see templateBytes. */
  maxBytes: number;
  /** Fields resolved and compiled per second of the clock, in windows of a tenth (default 50,000). */
  compileFieldsPerSecond: number;
}

export const DEFAULT_TEMPLATE_BUDGET: TemplateBudget = {
  maxTemplates: 4096,
  maxBytes: 32 * 1024 * 1024,
  compileFieldsPerSecond: 50_000,
};

/**
 * Resident bytes a template costs, measured with 300 distinct 500-field templates (RSS after GC, node 20):
 * ~200 per resolved field, ~110 more per field once compiled; plus the stored specifier bytes and the entry.
 */
const ENTRY_BYTES = 256;
const RESOLVED_BYTES_PER_FIELD = 200;
const COMPILED_BYTES_PER_FIELD = 120;
/** Eviction frees down to this share of the budget, so a flood evicts in batches (one scan per batch). */
const EVICT_TO = 0.9;
const COMPILE_WINDOWS_PER_SECOND = 10;

export class StoredTemplate {
  fieldsResolved: CompiledTemplate['fields'] | undefined;
  compiled: CompiledTemplate<unknown> | undefined;
  /** Last definition (UDP expiry) and last use (eviction order; 0 = never decoded a data set). */
  definedAtMs: number;
  lastUsed = 0;
  /** Estimated resident bytes, as charged to the budget (TemplateStore.cost). */
  bytes = 0;
  /** Key of the shared compiled decoder, while attached. */
  signature: string | undefined;
  constructor(
    readonly sessionId: string,
    readonly observationDomainId: number,
    readonly templateId: number,
    readonly options: boolean,
    readonly scopeFieldCount: number,
    readonly fieldCount: number,
    /** The record's field specifiers as on the wire (a copy). */
    readonly specifiers: Uint8Array,
    readonly domain: TemplateDomain,
    nowMs: number,
    private readonly registry: IeRegistry,
  ) {
    this.definedAtMs = nowMs;
  }

  /** Resolved fields (names, types); resolved on first use. */
  get fields(): CompiledTemplate['fields'] {
    this.fieldsResolved ??= resolveFields(readSpecifiers(this.specifiers, this.fieldCount), this.registry);
    return this.fieldsResolved;
  }
}

/** Templates of one session's observation domain, by template id. */
export type TemplateDomain = Map<number, StoredTemplate>;

export interface TemplateStoreCounters {
  templatesExpired: number;
  templatesEvicted: number;
  compileDeferrals: number;
}

interface SharedDecoder {
  compiled: CompiledTemplate<unknown>;
  users: number;
}

export class TemplateStore {
  readonly counters: TemplateStoreCounters = {
    templatesExpired: 0,
    templatesEvicted: 0,
    compileDeferrals: 0,
  };
  private readonly sessions = new Map<string, Map<number, TemplateDomain>>();
  private readonly decoders = new Map<string, SharedDecoder>();
  private count = 0;
  private totalBytes = 0;
  private useClock = 0;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private windowFields = 0;

  constructor(
    private readonly registry: IeRegistry,
    private readonly recordShape: RecordShape<unknown> | undefined,
    private readonly udpLifetimeMs: number,
    private readonly budget: TemplateBudget,
    /** Told about every template evicted for the budget (metrics, logs). */
    private readonly onEvicted: (template: StoredTemplate, why: 'count' | 'bytes') => void = () => {},
  ) {}

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get compiledDecoders(): number {
    return this.decoders.size;
  }

  domain(sessionId: string, observationDomainId: number): TemplateDomain {
    let domains = this.sessions.get(sessionId);
    if (!domains) {
      domains = new Map();
      this.sessions.set(sessionId, domains);
    }
    let domain = domains.get(observationDomainId);
    if (!domain) {
      domain = new Map();
      domains.set(observationDomainId, domain);
    }
    return domain;
  }

  /** The template for a data set, or undefined (never defined, withdrawn, evicted, or an expired UDP one). */
  lookup(
    domain: TemplateDomain,
    templateId: number,
    udp: boolean,
    nowMs: number,
  ): StoredTemplate | undefined {
    const entry = domain.get(templateId);
    if (entry && udp && nowMs - entry.definedAtMs > this.udpLifetimeMs) {
      this.remove(entry);
      this.counters.templatesExpired++;
      return undefined;
    }
    return entry;
  }

  define(
    domain: TemplateDomain,
    key: { sessionId: string; observationDomainId: number; templateId: number },
    options: boolean,
    scopeFieldCount: number,
    fieldCount: number,
    specifiers: Uint8Array,
    nowMs: number,
  ): StoredTemplate {
    const previous = domain.get(key.templateId);
    const entry = new StoredTemplate(
      key.sessionId,
      key.observationDomainId,
      key.templateId,
      options,
      scopeFieldCount,
      fieldCount,
      new Uint8Array(specifiers), // a copy, never a view of the caller's buffer
      domain,
      nowMs,
      this.registry,
    );
    // A redefinition with the same fields (UDP refresh) keeps its compiled decoder and its place.
    if (previous && previous.fieldCount === fieldCount && sameBytes(previous.specifiers, specifiers)) {
      entry.lastUsed = previous.lastUsed;
      entry.fieldsResolved = previous.fieldsResolved;
      if (previous.signature) this.attachDecoder(entry, previous.signature); // before the old one lets go
    }
    if (previous) this.remove(previous);
    domain.set(key.templateId, entry);
    this.count++;
    this.recharge(entry);
    this.enforceBudget(entry);
    return entry;
  }

  /** Removes one template (withdrawal, invalid redefinition); false when there was none. */
  delete(domain: TemplateDomain, templateId: number): boolean {
    const entry = domain.get(templateId);
    if (!entry) return false;
    this.remove(entry);
    return true;
  }

  /**
   * The template's compiled decoder, compiling it now if the compile budget of the current window allows;
   * undefined when it does not (the caller holds the data set and asks again later).
   */
  decoderFor(entry: StoredTemplate, nowMs: number): CompiledTemplate<unknown> | undefined {
    entry.lastUsed = ++this.useClock;
    if (entry.compiled) return entry.compiled;
    const signature = this.signature(entry);
    if (!this.decoders.has(signature)) {
      // A template larger than a whole window still compiles in an otherwise empty window.
      if (this.windowFieldsUsed(nowMs) > 0 && this.windowFields + entry.fieldCount > this.windowAllowance) {
        this.counters.compileDeferrals++;
        return undefined;
      }
      this.windowFields += entry.fieldCount;
    }
    this.attachDecoder(entry, signature);
    this.recharge(entry);
    this.enforceBudget(entry);
    return entry.compiled;
  }

  /** Whether the current compile window has fields left (worth retrying deferred data sets). */
  canCompile(nowMs: number): boolean {
    return this.windowFieldsUsed(nowMs) < this.windowAllowance;
  }

  private get windowAllowance(): number {
    return this.budget.compileFieldsPerSecond / COMPILE_WINDOWS_PER_SECOND;
  }

  /** Fields compiled in the window `nowMs` falls in (a new window starts every 1000 / 10 ms of the clock). */
  private windowFieldsUsed(nowMs: number): number {
    if (nowMs - this.windowStartMs >= 1000 / COMPILE_WINDOWS_PER_SECOND || nowMs < this.windowStartMs) {
      this.windowStartMs = nowMs;
      this.windowFields = 0;
    }
    return this.windowFields;
  }

  /** Forgets every template of a closed transport session. */
  closeSession(sessionId: string): void {
    const domains = this.sessions.get(sessionId);
    if (!domains) return;
    for (const domain of domains.values()) for (const entry of [...domain.values()]) this.remove(entry);
    this.sessions.delete(sessionId);
  }

  *all(): IterableIterator<StoredTemplate> {
    for (const domains of this.sessions.values())
      for (const domain of domains.values()) yield* domain.values();
  }

  private signature(entry: StoredTemplate): string {
    const shaped = !entry.options && this.recordShape !== undefined;
    // The specifier bytes name the field list exactly (enterprise bit, id, length, enterprise number).
    return (shaped ? 'shaped|' : '') + Buffer.from(entry.specifiers).toString('latin1');
  }

  private attachDecoder(entry: StoredTemplate, signature: string): void {
    let shared = this.decoders.get(signature);
    if (!shared) {
      const shape = entry.options ? undefined : this.recordShape;
      shared = { compiled: compileTemplate<unknown>(entry.fields, shape), users: 0 };
      this.decoders.set(signature, shared);
    }
    shared.users++;
    entry.compiled = shared.compiled;
    entry.signature = signature;
  }

  private detachDecoder(entry: StoredTemplate): void {
    const signature = entry.signature;
    if (signature === undefined) return;
    const shared = this.decoders.get(signature);
    entry.compiled = undefined;
    entry.signature = undefined;
    if (!shared || --shared.users > 0) return;
    this.decoders.delete(signature);
    shared.compiled.release();
  }

  /** Charges the entry's current estimated cost (it grows when resolved and compiled) to the budget. */
  private recharge(entry: StoredTemplate): void {
    const n = entry.fieldCount;
    const cost =
      ENTRY_BYTES +
      entry.specifiers.length +
      (entry.fieldsResolved ? n * RESOLVED_BYTES_PER_FIELD : 0) +
      (entry.compiled ? n * COMPILED_BYTES_PER_FIELD : 0);
    this.totalBytes += cost - entry.bytes;
    entry.bytes = cost;
  }

  private remove(entry: StoredTemplate): void {
    if (entry.domain.get(entry.templateId) !== entry) return;
    entry.domain.delete(entry.templateId);
    this.detachDecoder(entry);
    this.count--;
    this.totalBytes -= entry.bytes;
  }

  private enforceBudget(keep: StoredTemplate): void {
    const { maxTemplates, maxBytes } = this.budget;
    if (this.count <= maxTemplates && this.totalBytes <= maxBytes) return;
    const why = this.count > maxTemplates ? 'count' : 'bytes';
    // Never-used templates first (lastUsed 0), then least recently used.
    const victims = [...this.all()]
      .filter((e) => e !== keep)
      .sort((a, b) => a.lastUsed - b.lastUsed || a.definedAtMs - b.definedAtMs);
    for (const victim of victims) {
      if (this.count <= maxTemplates * EVICT_TO && this.totalBytes <= maxBytes * EVICT_TO) break;
      this.remove(victim);
      this.counters.templatesEvicted++;
      this.onEvicted(victim, why);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
