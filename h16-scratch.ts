import { createIpfixDecoder } from './collector-edge/ipfix/index.ts';
import { floodTemplate, templateFloodMessage } from './test/support/hostile-ipfix.ts';
const d = createIpfixDecoder();
const t0 = performance.now();
let slowest = 0;
for (let port = 0; port < 1000; port++) {
  const m = templateFloodMessage(Array.from({ length: 5 }, (_, j) => floodTemplate(256 + j, 500, port * 5 + j)), port);
  const s = performance.now();
  const r = d.decodeMessage(m, { id: `udp|p${port}`, exporterAddress: '127.0.0.1', transport: 'udp' });
  slowest = Math.max(slowest, performance.now() - s);
  if (r.errors.length) { console.log(r.errors[0]); break; }
}
console.log('ms', (performance.now() - t0).toFixed(0), 'slowest', slowest.toFixed(1), d.stats().templatesStored, d.stats().templateBytes, d.stats().templatesEvicted, process.memoryUsage().rss/1e6);
