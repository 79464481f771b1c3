// Input files -> IPFIX messages with their transport session: pcap / pcapng (UDP datagrams and TCP
// streams, one transport session per 5-tuple), a raw stream of concatenated messages, or a .hex file
// with one message per line. Templates carry across files: raw and hex inputs share one session.
import type { TransportSession } from '../decoder.ts';
import { IpfixStreamFramer } from '../framer.ts';
import { type DecodeError, DecodeErrorReason } from '../types.ts';
import { type CaptureItem, isPcap, isPcapng, readPcap, readPcapng } from './capture.ts';
import { PacketParser, TcpStreamReassembler } from './network.ts';

export type InputFormat = 'pcap' | 'pcapng' | 'raw' | 'hex';

export interface InputMessage {
  bytes: Uint8Array;
  session: TransportSession;
  /** Capture timestamp, when the input has one. */
  receivedAtMs: number | undefined;
  /** Where the message starts: byte offset in the file (raw, pcap: of the IPFIX payload) ... */
  fileOffset: number;
  /** ... or line number (hex). */
  line?: number;
}

export interface InputProblem {
  error: DecodeError;
  line?: number;
}

export type InputItem = { message: InputMessage } | { problem: InputProblem };

/** UDP/TCP ports whose payloads are decoded even when they do not start like an IPFIX message. */
export const IPFIX_PORTS: ReadonlySet<number> = new Set([4739, 4740, 2055, 9995, 9996]);

/** The session raw and hex inputs share, so a template in one file serves data in the next. */
export const FILE_SESSION: TransportSession = { id: 'file', exporterAddress: '', transport: 'file' };

export function detectFormat(name: string, bytes: Uint8Array): InputFormat {
  if (isPcap(bytes)) return 'pcap';
  if (isPcapng(bytes)) return 'pcapng';
  if (name.endsWith('.hex')) return 'hex';
  if (bytes.length >= 2 && bytes[0] === 0 && bytes[1] === 10) return 'raw';
  // Text made only of hex digits and whitespace is a hex file whatever its name.
  const sample = bytes.subarray(0, 4096);
  if (sample.length > 0 && sample.every((c) => /[0-9a-fA-F\s#]/.test(String.fromCharCode(c)))) return 'hex';
  return 'raw';
}

export function* readInput(name: string, bytes: Uint8Array): Generator<InputItem> {
  const format = detectFormat(name, bytes);
  if (format === 'hex') yield* readHex(bytes);
  else if (format === 'raw') yield* readRaw(bytes);
  else yield* readCapture(format === 'pcap' ? readPcap(bytes) : readPcapng(bytes));
}

function problem(reason: DecodeErrorReason, offset: number, detail: string): InputItem {
  return { problem: { error: { reason, offset, detail } } };
}

function* readHex(bytes: Uint8Array): Generator<InputItem> {
  const lines = new TextDecoder().decode(bytes).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.replace(/#.*/, '').replace(/\s+/g, '');
    if (text === '') continue;
    if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2 !== 0) {
      yield {
        problem: {
          error: {
            reason: DecodeErrorReason.CaptureMalformed,
            offset: 0,
            detail: 'not an even number of hex digits',
          },
          line: i + 1,
        },
      };
      continue;
    }
    yield {
      message: {
        bytes: new Uint8Array(Buffer.from(text, 'hex')),
        session: FILE_SESSION,
        receivedAtMs: undefined,
        fileOffset: 0,
        line: i + 1,
      },
    };
  }
}

function* readRaw(bytes: Uint8Array): Generator<InputItem> {
  const framer = new IpfixStreamFramer();
  const { messages, errors } = framer.push(bytes);
  // Framer errors and messages are both in stream order; merge them by offset.
  const items: Array<[number, InputItem]> = [
    ...messages.map((m): [number, InputItem] => [
      m.streamOffset,
      {
        message: {
          bytes: m.bytes,
          session: FILE_SESSION,
          receivedAtMs: undefined,
          fileOffset: m.streamOffset,
        },
      },
    ]),
    ...[...errors, ...framer.finish()].map((e): [number, InputItem] => [e.offset, { problem: { error: e } }]),
  ];
  items.sort((a, b) => a[0] - b[0]);
  for (const [, item] of items) yield item;
}

interface TcpStream {
  reassembler: TcpStreamReassembler;
  framer: IpfixStreamFramer;
  session: TransportSession;
  /** Decided on the first payload bytes: does this stream carry IPFIX? */
  ipfix: boolean | undefined;
}

function* readCapture(items: Generator<CaptureItem>): Generator<InputItem> {
  const parser = new PacketParser();
  const streams = new Map<string, TcpStream>();
  for (const item of items) {
    if ('problem' in item) {
      yield problem(DecodeErrorReason.CaptureMalformed, item.fileOffset, item.problem);
      continue;
    }
    const outcome = parser.parse(item.linkType, item.data);
    if ('problem' in outcome) {
      yield problem(DecodeErrorReason.CaptureMalformed, item.fileOffset, outcome.problem);
      continue;
    }
    if ('skipped' in outcome) continue;
    const packet = outcome.packet;
    const endpoints = `${packet.source}:${packet.sourcePort}|${packet.destination}:${packet.destinationPort}`;
    const ipfixPort = IPFIX_PORTS.has(packet.destinationPort) || IPFIX_PORTS.has(packet.sourcePort);
    const payloadOffset = item.fileOffset + (item.data.length - packet.payload.length);
    if (packet.protocol === 'udp') {
      if (packet.payload.length === 0) continue;
      if (!ipfixPort && !(packet.payload[0] === 0 && packet.payload[1] === 10)) continue;
      yield {
        message: {
          bytes: packet.payload,
          session: { id: `udp|${endpoints}`, exporterAddress: packet.source, transport: 'udp' },
          receivedAtMs: item.timestampMs,
          fileOffset: payloadOffset,
        },
      };
      continue;
    }
    const key = `tcp|${endpoints}`;
    let stream = streams.get(key);
    if (!stream || (packet.tcp!.syn && stream.ipfix !== undefined)) {
      stream = {
        reassembler: new TcpStreamReassembler(),
        framer: new IpfixStreamFramer(),
        session: { id: key, exporterAddress: packet.source, transport: 'tcp' },
        ipfix: undefined,
      };
      streams.set(key, stream);
    }
    for (const chunk of stream.reassembler.push(packet.tcp!.sequence, packet.tcp!.syn, packet.payload)) {
      if (stream.ipfix === undefined) {
        stream.ipfix = ipfixPort || (chunk[0] === 0 && chunk[1] === 10);
      }
      if (!stream.ipfix) break;
      const { messages, errors } = stream.framer.push(chunk);
      for (const error of errors) {
        yield {
          problem: {
            error: {
              ...error,
              sessionId: key,
              detail: `${error.detail} (TCP stream offset ${error.offset})`,
              offset: payloadOffset,
            },
          },
        };
      }
      for (const m of messages) {
        yield {
          message: {
            bytes: m.bytes,
            session: stream.session,
            receivedAtMs: item.timestampMs,
            fileOffset: payloadOffset,
          },
        };
      }
    }
    if ((packet.tcp!.fin || packet.tcp!.rst) && stream.ipfix) {
      for (const error of stream.framer.finish()) {
        yield { problem: { error: { ...error, sessionId: key, offset: payloadOffset } } };
      }
    }
  }
  for (const [key, stream] of streams) {
    if (!stream.ipfix) continue;
    for (const error of stream.framer.finish()) {
      yield { problem: { error: { ...error, sessionId: key, detail: `${error.detail} at end of capture` } } };
    }
  }
}
