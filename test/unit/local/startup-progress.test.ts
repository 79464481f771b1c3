// Local mode's start-up progress (never silent for long, naming what is pending) and the engines' adaptive
// readiness limit, on an injected clock and fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { engineStartTimeoutMs, loadFactor } from '../../../local/engines/process.ts';
import { startupProgress } from '../../../local/runner/progress.ts';

describe('startup progress', () => {
  let now = 0;
  beforeEach(() => {
    now = 0;
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());
  const advance = (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      now += 50;
      vi.advanceTimersByTime(50);
    }
  };

  it('prints a waiting line naming each pending task whenever 1.2 s pass without output', async () => {
    const lines: string[] = [];
    const progress = startupProgress((text) => lines.push(text), { clock: () => now });
    let finishEngines: () => void = () => {};
    const engines = progress.track('DynamoDB Local', new Promise<void>((r) => (finishEngines = r)));
    void progress.track('stack template', new Promise(() => {}));
    progress.step('starting');
    advance(1000);
    expect(lines).toEqual(['[0.0 s] starting\n']);
    advance(300);
    expect(lines[1]).toMatch(
      /^\[1\.[23] s\] waiting for DynamoDB Local \(1\.[23] s\), stack template \(1\.[23] s\)\n$/,
    );
    finishEngines();
    await engines;
    advance(1250);
    expect(lines[2]).toMatch(/^\[2\.[56] s\] waiting for stack template \(2\.[56] s\)\n$/);
    // Other output resets the quiet period.
    advance(600);
    progress.printed();
    advance(1000);
    expect(lines).toHaveLength(3);
    progress.stop();
    advance(5000);
    expect(lines).toHaveLength(3);
  });

  it('never leaves a gap above 1.5 s of fake time between lines while something is pending', () => {
    const at: number[] = [];
    const progress = startupProgress(() => at.push(now), { clock: () => now });
    void progress.track('engines', new Promise(() => {}));
    advance(30_000);
    progress.stop();
    const gaps = at.map((t, i) => t - (at[i - 1] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1500);
    expect(at.length).toBeGreaterThan(20);
  });
});

describe('engine readiness limit', () => {
  it('is 90 s by default, or FLOWLINE_ENGINE_START_TIMEOUT_SECONDS', () => {
    expect(engineStartTimeoutMs({})).toBe(90_000);
    expect(engineStartTimeoutMs({ FLOWLINE_ENGINE_START_TIMEOUT_SECONDS: '240' })).toBe(240_000);
    expect(engineStartTimeoutMs({ FLOWLINE_ENGINE_START_TIMEOUT_SECONDS: 'soon' })).toBe(90_000);
  });

  it('grows with the load per core, from 1x on an idle machine to at most 4x', () => {
    expect(loadFactor(0.3, 2)).toBe(1);
    expect(loadFactor(4, 2)).toBe(2);
    expect(loadFactor(24, 2)).toBe(4);
  });
});
