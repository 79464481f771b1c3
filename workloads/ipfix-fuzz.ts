// Mutation fuzzing of IPFIX messages (test and benchmark helper): flips, overwrites, truncates, extends
// and splices the seed messages (the go-ipfix vectors and encoder output) with a seeded generator.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIpfixDecoder, IpfixEncoder, type TransportSession } from '../collector-edge/ipfix/index.ts';
import { seededRandom } from '../core/random.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord } from './antrea-template.ts';

export function mutate(seed: Uint8Array, random: () => number, seeds: Uint8Array[]): Uint8Array {
  let bytes = new Uint8Array(seed);
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(random() * Math.max(1, bytes.length));
    switch (Math.floor(random() * 7)) {
      case 0:
        bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
        break;
      case 1:
        bytes[at] = Math.floor(random() * 256);
        break;
      case 2: // interesting values in length / id fields
        bytes[at] = [0, 0xff, 1, 0x80, 0x7f][Math.floor(random() * 5)]!;
        if (at + 1 < bytes.length) bytes[at + 1] = [0, 0xff, 4, 0x10][Math.floor(random() * 4)]!;
        break;
      case 3:
        bytes = bytes.subarray(0, at);
        break;
      case 4: {
        const extra = new Uint8Array(Math.floor(random() * 64)).map(() => Math.floor(random() * 256));
        const next = new Uint8Array(bytes.length + extra.length);
        next.set(bytes);
        next.set(extra, bytes.length);
        bytes = next;
        break;
      }
      case 5: {
        const other = seeds[Math.floor(random() * seeds.length)]!;
        const from = Math.floor(random() * other.length);
        const piece = other.subarray(from, from + Math.floor(random() * 40));
        const next = new Uint8Array(bytes);
        next.set(piece.subarray(0, Math.max(0, next.length - at)), at);
        bytes = next;
        break;
      }
      default: // keep header length consistent with the mutated size sometimes
        if (bytes.length >= 4) {
          bytes[2] = (bytes.length >> 8) & 0xff;
          bytes[3] = bytes.length & 0xff;
        }
    }
  }
  return bytes;
}

export interface FuzzOutcome {
  iterations: number;
  crashes: number;
  firstCrash?: string;
  records: number;
  errors: number;
  /** Longest single decodeMessage call, ms (a hang shows here). */
  slowestMs: number;
  elapsedMs: number;
}

/** Runs `iterations` mutated messages through one long-lived decoder (state must stay consistent). */
export function fuzzDecoder(seeds: Uint8Array[], iterations: number, seed: number): FuzzOutcome {
  const random = seededRandom(seed);
  const decoder = createIpfixDecoder({ clock: () => 0 });
  const sessions: TransportSession[] = [
    { id: 'a', exporterAddress: '127.0.0.1', transport: 'udp' },
    { id: 'b', exporterAddress: '127.0.0.1', transport: 'tcp' },
  ];
  const outcome: FuzzOutcome = { iterations, crashes: 0, records: 0, errors: 0, slowestMs: 0, elapsedMs: 0 };
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const base = seeds[Math.floor(random() * seeds.length)]!;
    const message = random() < 0.1 ? base : mutate(base, random, seeds);
    const t0 = performance.now();
    try {
      const r = decoder.decodeMessage(message, sessions[i & 1]!);
      outcome.records += r.recordCount;
      outcome.errors += r.errors.length;
    } catch (error) {
      outcome.crashes++;
      outcome.firstCrash ??= `${(error as Error).stack} on ${Buffer.from(message).toString('hex')}`;
    }
    const took = performance.now() - t0;
    if (took > outcome.slowestMs) outcome.slowestMs = took;
  }
  outcome.elapsedMs = performance.now() - started;
  return outcome;
}

const VECTORS = join(import.meta.dirname, '../test/fixtures/vectors');

/** The seeds: every go-ipfix vector plus an Antrea template and data messages from the encoder. */
export function fuzzSeeds(): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  if (existsSync(VECTORS)) {
    for (const f of readdirSync(VECTORS)
      .filter((n) => n.endsWith('.hex'))
      .sort()) {
      seeds.push(new Uint8Array(Buffer.from(readFileSync(join(VECTORS, f), 'utf8').trim(), 'hex')));
    }
  }
  const encoder = new IpfixEncoder({ observationDomainId: 1, maxMessageBytes: 1400 });
  encoder.defineTemplate(256, ANTREA_AGENT_IPV4_FIELDS);
  seeds.push(encoder.templateMessage(1));
  const random = seededRandom(3);
  seeds.push(
    ...encoder.dataMessages(
      256,
      Array.from({ length: 8 }, (_, i) => antreaRecord(random, i)),
      1,
    ),
  );
  return seeds;
}
