// From IPFIX messages to packed Kinesis records: decode straight to FlowRecords (one decoder, template cache
// per transport session, normalise.ts flowRecordShape), pack per target shard. Counts every message, record, template, sequence gap and
// decode error; a template flood (a session defining more templates than allowed) is refused per session.
import type { FlowRecord } from '../core/flow-record.ts';
import {
  createIpfixDecoder,
  type DecodeError,
  type IpfixDecoder,
  type TransportSession,
} from './ipfix/index.ts';
import { SequenceTracker } from './ipfix/sequence.ts';
import type { Logger, LogThrottle } from './log.ts';
import type { CollectorMetrics, Transport } from './metrics.ts';
import { FlowStringHints, flowRecordShape } from './normalise.ts';
import type { ShardPacker } from './packer.ts';

export interface IngestSession {
  readonly transport: Transport;
  readonly session: TransportSession;
  /** Templates this session has defined (observation domain + template id). */
  readonly templates: Set<string>;
  readonly sequences: Map<number, SequenceTracker>;
  lastSeenMs: number;
}

export type MessageOutcome = 'ok' | 'template-flood';

export class IngestPipeline {
  readonly decoder: IpfixDecoder<FlowRecord>;
  /** String hints of the records of the message being handled (speed up packing, change nothing). */
  private readonly hints = new FlowStringHints();
  private templatesActive = 0;

  constructor(
    private readonly packer: ShardPacker,
    private readonly metrics: CollectorMetrics,
    private readonly logger: Logger,
    private readonly logThrottle: LogThrottle,
    private readonly options: {
      maxTemplatesPerSession: number;
      udpTemplateLifetimeMs: number;
      now: () => number;
    },
  ) {
    this.decoder = createIpfixDecoder({
      recordShape: flowRecordShape(this.hints),
      clock: options.now,
      udpTemplateLifetimeMs: options.udpTemplateLifetimeMs,
    });
  }

  openSession(
    transport: Transport,
    exporterAddress: string,
    exporterPort: number,
    local: string,
  ): IngestSession {
    const id = `${transport}|${exporterAddress}:${exporterPort}|${local}`;
    this.metrics.sessions.labels(transport).inc();
    return {
      transport,
      session: { id, exporterAddress, transport: transport === 'udp' ? 'udp' : 'tcp' },
      templates: new Set(),
      sequences: new Map(),
      lastSeenMs: this.options.now(),
    };
  }

  closeSession(session: IngestSession): void {
    this.metrics.sessions.labels(session.transport).dec();
    this.templatesActive -= session.templates.size;
    this.metrics.templatesActive.set(this.templatesActive);
    session.templates.clear();
    this.countErrors(this.decoder.closeSession(session.session.id), session);
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

  /** Decodes one message; its records are packed (and so accepted) before this returns. */
  handleMessage(bytes: Uint8Array, session: IngestSession): MessageOutcome {
    const now = this.options.now();
    session.lastSeenMs = now;
    const tally = this.metrics.input[session.transport];
    tally.messages++;
    this.hints.reset();
    const result = this.decoder.decodeMessage(bytes, session.session, { receivedAtMs: now });
    if (result.errors.length > 0) this.countErrors(result.errors, session);

    const templateChanges = result.templatesDefined.length + result.templatesWithdrawn;
    if (templateChanges > 0) {
      this.metrics.templates.inc(templateChanges);
      for (const template of result.templatesDefined) {
        const key = `${template.observationDomainId}:${template.templateId}`;
        if (!session.templates.has(key)) {
          session.templates.add(key);
          this.templatesActive++;
        }
      }
      this.metrics.templatesActive.set(this.templatesActive);
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
      const hints = this.hints.buffer;
      for (let i = 0; i < records.length; i++)
        this.packer.add(records[i]!, hints, this.hints.offsetOf(set, i));
      accepted += records.length;
    }
    tally.records += accepted;

    if (session.templates.size > this.options.maxTemplatesPerSession) {
      this.metrics.drops.labels('template-flood').inc();
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
