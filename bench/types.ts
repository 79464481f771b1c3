// The contract every benchmark module follows; bench/main.ts runs them and prints one table.

export interface BenchRow {
  /** Benchmark group, e.g. "decode". */
  group: string;
  /** What was measured, e.g. "Antrea template, compiled decoder". */
  name: string;
  /** The measured figure and its unit, e.g. 1_250_000 "records/s". */
  value: number;
  unit: string;
  /** The baseline measured in the same run, in the same unit (omit only where no baseline fits). */
  baselineName?: string;
  baseline?: number;
  /** Target from the issue, in the same unit, and whether higher or lower is better. */
  target?: number;
  better?: 'higher' | 'lower';
  /** Counters other parts (the cost model) reuse, e.g. { putPayloadUnits: 12 }. */
  counters?: Record<string, number>;
  notes?: string;
  /** The bench module that measured it (set by the runner): a partial run replaces that module's rows. */
  module?: string;
}

export interface BenchModule {
  /** Runs with a fixed seed; must finish in bounded time (the whole suite stays under 10 minutes). */
  run(options: BenchRunOptions): Promise<BenchRow[]>;
}

export interface BenchRunOptions {
  quick: boolean;
  /** Rows produced earlier in the same run (modules run in list order), e.g. for the cost model's counters. */
  previous?: readonly BenchRow[];
}
