import { createIpfixDecoder, field, IpfixEncoder } from './collector-edge/ipfix/index.ts';
import { normaliseDataSet } from './collector-edge/normalise.ts';
import { agentTemplateNames, IPV4_TEMPLATE_ID } from './simulator/agent-template.ts';
import { toAgentFields } from './simulator/exporter.ts';
import { ClusterSimulation } from './simulator/model.ts';
const sim = new ClusterSimulation({ seed: 2026, nodes: 1, connections: 3000, polls: 1, ipv6Share: 0 });
const poll = sim.nextExport()!;
const enc = new IpfixEncoder({ observationDomainId: 1 });
enc.defineTemplate(IPV4_TEMPLATE_ID, agentTemplateNames(false).map((n) => field(n)));
const msgs = enc.dataMessages(256, poll.byNode[0]!.map((r) => toAgentFields(r.record, false)), poll.exportTime);
const dec = createIpfixDecoder();
const s = { id: 'x', exporterAddress: '1.1.1.1', transport: 'tcp' as const };
dec.decodeMessage(enc.templateMessage(1), s);
for (let k = 0; k < 3; k++) {
  let n = 0; let t = performance.now();
  for (let r = 0; r < 10; r++) for (const m of msgs) for (const set of dec.decodeMessage(m, s).dataSets) n += set.records.length;
  const d = performance.now() - t;
  t = performance.now(); let m2 = 0;
  for (let r = 0; r < 10; r++) for (const m of msgs) for (const set of dec.decodeMessage(m, s).dataSets) m2 += normaliseDataSet(set).length;
  console.log('decode', Math.round(n / d * 1000), 'decode+norm', Math.round(m2 / (performance.now() - t) * 1000), msgs.length, n);
}
