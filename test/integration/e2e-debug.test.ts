import { expect, it } from 'vitest';
import { flowSums, runLockstep, SteppedSimulation, useE2e, MetricTotals } from './e2e/harness.ts';
const e2e = useE2e();
it('debug', async () => {
  const sim = new SteppedSimulation({ seed: 7, nodes: 4, connections: 1500, polls: 6, ipv6Share: 0.3 });
  const metrics = new MetricTotals();
  const { pipeline, clickhouse } = await e2e.newRun({
    startMs: (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000,
    collector: { listen: [{ protocol: 'tcp', host: '127.0.0.1', port: 0 }] },
    correlator: { metrics },
  });
  const truth = await runLockstep(pipeline, sim);
  console.log('records', truth.records, Object.fromEntries(metrics.totals));
  const sums = await flowSums(clickhouse);
  let shown = 0;
  for (const flow of Object.values(truth.flows)) {
    const got = sums.get(flow.flowKey);
    if (got && got.packets === flow.finalTotals.packets) continue;
    if (shown++ > 2) break;
    console.log(JSON.stringify(flow), JSON.stringify(got));
    const r = await clickhouse.query({ query: `SELECT flowType, exportSeq, packetDeltaCount, packetTotalCount, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode, exportedAt, sourcePodName, destinationPodName FROM flows WHERE flowKey = {k:String} ORDER BY exportSeq`, query_params: { k: flow.flowKey }, format: 'JSONEachRow' });
    console.log(JSON.stringify(await r.json()));
  }
  console.log(JSON.stringify(pipeline.rounds.map(r => [r.dueFlows, r.rowsInserted, r.markConflicts])));
}, 200_000);
