// The correlator workload's spread phases: each Node's own export phase, records still in arrival order.
import { describe, expect, it } from 'vitest';
import { flowKeyOf } from '../../../core/flow-key.ts';
import { generateRecords } from '../../../workloads/correlator-workload.ts';

const options = {
  flows: 40,
  rounds: 5,
  interNodeShare: 0.8,
  intervalSeconds: 60,
  startSeconds: 1_800_000_000,
  seed: 3,
};

describe('generateRecords with spread phases', () => {
  const records = generateRecords({ ...options, phases: 'spread' });

  it("keeps arrival order and counts each exporter's sequence up in it", () => {
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.receivedAtMs).toBeGreaterThanOrEqual(records[i - 1]!.receivedAtMs);
    const last = new Map<string, number>();
    for (const record of records) {
      expect(record.sequenceNumber).toBe((last.get(record.exporterAddress) ?? 0) + 1);
      last.set(record.exporterAddress, record.sequenceNumber);
    }
  });

  it('gives each reporter one phase within the interval, and the two Nodes of a flow their own', () => {
    const phases = new Map<string, Set<number>>();
    for (const record of records) {
      const reporter = `${flowKeyOf(record)}@${record.exporterAddress}`;
      const phase = (record.exportTime - options.startSeconds) % options.intervalSeconds;
      expect(phase).toBeGreaterThanOrEqual(0);
      expect(phase).toBeLessThan(options.intervalSeconds);
      phases.set(reporter, (phases.get(reporter) ?? new Set()).add(phase));
    }
    expect(records).toHaveLength(generateRecords(options).length);
    for (const set of phases.values()) expect(set.size).toBe(1);
    expect(new Set([...phases.values()].map((set) => [...set][0])).size).toBeGreaterThan(10);
  });

  it("leaves the aligned workload as it was: every record at its interval's end", () => {
    for (const record of generateRecords(options))
      expect((record.exportTime - options.startSeconds) % options.intervalSeconds).toBe(0);
  });
});
