// Splits a byte stream (TCP connection, raw capture file) into IPFIX messages by the header's length
// field (RFC 7011 10.4). A header that cannot be valid (version not 10, length below 16) means the
// stream lost framing: bytes are skipped up to the next plausible header and reported once per gap.
import { type DecodeError, DecodeErrorReason } from './types.ts';

export interface FramedMessage {
  bytes: Uint8Array;
  /** Offset of the message in the whole stream. */
  streamOffset: number;
}

export interface FramerOutput {
  messages: FramedMessage[];
  errors: DecodeError[];
}

export class IpfixStreamFramer {
  private buffer = new Uint8Array(0);
  /** Stream offset of buffer[0]. */
  private base = 0;

  /** Appends a chunk and returns the complete messages now available. */
  push(chunk: Uint8Array): FramerOutput {
    // Copies: a Node Buffer's slice() would alias the caller's (possibly reused) memory.
    if (this.buffer.length === 0) this.buffer = new Uint8Array(chunk);
    else {
      const next = new Uint8Array(this.buffer.length + chunk.length);
      next.set(this.buffer);
      next.set(chunk, this.buffer.length);
      this.buffer = next;
    }
    const out: FramerOutput = { messages: [], errors: [] };
    let p = 0;
    const b = this.buffer;
    while (b.length - p >= 4) {
      const version = (b[p]! << 8) | b[p + 1]!;
      const length = (b[p + 2]! << 8) | b[p + 3]!;
      if (version !== 10 || length < 16) {
        const from = p;
        p = nextPlausibleHeader(b, p + 1);
        out.errors.push({
          reason: DecodeErrorReason.StreamResync,
          offset: this.base + from,
          detail: `no IPFIX message header (version ${version}, length ${length}): skipped ${p - from} bytes`,
        });
        continue;
      }
      if (b.length - p < length) break;
      out.messages.push({ bytes: b.slice(p, p + length), streamOffset: this.base + p });
      p += length;
    }
    this.buffer = b.slice(p);
    this.base += p;
    return out;
  }

  /** Bytes left over at the end of the stream (an incomplete message), as an error if any. */
  finish(): DecodeError[] {
    if (this.buffer.length === 0) return [];
    const error: DecodeError = {
      reason: DecodeErrorReason.MessageTruncated,
      offset: this.base,
      detail: `stream ended inside a message: ${this.buffer.length} bytes left over`,
    };
    this.base += this.buffer.length;
    this.buffer = new Uint8Array(0);
    return [error];
  }

  /** Bytes waiting for the rest of their message. */
  get pending(): number {
    return this.buffer.length;
  }
}

function nextPlausibleHeader(b: Uint8Array, from: number): number {
  for (let i = from; i + 4 <= b.length; i++) {
    if (b[i] === 0 && b[i + 1] === 10 && ((b[i + 2]! << 8) | b[i + 3]!) >= 16) return i;
  }
  // Keep the last 3 bytes: they may start a header completed by the next chunk.
  return Math.max(from, b.length - 3);
}
