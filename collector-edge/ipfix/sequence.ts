// Sequence-number accounting per (transport session, observation domain). RFC 7011 3.1: the header's
// sequence number counts the data records sent before this message, modulo 2^32. go-ipfix (Antrea's
// exporter) adds the message's own records before stamping it; both conventions are accepted as in
// order, so neither produces false losses.

export interface SequenceCounters {
  messages: number;
  /** Data records missing according to the sequence numbers (gaps ahead). */
  lostRecords: number;
  /** Messages whose sequence number was behind the expected one (late or duplicated). */
  reorderedMessages: number;
}

export class SequenceTracker implements SequenceCounters {
  messages = 0;
  lostRecords = 0;
  reorderedMessages = 0;
  private lastSequence: number | undefined;
  /** Data records in the last message, or undefined when some could not be counted (unknown template). */
  private lastRecords: number | undefined = 0;

  /** Accounts one message; `records` undefined when some of its data sets could not be counted. */
  observe(sequence: number, records: number | undefined): void {
    this.messages++;
    const last = this.lastSequence;
    if (last === undefined || this.lastRecords === undefined) {
      this.lastSequence = sequence;
      this.lastRecords = records;
      return;
    }
    const expected = (last + this.lastRecords) >>> 0;
    const expectedGoIpfix = records === undefined ? expected : (last + records) >>> 0;
    if (sequence === expected || sequence === expectedGoIpfix) {
      this.lastSequence = sequence;
      this.lastRecords = records;
      return;
    }
    const ahead = (sequence - expected) >>> 0;
    if (ahead < 0x80000000) {
      this.lostRecords += ahead;
      this.lastSequence = sequence;
      this.lastRecords = records;
    } else {
      this.reorderedMessages++;
    }
  }
}
