// From IPFIX messages to packed Kinesis records: decode straight to FlowRecords (one decoder, template cache
// per transport session, normalise.ts flowRecordShape), pack per target shard. Counts every message, record, template, sequence gap and
// decode error; a template flood (a session defining more templates than allowed) is refused per session,
// and all sessions together stay within the template budget (ipfix/template-store.ts). Records that cannot
// form a flow key are rejected here, counted by reason: they would correlate with nothing.
import { flowKeyProblem } from '../core/flow-key.ts';
import type { FlowRecord } from '../core/flow-record.ts';
import type { CollectorConfig } from './config.ts';
import {
  createIpfixDecoder,
  type DecodeError,
  type IpfixDecoder,
  type TemplateBudget,
  type TransportSession,
} from './ipfix/index.ts';
import { SequenceTracker } from './ipfix/sequence.ts';
import { flatString } from './ipfix/values.ts';
import type { RecordEnricher } from './k8s-metadata/enrich.ts';
import type { Logger, LogThrottle } from './log.ts';
import type { CollectorMetrics, Transport } from './metrics.ts';
import { exporterHintOf, FlowStringHints, flowRecordShape } from './normalise.ts';
import type { ShardPacker } from './packer.ts';

export interface IngestSession {
  readonly transport: Transport;
  readonly session: TransportSession;
  /** Templates this session has defined (observation domain + template id). */
  readonly templates: Set<string>;
  readonly sequences: Map<number, SequenceTracker>;
  /** String hint of the exporter address (normalise.ts exporterHintOf): one per session. */
  readonly exporterHint: number;
  lastSeenMs: number;
}

export type MessageOutcome = 'ok' | 'template-flood';

export interface IngestOptions {
  maxTemplatesPerSession: number;
  udpTemplateLifetimeMs: number;
  templateBudget?: Partial<TemplateBudget>;
  now: () => number;
  /** Kubernetes metadata (collector-edge/k8s-metadata), applied to each record before packing. */
  enrichRecord?: RecordEnricher;
}

/** The ingest settings of a collector configuration (template limits and budget), on `now`. */
export function ingestOptionsOf(config: CollectorConfig, now: () => number): IngestOptions {
  return {
    maxTemplatesPerSession: config.maxTemplatesPerSession,
    udpTemplateLifetimeMs: config.udpSessionIdleMs,
    templateBudget: {
      maxTemplates: config.maxTemplates,
      maxBytes: config.maxTemplateBytes,
      compileFieldsPerSecond: config.templateCompileFieldsPerSecond,
    },
    now,
  };
}

export class IngestPipeline {
  readonly decoder: IpfixDecoder<FlowRecord>;
  /** String hints of the records of the message being handled (speed up packing, change nothing). */
  private readonly hints = new FlowStringHints();
  private sessionsOpened = 0;

  constructor(
    private readonly packer: ShardPacker,
    private readonly metrics: CollectorMetrics,
    private readonly logger: Logger,
    private readonly logThrottle: LogThrottle,
    private readonly options: IngestOptions,
  ) {
    this.decoder = createIpfixDecoder({
      recordShape: flowRecordShape(this.hints),
      clock: options.now,
      udpTemplateLifetimeMs: options.udpTemplateLifetimeMs,
      ...(options.templateBudget ? { templateBudget: options.templateBudget } : {}),
      onTemplateEvicted: (template, why) => {
        this.metrics.limitTrips.labels(`template-${why}`).inc();
        if (this.logThrottle.allow('template-evicted'))
          this.logger.warn('template budget full: least recently used template evicted', {
            limit: why === 'count' ? 'FLOWLINE_MAX_TEMPLATES' : 'FLOWLINE_MAX_TEMPLATE_BYTES',
            session: template.sessionId,
            templateId: template.templateId,
          });
      },
    });
  }

  /** Keeps the template gauges current (after definitions, withdrawals, evictions, closed sessions). */
  private updateTemplateGauges(): void {
    const usage = this.decoder.templateUsage();
    this.metrics.templatesActive.set(usage.templates);
    this.metrics.templateBytes.set(usage.bytes);
  }

