import { describe, expect, it } from 'vitest';
import { fuzzDecoder, fuzzSeeds } from '../../../workloads/ipfix-fuzz.ts';

describe('fuzz', () => {
  it('5,000 mutated messages (fixed seed): no exception escapes, no hang, decoder keeps decoding', () => {
    const seeds = fuzzSeeds();
    expect(seeds.length).toBeGreaterThan(5);
    const outcome = fuzzDecoder(seeds, 5000, 20240501);
    expect(outcome.firstCrash).toBeUndefined();
    expect(outcome.crashes).toBe(0);
    expect(outcome.slowestMs).toBeLessThan(1000);
    // Unmutated seeds keep decoding throughout, and mutations produce counted errors.
    expect(outcome.records).toBeGreaterThan(0);
    expect(outcome.errors).toBeGreaterThan(1000);
  });
});
