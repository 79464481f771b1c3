// The collector's value caches (text, IPv4, IPv6 text by value) and the no-copy stream framer must give
// exactly what decoding from scratch gives, hit or miss, whatever else went through them before.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpfixStreamFramer } from '../../../collector-edge/ipfix/framer.ts';
import {
  flatString,
  IPV4_HINTS,
  ipv4,
  ipv4SlotSource,
  ipv4Text,
  ipv6,
  lastStringHint,
  STRING_HINT_COUNT,
  text,
} from '../../../collector-edge/ipfix/values.ts';
import { formatIPv4, formatIPv6, parseIP } from '../../../core/ip.ts';
import { seededRandom } from '../../../core/random.ts';

describe('flatString', () => {
  it('gives an equal string, short or long', () => {
    for (const value of [
      '',
      '1.2.3.4',
      '10.244.123.145',
      'fd00:10:244:1::1234',
      `${'a'.repeat(20)}${'b'.repeat(20)}`,
    ])
      expect(flatString(value)).toBe(value);
  });
});

describe('text(): cached short strings', () => {
  it('decodes as TextDecoder does, for ASCII and UTF-8, cache hit or not', () => {
    const random = seededRandom(21);
    const pool = Array.from({ length: 3000 }, () => {
      const length = Math.floor(random() * 80);
      return Uint8Array.from({ length }, () =>
        random() < 0.05 ? 0x80 + Math.floor(random() * 0x40) : 0x20 + Math.floor(random() * 0x5f),
      );
    });
    const utf8 = new TextDecoder();
    for (let i = 0; i < 20_000; i++) {
      const bytes = pool[Math.floor(random() * pool.length)]!;
      // At an offset inside a larger buffer, as in a message.
      const message = new Uint8Array(bytes.length + 7);
      message.set(bytes, 3);
      expect(text(message, 3, bytes.length)).toBe(utf8.decode(bytes));
    }
  });

  it('strings with the same length and first and last four bytes (the same slot) differ in the middle', () => {
    const encode = (value: string) => Uint8Array.from(value, (c) => c.charCodeAt(0));
    for (const middle of ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'x'.repeat(40)]) {
      const variants = [...'0123456789'].map((c) => `head${middle.slice(0, -1)}${middle ? c : ''}tail`);
      for (let round = 0; round < 3; round++)
        for (const variant of variants) expect(text(encode(variant), 0, variant.length)).toBe(variant);
    }
    // Up to 8 bytes the first and last four cover every byte.
    for (const value of ['abcd', 'abcde', 'abcdefgh', 'abxdefgh', 'abcdefxh'])
      expect(text(encode(value), 0, value.length)).toBe(value);
  });

  it('gives the same string and hint again for the same bytes; strings that differ are never confused', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 50 }),
        (words) => {
          for (const word of [...words, ...words]) {
            const bytes = new TextEncoder().encode(word);
            const first = text(bytes, 0, bytes.length);
            const hint = lastStringHint();
            expect(first).toBe(word);
            expect(text(Uint8Array.from(bytes), 0, bytes.length)).toBe(word);
            if (hint >= 0) {
              expect(lastStringHint()).toBe(hint);
              expect(hint).toBeLessThan(STRING_HINT_COUNT);
            }
          }
        },
      ),
      { seed: 22, numRuns: 300 },
    );
  });
});

describe('IP text caches', () => {
  it('ipv4 / ipv4Text print what formatIPv4 prints', () => {
    const random = seededRandom(23);
    for (let i = 0; i < 10_000; i++) {
      const bytes = Uint8Array.from({ length: 4 }, () => Math.floor(random() * (random() < 0.5 ? 4 : 256)));
      const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
      expect(ipv4(bytes, 0)).toBe(formatIPv4(bytes));
      expect(ipv4Text(value)).toBe(formatIPv4(bytes));
    }
  });

  it("the compiled decoders' inline IPv4 slot is ipv4Text's (its hint), so their hints name the same strings", () => {
    const slotOf = new Function('k', `return ${ipv4SlotSource('k')};`) as (value: number) => number;
    const random = seededRandom(29);
    for (let i = 0; i < 10_000; i++) {
      const value = Math.floor(random() * 2 ** 32);
      ipv4Text(value);
      expect(lastStringHint()).toBe(IPV4_HINTS + slotOf(value));
    }
  });

  it('ipv6 prints what formatIPv6 prints (zero runs, IPv4-mapped), cache hit or not', () => {
    const random = seededRandom(24);
    for (let i = 0; i < 10_000; i++) {
      const bytes = Uint8Array.from({ length: 16 }, () => (random() < 0.5 ? 0 : Math.floor(random() * 256)));
      if (random() < 0.1) bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 0);
      expect(ipv6(bytes, 0)).toBe(formatIPv6(bytes));
    }
  });

  it('formatIPv6 is RFC 5952 (as WHATWG URL hosts serialize IPv6) and round-trips through parseIP', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 7 }),
        (raw, zeros) => {
          const bytes = Uint8Array.from(raw);
          bytes.fill(0, 2 * zeros, 2 * zeros + 2 * ((zeros % 3) + 1)); // zero runs of 1 to 3 groups
          const mapped =
            bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
          const textForm = formatIPv6(bytes);
          if (!mapped) expect(`[${textForm}]`).toBe(new URL(`http://[${textForm}]/`).hostname);
          expect(Uint8Array.from(parseIP(textForm)!)).toEqual(mapped ? bytes.subarray(12) : bytes);
        },
      ),
      { seed: 25, numRuns: 2000 },
    );
  });
});

describe('stream framer without copies (immutableChunks)', () => {
  it('frames exactly as the copying framer, at any chunking, and its messages stay intact', () => {
    const random = seededRandom(26);
    const messages: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const length = 16 + Math.floor(random() * 600);
      const message = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      message.set([0, 10, length >> 8, length & 0xff], 0);
      messages.push(message);
      if (random() < 0.05) messages.push(Uint8Array.from([1, 2, 3, 4, 5])); // garbage: resync
    }
    const stream = Buffer.concat(messages);
    for (const chunkSize of [1, 7, 100, 1000, 70_000]) {
      const copying = new IpfixStreamFramer();
      const viewing = new IpfixStreamFramer({ immutableChunks: true });
      const a: Array<[number, string]> = [];
      const b: Array<{ offset: number; bytes: Uint8Array; hex: string }> = [];
      const errorsA: unknown[] = [];
      const errorsB: unknown[] = [];
      for (let o = 0; o < stream.length; o += chunkSize) {
        const chunk = Buffer.from(stream.subarray(o, o + chunkSize)); // a fresh buffer, as a socket gives
        const outA = copying.push(chunk);
        const outB = viewing.push(chunk);
        for (const m of outA.messages) a.push([m.streamOffset, Buffer.from(m.bytes).toString('hex')]);
        for (const m of outB.messages)
          b.push({ offset: m.streamOffset, bytes: m.bytes, hex: Buffer.from(m.bytes).toString('hex') });
        errorsA.push(...outA.errors);
        errorsB.push(...outB.errors);
      }
      expect(errorsB).toEqual(errorsA);
      expect(viewing.finish()).toEqual(copying.finish());
      // Compared after the whole stream went through: later pushes did not change earlier messages.
      expect(b.map((m) => [m.offset, Buffer.from(m.bytes).toString('hex')])).toEqual(a);
      expect(b.map((m) => m.hex)).toEqual(a.map(([, hex]) => hex));
    }
  });
});
