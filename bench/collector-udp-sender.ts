// The simulated exporters of the UDP collector benchmark, in their own process (forked with an IPC channel):
//   node --import tsx bench/collector-udp-sender.ts <port> <antrea|generic> <nodes> <connections> <queue limit bytes>
// One UDP socket per exporter, each bound to its own loopback address (exporterAddress). Sends the templates
// and reports {ready}; on {send: total} sends data datagrams (rounds of the same seeded records, sequence
// numbers advancing per round) until `total` have been sent, and reports {sent: total}. UDP has no flow
// control: the sender paces itself on the receiving socket's kernel queue (/proc/net/udp rx_queue), sending
// only while it holds less than the limit, so the kernel drops nothing and the measured receiver spends
// nothing on flow control.
import { createSocket, type Socket } from 'node:dgram';
import { readUdpSocketStats } from '../collector-edge/udp-drops.ts';
import { encodeUdpExport, exporterAddress, type UdpTemplate } from './collector-udp.bench.ts';

const [portText, template, nodes, connections, limitText] = process.argv.slice(2) as [
  string,
  UdpTemplate,
  string,
  string,
  string,
];
const port = Number(portText);
const queueLimit = Number(limitText);
const BURST = 16;
const plan = encodeUdpExport(template, Number(nodes), Number(connections));
const sockets: Socket[] = plan.templates.map(() => createSocket('udp4'));
// Each exporter from its own loopback address, as each Node of a cluster has its own (Linux answers on all
// of 127/8; elsewhere only 127.0.0.1 may exist).
const sourceOf = (exporter: number) =>
  process.platform === 'linux' ? exporterAddress(exporter) : '127.0.0.1';
await Promise.all(
  sockets.map(
    (s, exporter) =>
      new Promise<void>((resolve) =>
        s.bind(0, sourceOf(exporter), () => s.connect(port, '127.0.0.1', resolve)),
      ),
  ),
);
const send = (exporter: number, bytes: Buffer) =>
  new Promise<void>((resolve, reject) =>
    sockets[exporter]!.send(bytes, (error) => (error ? reject(error) : resolve())),
  );
await Promise.all(plan.templates.map((bytes, exporter) => send(exporter, bytes)));
if (!readUdpSocketStats(port) && !readUdpSocketStats(port))
  throw new Error('no /proc/net/udp entry for the receiver');
process.send!({ ready: true });

let sent = 0;
async function sendUpTo(total: number): Promise<void> {
  while (sent < total) {
    // Undefined now and then: /proc/net/udp is read in pages, and a line can slip between two of them while
    // other sockets come and go. Unknown counts as full.
    const queued = readUdpSocketStats(port)?.receiveQueueBytes ?? queueLimit;
    if (queued >= queueLimit) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    const burst: Promise<void>[] = [];
    for (const end = Math.min(total, sent + BURST); sent < end; sent++) {
      const round = Math.floor(sent / plan.round.length);
      const datagram = plan.round[sent % plan.round.length]!;
      const bytes = Buffer.from(datagram.bytes);
      const advance = round * plan.recordsPerExporter[datagram.exporter]!;
      bytes.writeUInt32BE((bytes.readUInt32BE(8) + advance) >>> 0, 8);
      burst.push(send(datagram.exporter, bytes));
    }
    await Promise.all(burst);
  }
}

process.on('message', async (message: { send?: number; stop?: boolean }) => {
  if (message.stop) {
    for (const socket of sockets) socket.close();
    process.disconnect();
    return;
  }
  await sendUpTo(message.send ?? sent);
  process.send!({ sent });
});
