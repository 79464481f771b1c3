import { createIpfixDecoder, field, IpfixEncoder } from './collector-edge/ipfix/index.ts';
import { agentTemplateNames } from './simulator/agent-template.ts';
import { toAgentFields } from './simulator/exporter.ts';
import { ClusterSimulation } from './simulator/model.ts';
for (const v6 of [0, 1]) {
const sim = new ClusterSimulation({ seed: 2026, nodes: 1, connections: 3000, polls: 1, ipv6Share: v6 });
const poll = sim.nextExport()!;
const enc = new IpfixEncoder({ observationDomainId: 1 });
enc.defineTemplate(256, agentTemplateNames(v6 === 1).map((n) => field(n)));
const msgs = enc.dataMessages(256, poll.byNode[0]!.map((r) => toAgentFields(r.record, v6 === 1)), poll.exportTime);
const dec = createIpfixDecoder();
const s = { id: 'x', exporterAddress: '1.1.1.1', transport: 'tcp' as const };
dec.decodeMessage(enc.templateMessage(1), s);
for (let k = 0; k < 4; k++) {
  let n = 0; const t = performance.now();
  for (let r = 0; r < 5; r++) for (const m of msgs) for (const set of dec.decodeMessage(m, s).dataSets) n += set.records.length;
  console.log(v6 ? 'v6' : 'v4', Math.round(n / (performance.now() - t) * 1000), msgs.length);
}
}
