// Cross-check against an independent decoder: real IPFIX from Debian's softflowd (reading a pcap this
// test writes: TCP and UDP flows on 127.0.0.1 / ::1), captured from a loopback UDP socket or TCP
// connection, saved as pcap, then decoded by Flowline (decodeFiles, the `flowline decode` path) and by
// tshark; every record's fields must agree.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFiles } from '../../cli/commands/decode.ts';
import { asArray, ensureIpfixTools, type Json, tsharkRecords, tsharkTimeNanos } from '../support/tshark.ts';
import {
  type PacketSpec,
  pcapFile,
  syntheticTraffic,
  TcpFlags,
  tcpFrame,
  udpFrame,
} from '../unit/ipfix/pcap-writer.ts';

let toolsMissing: string | undefined;
let dir = '';

beforeAll(() => {
  toolsMissing = ensureIpfixTools('IPFIX cross-check');
  dir = mkdtempSync(join(tmpdir(), 'flowline-ipfix-xcheck-'));
  writeFileSync(join(dir, 'traffic.pcap'), pcapFile(syntheticTraffic(18, 1_700_000_000_000)));
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs softflowd over the traffic pcap, exporting to a loopback UDP port; returns the datagrams. */
async function exportOverUdp(
  extraArgs: string[],
): Promise<{ port: number; datagrams: Array<[Buffer, number]> }> {
  const socket = dgram.createSocket('udp4');
  const datagrams: Array<[Buffer, number]> = [];
  socket.on('message', (message, remote) => datagrams.push([message, remote.port]));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  try {
    await runSoftflowd([...extraArgs, '-n', `127.0.0.1:${port}`]);
    // The datagrams were sent before softflowd exited; let the socket drain them: poll until the
    // count has been stable for a few polls (deadline 5 s).
    let seen = -1;
    let stablePolls = 0;
    await pollUntil(() => {
      stablePolls = datagrams.length === seen && seen > 0 ? stablePolls + 1 : 0;
      seen = datagrams.length;
      return stablePolls >= 5;
    }, 5000);
    expect(datagrams.length).toBeGreaterThan(0);
  } finally {
    socket.close();
  }
  return { port, datagrams };
}

/** As above over TCP (softflowd -P tcp): returns the bytes of the connection. */
async function exportOverTcp(
  extraArgs: string[],
): Promise<{ port: number; clientPort: number; stream: Buffer }> {
  const chunks: Buffer[] = [];
  let clientPort = 0;
  let closed = false;
  const server = net.createServer((connection) => {
    clientPort = connection.remotePort ?? 0;
    connection.on('data', (chunk) => chunks.push(chunk));
    connection.on('close', () => {
      closed = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    await runSoftflowd([...extraArgs, '-P', 'tcp', '-n', `127.0.0.1:${port}`]);
    await pollUntil(() => closed, 5000);
  } finally {
    server.close();
  }
  return { port, clientPort, stream: Buffer.concat(chunks) };
}

async function pollUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function runSoftflowd(args: string[]): Promise<void> {
  const child = spawn(
    'softflowd',
    // No control socket: softflowd 1.1.0 hangs after pcap EOF with most control socket paths.
    ['-d', '-v', '10', '-r', join(dir, 'traffic.pcap'), '-c', 'none', '-p', join(dir, 'sf.pid'), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`softflowd exited ${code}: ${output}`);
  expect(output).toMatch(/Flows exported: [1-9]/);
}

/** Our IE name -> tshark field and how to compare. */
const TSHARK_FIELD: Record<string, [string, 'text' | 'int' | 'hex' | 'uptime' | 'time']> = {
  sourceIPv4Address: ['cflow.srcaddr', 'text'],
  destinationIPv4Address: ['cflow.dstaddr', 'text'],
  sourceIPv6Address: ['cflow.srcaddrv6', 'text'],
  destinationIPv6Address: ['cflow.dstaddrv6', 'text'],
  sourceTransportPort: ['cflow.srcport', 'int'],
  destinationTransportPort: ['cflow.dstport', 'int'],
  protocolIdentifier: ['cflow.protocol', 'int'],
  octetDeltaCount: ['cflow.octets', 'int'],
  reverseOctetDeltaCount: ['cflow.octets', 'int'],
  packetDeltaCount: ['cflow.packets', 'int'],
  reversePacketDeltaCount: ['cflow.packets', 'int'],
  ingressInterface: ['cflow.inputint', 'int'],
  egressInterface: ['cflow.outputint', 'int'],
  flowDirection: ['cflow.direction', 'int'],
  flowEndReason: ['cflow.flow_end_reason', 'int'],
  tcpControlBits: ['cflow.tcpflags', 'hex'],
  reverseTcpControlBits: ['cflow.tcpflags', 'hex'],
  ipVersion: ['cflow.ip_version', 'int'],
  ipClassOfService: ['cflow.tos', 'hex'],
  reverseIpClassOfService: ['cflow.tos', 'hex'],
  flowStartSysUpTime: ['cflow.timestart', 'uptime'],
  flowEndSysUpTime: ['cflow.timeend', 'uptime'],
  flowStartSeconds: ['cflow.abstimestart', 'time'],
  flowEndSeconds: ['cflow.abstimeend', 'time'],
  flowStartMilliseconds: ['cflow.abstimestart', 'time'],
  flowEndMilliseconds: ['cflow.abstimeend', 'time'],
  flowStartMicroseconds: ['cflow.abstimestart', 'time'],
  flowEndMicroseconds: ['cflow.abstimeend', 'time'],
  flowStartNanoseconds: ['cflow.abstimestart', 'time'],
  flowEndNanoseconds: ['cflow.abstimeend', 'time'],
  meteringProcessId: ['cflow.mp_id', 'int'],
  systemInitTimeMilliseconds: ['cflow.sys_init_time', 'time'],
  samplingPacketInterval: ['cflow.sampling_packet_interval', 'int'],
  samplingPacketSpace: ['cflow.sampling_packet_space', 'int'],
  selectorAlgorithm: ['cflow.selector_algorithm', 'int'],
  interfaceName: ['cflow.if_name', 'text'],
  icmpTypeCodeIPv4: ['cflow.icmp_type_code_ipv4', 'int'],
};

/** Our value of a time IE -> [nanoseconds, resolution in ns]. */
function ourTimeNanos(name: string, value: unknown): [bigint, bigint] {
  const v = BigInt(value as number | bigint | string);
  if (name.endsWith('Nanoseconds')) return [v, 1n];
  if (name.endsWith('Microseconds')) return [v * 1000n, 1000n];
  if (name.endsWith('Milliseconds')) return [v * 1_000_000n, 1_000_000n];
  return [v * 1_000_000_000n, 1_000_000_000n];
}

interface Comparison {
  records: number;
  fieldsCompared: number;
}

function compare(ours: Array<Record<string, unknown>>, theirs: Array<Record<string, Json>>): Comparison {
  expect(ours.length).toBe(theirs.length);
  let fieldsCompared = 0;
  ours.forEach((record, index) => {
    const tshark = theirs[index]!;
    const used = new Map<string, number>();
    for (const [name, value] of Object.entries(record)) {
      if (name.startsWith('_')) continue;
      const mapping = TSHARK_FIELD[name];
      expect(mapping, `no tshark mapping for ${name}: extend TSHARK_FIELD`).toBeDefined();
      const [key, kind] = mapping!;
      // Duplicated tshark keys (forward and reverse IEs) are consumed in template order.
      const occurrence = used.get(key) ?? 0;
      used.set(key, occurrence + 1);
      const theirValue = asArray(tshark[key])[occurrence];
      const where = `record ${index + 1} ${name}`;
      expect(theirValue, `${where}: tshark has no ${key}`).toBeTypeOf('string');
      const text = theirValue as string;
      if (kind === 'text') expect(value, where).toBe(text);
      else if (kind === 'int') expect(value, where).toBe(Number(text));
      else if (kind === 'hex') expect(value, where).toBe(Number.parseInt(text, 16));
      else if (kind === 'uptime') expect(value, where).toBe(Math.round(Number(text) * 1000));
      else {
        const [ns, resolution] = ourTimeNanos(name, value);
        const diff = ns - tsharkTimeNanos(text);
        expect(diff < resolution && diff > -resolution, `${where}: ${ns} vs ${text}`).toBe(true);
      }
      fieldsCompared++;
    }
  });
  return { records: ours.length, fieldsCompared };
}

function decodeWithFlowline(capture: string): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const problems: string[] = [];
  decodeFiles(
    [capture],
    (line) => lines.push(line),
    (line) => problems.push(line),
  );
  expect(problems).toEqual([]);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('IPFIX decode cross-checked with tshark on softflowd output', () => {
  const udpVariants: Array<[string, string[]]> = [
    ['uptime timestamps', []],
    ['bidirectional (RFC 5103 reverse IEs)', ['-b']],
    ['dateTimeMilliseconds', ['-A', 'milli']],
    ['dateTimeMicroseconds', ['-A', 'micro']],
    ['dateTimeNanoseconds', ['-A', 'nano']],
    ['dateTimeSeconds', ['-A', 'sec']],
  ];
  for (const [label, args] of udpVariants) {
    it(`UDP export, ${label}`, async (context) => {
      if (toolsMissing) context.skip();
      const { port, datagrams } = await exportOverUdp(args);
      const packets: PacketSpec[] = datagrams.map(([d, sourcePort], i) => ({
        timestampMs: 1_700_000_100_000 + i,
        frame: udpFrame('127.0.0.1', sourcePort, '127.0.0.1', port, new Uint8Array(d)),
      }));
      const capture = join(dir, `udp-${args.join('') || 'plain'}.pcap`);
      writeFileSync(capture, pcapFile(packets));
      const ours = decodeWithFlowline(capture);
      const result = compare(ours, tsharkRecords(capture, `udp.port==${port},cflow`));
      // 18 synthetic connections: flows in both directions, plus softflowd's options record.
      expect(result.records).toBeGreaterThanOrEqual(args.includes('-b') ? 19 : 37);
      expect(result.fieldsCompared).toBeGreaterThan(result.records * 10);
      expect(ours.some((r) => 'sourceIPv6Address' in r)).toBe(true);
    });
  }

  it('TCP export (stream reassembly, one session per connection)', async (context) => {
    if (toolsMissing) context.skip();
    const { port, clientPort, stream } = await exportOverTcp(['-b']);
    expect(stream.length).toBeGreaterThan(0);
    // Write the connection as TCP segments of at most 300 bytes, out of order in one place.
    const client = '127.0.0.1';
    const packets: PacketSpec[] = [];
    let t = 1_700_000_200_000;
    const isn = 7000;
    packets.push({
      timestampMs: t++,
      frame: tcpFrame(client, clientPort, client, port, isn, 0, TcpFlags.SYN),
    });
    packets.push({
      timestampMs: t++,
      frame: tcpFrame(client, port, client, clientPort, 9000, isn + 1, TcpFlags.SYN | TcpFlags.ACK),
    });
    const segments: Array<[number, Uint8Array]> = [];
    for (let o = 0; o < stream.length; o += 300)
      segments.push([o, new Uint8Array(stream.subarray(o, o + 300))]);
    if (segments.length >= 3) [segments[1], segments[2]] = [segments[2]!, segments[1]!];
    for (const [o, data] of segments) {
      packets.push({
        timestampMs: t++,
        frame: tcpFrame(
          client,
          clientPort,
          client,
          port,
          isn + 1 + o,
          9001,
          TcpFlags.ACK | TcpFlags.PSH,
          data,
        ),
      });
    }
    packets.push({
      timestampMs: t++,
      frame: tcpFrame(
        client,
        clientPort,
        client,
        port,
        isn + 1 + stream.length,
        9001,
        TcpFlags.FIN | TcpFlags.ACK,
      ),
    });
    const capture = join(dir, 'tcp.pcap');
    writeFileSync(capture, pcapFile(packets));
    const ours = decodeWithFlowline(capture);
    const result = compare(ours, tsharkRecords(capture, `tcp.port==${port},cflow`));
    expect(result.records).toBeGreaterThanOrEqual(19);
  });
});
