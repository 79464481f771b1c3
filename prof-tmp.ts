import { createIpfixDecoder, IpfixEncoder } from './collector-edge/ipfix/index.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord, seededRandom } from './test/unit/ipfix/antrea-template.ts';
const small = new IpfixEncoder({ observationDomainId: 1, maxMessageBytes: 16384 });
small.defineTemplate(256, ANTREA_AGENT_IPV4_FIELDS);
const random = seededRandom(7);
const records = Array.from({ length: 20000 }, (_, i) => antreaRecord(random, i));
const msgs = small.dataMessages(256, records as never, 0);
const d = createIpfixDecoder();
const s = { id: 'x', exporterAddress: '', transport: 'tcp' as const };
d.decodeMessage(small.templateMessage(0), s);
for (let k = 0; k < 6; k++) { const c = process.cpuUsage(); let n = 0; for (let j = 0; j < 5; j++) for (const m of msgs) n += d.decodeMessage(m, s).recordCount; const u = process.cpuUsage(c); console.log(Math.round(n / ((u.user + u.system) / 1e6))); }