  openSession(
    transport: Transport,
    exporterAddress: string,
    exporterPort: number,
    local: string,
  ): IngestSession {
    // Flat: the decoder finds the session's templates and sequence state by it, twice per message, and a
    // concatenation this long is a cons string, which Map lookups compare through a runtime call.
    const id = flatString(`${transport}|${exporterAddress}:${exporterPort}|${local}`);
    this.metrics.sessions.labels(transport).inc();
    return {
      transport,
      session: { id, exporterAddress, transport: transport === 'udp' ? 'udp' : 'tcp' },
      templates: new Set(),
      sequences: new Map(),
      exporterHint: exporterHintOf(this.sessionsOpened++),
      lastSeenMs: this.options.now(),
    };
  }

  closeSession(session: IngestSession): void {
    this.metrics.sessions.labels(session.transport).dec();
    session.templates.clear();
    this.countErrors(this.decoder.closeSession(session.session.id), session);
    this.updateTemplateGauges();
  }

  countErrors(errors: DecodeError[], session: IngestSession | undefined): void {
    for (const error of errors) {
      this.metrics.decodeErrors.labels(error.reason).inc();
      if (this.logThrottle.allow(`decode:${error.reason}`))
        this.logger.warn('IPFIX input could not be decoded', {
          reason: error.reason,
          detail: error.detail,
          offset: error.offset,
          session: session?.session.id,
        });
    }
  }

  private rejectRecord(problem: string, session: IngestSession): void {
    this.metrics.rejectedRecords.labels(problem).inc();
    if (this.logThrottle.allow(`rejected:${problem}`))
      this.logger.warn('data record without a flow key rejected', {
        reason: problem,
        session: session.session.id,
      });
  }

  /** Decodes one message; its records are packed (and so accepted) before this returns. */
  handleMessage(bytes: Uint8Array, session: IngestSession): MessageOutcome {
    const now = this.options.now();
    session.lastSeenMs = now;
    const tally = this.metrics.input[session.transport];
    tally.messages++;
    this.hints.reset(session.exporterHint);
    const result = this.decoder.decodeMessage(bytes, session.session, { receivedAtMs: now });
    if (result.errors.length > 0) this.countErrors(result.errors, session);

    const templateChanges = result.templatesDefined.length + result.templatesWithdrawn;
    if (templateChanges > 0) {
      this.metrics.templates.inc(templateChanges);
      for (const template of result.templatesDefined)
        session.templates.add(`${template.observationDomainId}:${template.templateId}`);
      this.updateTemplateGauges();
    }

    if (result.header) {
      const domain = result.header.observationDomainId;
      let tracker = session.sequences.get(domain);
      if (!tracker) {
        tracker = new SequenceTracker();
        session.sequences.set(domain, tracker);
      }
      const lostBefore = tracker.lostRecords;
      const reorderedBefore = tracker.reorderedMessages;
      let ownRecords = 0;
      for (const set of result.dataSets) if (!set.delayed) ownRecords += set.records.length;
      tracker.observe(result.header.sequenceNumber, result.heldSets > 0 ? undefined : ownRecords);
      if (tracker.lostRecords !== lostBefore || tracker.reorderedMessages !== reorderedBefore)
        this.metrics.sequenceGaps.inc();
    }

    let accepted = 0;
    for (const set of result.dataSets) {
      if (set.options) continue; // exporter statistics, not flows
      const records = set.records;
      // The one point where records change after normalisation. String hints stay valid: the wire
      // writer checks a hinted string against the text before using it (core/wire.ts).
      const enrich = this.options.enrichRecord;
      if (enrich !== undefined) for (let i = 0; i < records.length; i++) enrich(records[i]!);
      const hints = this.hints.buffer;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const problem = flowKeyProblem(record);
        if (problem !== undefined) {
          this.rejectRecord(problem, session);
          continue;
        }
        this.packer.add(record, hints, this.hints.offsetOf(set, i));
        accepted++;
      }
    }
    tally.records += accepted;

    if (session.templates.size > this.options.maxTemplatesPerSession) {
      this.metrics.drops.labels('template-flood').inc();
      this.metrics.limitTrips.labels('templates-per-session').inc();
      if (this.logThrottle.allow('template-flood'))
        this.logger.warn('exporter defined too many templates; session closed', {
          session: session.session.id,
          templates: session.templates.size,
          limit: this.options.maxTemplatesPerSession,
        });
      return 'template-flood';
    }
    return 'ok';
  }
}
