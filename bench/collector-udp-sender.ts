// The simulated exporters of the UDP collector benchmark, in their own process (forked with an IPC channel):
//   node --import tsx bench/collector-udp-sender.ts <port> <antrea|generic> <nodes> <connections>
// One UDP socket per exporter. Sends the templates, reports {ready}, then sends data datagrams (rounds of
// the same seeded records, sequence numbers advancing per round) up to each {grant: total} it receives, and
// reports {sent: total} after each grant.
import { createSocket, type Socket } from 'node:dgram';
import { encodeUdpExport, type UdpTemplate } from './collector-udp.bench.ts';

const [portText, template, nodes, connections] = process.argv.slice(2) as [
  string,
  UdpTemplate,
  string,
  string,
];
const port = Number(portText);
const plan = encodeUdpExport(template, Number(nodes), Number(connections));
const sockets: Socket[] = plan.templates.map(() => createSocket('udp4'));
await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.connect(port, '127.0.0.1', resolve))));
await Promise.all(
  plan.templates.map(
    (bytes, exporter) => new Promise<void>((resolve) => sockets[exporter]!.send(bytes, () => resolve())),
  ),
);
process.send!({ ready: true });

let sent = 0;
process.on('message', async (message: { grant?: number; stop?: boolean }) => {
  if (message.stop) {
    for (const socket of sockets) socket.close();
    process.disconnect();
    return;
  }
  const grant = message.grant ?? sent;
  const pending: Promise<void>[] = [];
  for (; sent < grant; sent++) {
    const round = Math.floor(sent / plan.round.length);
    const datagram = plan.round[sent % plan.round.length]!;
    const bytes = Buffer.from(datagram.bytes);
    const advance = round * plan.recordsPerExporter[datagram.exporter]!;
    bytes.writeUInt32BE((bytes.readUInt32BE(8) + advance) >>> 0, 8);
    pending.push(new Promise<void>((resolve) => sockets[datagram.exporter]!.send(bytes, () => resolve())));
  }
  await Promise.all(pending);
  process.send!({ sent });
});
