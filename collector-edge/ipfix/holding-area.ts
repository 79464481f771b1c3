// The decoder's holding area: data sets that arrived before their template (UDP reordering, a collector
// restart), or whose decoder is waiting for compile budget (template-store.ts), kept as copies, bounded in
// count, bytes and age. A set leaves when its template arrives or compiles (released), or is dropped with one
// TemplateMissing error (too old, area full, session closed, end of input).
import type { MessageHeader } from './message-parser.ts';
import { type DecodeError, DecodeErrorReason } from './types.ts';

export interface HeldSet {
  session: { id: string; exporterAddress: string; transport: string };
  header: MessageHeader;
  templateId: number;
  firstRecordIndex: number;
  bytes: Uint8Array;
  /** Offset of the set in its message (for the error when it is dropped). */
  offset: number;
  heldAtMs: number;
  receivedAtMs: number;
  tag: unknown;
  /** The template was known but its decoder over the compile budget: retried, not only released by a definition. */
  awaitingCompile: boolean;
}

export interface HoldingLimits {
  maxSets: number;
  maxBytes: number;
  maxHoldMs: number;
}

export class HoldingArea {
  setsHeld = 0;
  setsReleased = 0;
  setsDropped = 0;
  private held: HeldSet[] = [];
  private heldBytes = 0;
  private awaiting = 0;
  /** No held set is older than this (a lower bound): most messages then skip the expiry scan. */
  private oldestHeldAtMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly limits: HoldingLimits,
    /** Counts a dropped set's error (the decoder's per-reason error counts). */
    private readonly onDropped: (error: DecodeError) => void,
  ) {}

  get size(): number {
    return this.held.length;
  }

  /** Sets waiting for compile budget (worth retrying). */
  get awaitingCompile(): number {
    return this.awaiting;
  }

  hold(set: HeldSet, errors: DecodeError[]): void {
    this.held.push(set);
    this.heldBytes += set.bytes.length;
    if (set.heldAtMs < this.oldestHeldAtMs) this.oldestHeldAtMs = set.heldAtMs;
    if (set.awaitingCompile) this.awaiting++;
    this.setsHeld++;
    while (this.held.length > this.limits.maxSets || this.heldBytes > this.limits.maxBytes) {
      errors.push(this.drop(this.held.shift()!, 'holding area full'));
    }
  }

  /** Drops sets held longer than maxHoldMs. */
  expire(nowMs: number): DecodeError[] {
    const { maxHoldMs } = this.limits;
    if (nowMs - this.oldestHeldAtMs <= maxHoldMs) return [];
    return this.dropWhere((set) => nowMs - set.heldAtMs > maxHoldMs, `no template within ${maxHoldMs} ms`);
  }

  dropAll(why: string): DecodeError[] {
    return this.dropWhere(() => true, why);
  }

  dropSession(sessionId: string): DecodeError[] {
    return this.dropWhere((set) => set.session.id === sessionId, 'transport session closed');
  }

  /** Takes out the sets `matches` accepts, in arrival order, counted as released. */
  release(matches: (set: HeldSet) => boolean): HeldSet[] {
    if (this.held.length === 0) return [];
    const out: HeldSet[] = [];
    const keep: HeldSet[] = [];
    for (const set of this.held) {
      if (!matches(set)) {
        keep.push(set);
        continue;
      }
      this.forget(set);
      this.setsReleased++;
      out.push(set);
    }
    this.held = keep;
    return out;
  }

  /** Marks the sets `matches` accepts as waiting for compile budget (their template is known now). */
  awaitCompile(matches: (set: HeldSet) => boolean): void {
    for (const set of this.held) {
      if (set.awaitingCompile || !matches(set)) continue;
      set.awaitingCompile = true;
      this.awaiting++;
    }
  }

  private dropWhere(matches: (set: HeldSet) => boolean, why: string): DecodeError[] {
    const errors: DecodeError[] = [];
    if (this.held.length === 0) return errors;
    const keep: HeldSet[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const set of this.held) {
      if (matches(set)) errors.push(this.drop(set, why));
      else {
        keep.push(set);
        if (set.heldAtMs < oldest) oldest = set.heldAtMs;
      }
    }
    this.held = keep;
    this.oldestHeldAtMs = oldest;
    return errors;
  }

  private forget(set: HeldSet): void {
    this.heldBytes -= set.bytes.length;
    if (set.awaitingCompile) this.awaiting--;
  }

  private drop(set: HeldSet, why: string): DecodeError {
    this.forget(set);
    this.setsDropped++;
    const error: DecodeError = {
      reason: DecodeErrorReason.TemplateMissing,
      offset: set.offset,
      detail: `data set for template ${set.templateId} dropped: ${why}`,
      sessionId: set.session.id,
      observationDomainId: set.header.observationDomainId,
      setId: set.templateId,
      templateId: set.templateId,
      tag: set.tag,
    };
    this.onDropped(error);
    return error;
  }
}
