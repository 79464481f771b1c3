import type { BenchModule } from './types.ts';

/** Every benchmark module, in data-flow order; `cost` goes last (it reads the earlier rows' counters). */
/** The modules `--only <text>` selects: those whose name contains the text (every module without it). */
export function modulesMatching(only: string | undefined): string[] {
  return Object.keys(BENCH_MODULES).filter((name) => only === undefined || name.includes(only));
}

export const BENCH_MODULES: Record<string, () => Promise<BenchModule>> = {
  engines: async () => (await import('./engines.bench.ts')).enginesBench,
  decode: async () => (await import('./decode.bench.ts')).decodeBench,
  'k8s-metadata': async () => (await import('./k8s-metadata.bench.ts')).k8sMetadataBench,
  collector: async () => (await import('./collector.bench.ts')).collectorBench,
  'collector-udp': async () => (await import('./collector-udp.bench.ts')).collectorUdpBench,
  correlator: async () => (await import('./correlator.bench.ts')).correlatorBench,
  exporter: async () => (await import('./exporter.bench.ts')).exporterBench,
  'flow-state': async () => (await import('./flow-state.bench.ts')).flowStateBench,
  sinks: async () => (await import('./sinks.bench.ts')).sinksBench,
  cost: async () => (await import('./cost.bench.ts')).costBench,
};
