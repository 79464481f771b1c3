// The ticker's round loop (virtual clock), what a round publishes, and its configuration.
import { describe, expect, it } from 'vitest';
import { endsInvocation, RoundLoop } from '../../../functions/shared/round-loop.ts';
import { tickerConfigFromEnv } from '../../../functions/ticker/config.ts';
import { idleTick } from '../../../functions/ticker/make-handler.ts';
import { emptyTickReport, type TickReport } from '../../../functions/ticker/ticker.ts';

describe('RoundLoop', () => {
  function virtualTime() {
    let now = 1_000_000;
    const advance = (ms: number) => {
      now += ms;
    };
    return { clock: () => now, sleep: async (ms: number) => advance(ms), advance };
  }
  const report = (ok: boolean, atRest?: boolean): TickReport => ({
    ...emptyTickReport(),
    ok,
    ...(atRest === undefined ? {} : { atRest }),
  });

  it('a round every commit interval within the run time (55 s / 8 s = 7 rounds)', async () => {
    const time = virtualTime();
    const starts: number[] = [];
    const loop = new RoundLoop({
      round: async () => {
        starts.push(time.clock());
        time.advance(300); // the round itself takes time; the interval is measured start to start
        return report(true);
      },
    });
    const reports = await loop.run({ runForMs: 55_000, intervalMs: 8000, maxBackoffMs: 60_000, ...time });
    expect(reports).toHaveLength(7);
    expect(starts.map((s) => s - starts[0]!)).toEqual([0, 8000, 16_000, 24_000, 32_000, 40_000, 48_000]);
  });

  it('backs off exponentially after failures, capped, and resets after a success', async () => {
    const time = virtualTime();
    const starts: number[] = [];
    const outcomes = [false, false, false, false, true, true];
    const loop = new RoundLoop({
      round: async () => {
        starts.push(time.clock());
        return report(outcomes[starts.length - 1] ?? true);
      },
    });
    await loop.run({ runForMs: 200_000, intervalMs: 8000, maxBackoffMs: 40_000, ...time });
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    expect(gaps.slice(0, 6)).toEqual([8000, 16_000, 32_000, 40_000, 8000, 8000]);
    expect(loop.consecutiveFailures).toBe(0);
  });

  it('ends the invocation after a round that leaves no open flow (at rest: one round a minute)', async () => {
    const time = virtualTime();
    let rounds = 0;
    const loop = new RoundLoop({
      round: async () => {
        rounds += 1;
        time.advance(40);
        return report(true, true);
      },
    });
    const started = time.clock();
    const reports = await loop.run({ runForMs: 55_000, intervalMs: 8000, maxBackoffMs: 60_000, ...time });
    expect(rounds).toBe(1);
    expect(reports).toHaveLength(1);
    expect(time.clock() - started).toBe(40); // no sleep: the invocation is as long as its round
  });

  it('keeps every commit interval while a flow is open, and ends at the first round at rest', async () => {
    const time = virtualTime();
    const starts: number[] = [];
    // Flows open for three rounds; unknown (index unreadable) and failed rounds never end the run early.
    const outcomes: Array<[boolean, boolean | undefined]> = [
      [true, false],
      [true, undefined],
      [false, true],
      [true, false],
      [true, true],
    ];
    const loop = new RoundLoop({
      round: async () => {
        starts.push(time.clock());
        const [ok, atRest] = outcomes[starts.length - 1] ?? [true, true];
        return report(ok, atRest);
      },
    });
    await loop.run({ runForMs: 55_000, intervalMs: 8000, maxBackoffMs: 60_000, ...time });
    expect(starts.map((s) => s - starts[0]!)).toEqual([0, 8000, 16_000, 24_000, 32_000]);
  });

  it('the round loop ends early exactly when the round succeeded and the index holds no open flow', () => {
    expect(endsInvocation(report(true, true))).toBe(true);
    expect(endsInvocation(report(true, false))).toBe(false);
    expect(endsInvocation(report(true))).toBe(false);
    expect(endsInvocation(report(false, true))).toBe(false);
  });
});

describe('idleTick (publishes no metric)', () => {
  const base: TickReport = { ...emptyTickReport(), atRest: true, durationMs: 30 };
  it('is a successful round at rest that advanced nothing', () => {
    expect(idleTick(base)).toBe(true);
    expect(idleTick({ ...base, atRest: false })).toBe(false);
    expect(idleTick({ ...base, ok: false })).toBe(false);
    // The round that closed the last flows still reports.
    expect(idleTick({ ...base, dueFlows: 3, closedFlows: 3 })).toBe(false);
  });
});

describe('ticker configuration', () => {
  it('defaults: a round every 8 s for 55 s, 10,000 flows per round, one ticker', () => {
    const config = tickerConfigFromEnv({});
    expect(config.commitIntervalMs).toBe(8000);
    expect(config.runForMs).toBe(55_000);
    expect(config.maxFlowsPerRound).toBe(10_000);
    expect(config.partition).toEqual({ index: 0, count: 1 });
  });
});
