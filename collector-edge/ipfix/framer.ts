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

export interface FramerOptions {
  /**
   * The caller never changes a chunk after push() (a socket's 'data' buffers): messages may be views of
   * it. Otherwise (default) every chunk is copied first, as a caller may reuse its memory.
   */
  immutableChunks?: boolean;
}

export class IpfixStreamFramer {
  private buffer: Uint8Array = new Uint8Array(0);
  /** Stream offset of buffer[0]. */
  private base = 0;

  constructor(private readonly options: FramerOptions = {}) {}

  /**
   * Appends a chunk and returns the complete messages now available. Messages are views of memory the
   * framer never writes again (its own copies, or immutable chunks), so they stay valid.
   */
  push(chunk: Uint8Array): FramerOutput {
    const immutable = this.options.immutableChunks === true;
    if (this.buffer.length === 0) this.buffer = immutable ? chunk : new Uint8Array(chunk);
    else {
      // Copied: the rest of the previous chunks and this one, together (a Buffer like the chunks when
      // they are a socket's, without zero-filling it first).
      const length = this.buffer.length + chunk.length;
      const next = immutable ? Buffer.allocUnsafe(length) : new Uint8Array(length);
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
      out.messages.push({ bytes: b.subarray(p, p + length), streamOffset: this.base + p });
      p += length;
    }
    this.buffer = b.subarray(p);
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
