import { collectorBench } from './bench/collector.bench.ts';
const rows = await collectorBench.run({ quick: process.argv[2] === 'quick' });
console.log(rows.map(r => [r.name.slice(0,30), Math.round(r.value), r.baseline && Math.round(r.baseline), JSON.stringify(r.counters)]));
