// The simulated Antrea agents of the collector benchmark, in their own process:
//   node --import tsx bench/collector-sender.ts <port> <nodes> <connections> <rounds>
// Same seed as the benchmark, so the collector receives exactly the records it expects.
import { encodeAgents, sendRounds } from './collector.bench.ts';

const [port, nodes, connections, rounds] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
  number,
];
await sendRounds(port, encodeAgents(nodes, connections).streams, rounds);
