import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { DeliveryQueue } from '../../../collector-edge/delivery-queue.ts';
import { createLogger, LogThrottle } from '../../../collector-edge/log.ts';
import { CollectorMetrics } from '../../../collector-edge/metrics.ts';
import {
  KinesisProducer,
  type KinesisSink,
  type PutEntry,
  type PutResult,
} from '../../../collector-edge/producer.ts';
import { Spool } from '../../../collector-edge/spool.ts';

// Kinesis (and kinesis-mock, which has no throttling) cannot be made to fail entry by entry on demand, so
// the producer's retry rules are checked against a scripted sink; the integration tests use kinesis-mock.
type Step = (entries: PutEntry[]) => PutResult[];

class ScriptedSink implements KinesisSink {
  readonly calls: Array<{ at: number; keys: string[] }> = [];
  constructor(private readonly steps: Step[]) {}
  async putRecords(entries: PutEntry[]): Promise<PutResult[]> {
    this.calls.push({ at: Date.now(), keys: entries.map((e) => e.partitionKey) });
    const step = this.steps.shift() ?? ((e: PutEntry[]) => e.map(() => ({ ok: true as const })));
    return step(entries);
  }
  async listShards() {
    return [];
  }
}

const dirs: string[] = [];
const spools: Spool[] = [];
afterEach(async () => {
  vi.useRealTimers();
  // The spool's writer may still be writing acknowledgements: close it before removing its directory.
  await Promise.all(spools.splice(0).map((spool) => spool.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(sink: KinesisSink, options: { concurrency?: number; maxRecordsPerRequest?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'flowline-producer-'));
  dirs.push(dir);
  const { spool } = Spool.open({ dir, segmentBytes: 1 << 20, fsyncIntervalMs: 60_000 });
  spools.push(spool);
  const queue = new DeliveryQueue(spool, 1 << 20);
  const metrics = new CollectorMetrics();
  const producer = new KinesisProducer(queue, sink, metrics, createLogger('silent'), new LogThrottle(), {
    concurrency: options.concurrency ?? 1,
    backoffBaseMs: 100,
    backoffCapMs: 1000,
    random: () => 1, // the full ceiling, so the delays are exact
    maxRecordsPerRequest: options.maxRecordsPerRequest ?? 500,
  });
  const push = (key: string) => queue.push({ data: Buffer.from(key), partitionKey: key, recordCount: 10 });
  // Pushed records become sendable once the spool's writer has written them.
  const committed = () => spool.flushed();
  return { queue, metrics, producer, push, committed };
}

describe('Kinesis producer', () => {
  test('request failure and partial failure: only failed entries are retried, after exponential backoff', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const sink = new ScriptedSink([
      () => {
        throw throttled;
      },
      (entries) =>
        entries.map((e) =>
          e.partitionKey === 'b'
            ? { ok: false, errorCode: 'ProvisionedThroughputExceededException' }
            : { ok: true, shardId: 'shardId-000000000000' },
        ),
    ]);
    const { queue, metrics, producer, push, committed } = setup(sink);
    for (const key of ['a', 'b', 'c']) push(key);
    await committed();
    producer.kick();
    const idle = producer.whenIdle();
    await vi.runAllTimersAsync();
    await idle;
    expect(sink.calls).toEqual([
      { at: 0, keys: ['a', 'b', 'c'] },
      { at: 100, keys: ['a', 'b', 'c'] }, // ceiling base * 2^0
      { at: 300, keys: ['b'] }, // ceiling base * 2^1
    ]);
    expect(queue.size).toBe(0);
    expect(await metrics.total('flowline_kinesis_throttles_total')).toBe(2);
    expect(await metrics.total('flowline_kinesis_retried_records_total')).toBe(4);
    expect(await metrics.total('flowline_kinesis_delivered_records_total')).toBe(3);
    expect(await metrics.total('flowline_kinesis_delivered_flow_records_total')).toBe(30);
    expect(await metrics.total('flowline_kinesis_put_records_requests_total', { outcome: 'partial' })).toBe(
      1,
    );
  });

  test('backoff is capped and resets after a success', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const down = () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const sink = new ScriptedSink([down, down, down, down, down]);
    const { producer, push, committed } = setup(sink);
    push('x');
    await committed();
    producer.kick();
    await vi.runAllTimersAsync();
    const gaps = sink.calls.slice(1).map((c, i) => c.at - sink.calls[i]!.at);
    expect(gaps).toEqual([100, 200, 400, 800, 1000]);
    push('y');
    await committed();
    producer.kick();
    await vi.runAllTimersAsync();
    expect(sink.calls.at(-1)).toEqual({ at: sink.calls.at(-2)!.at, keys: ['y'] }); // no pause after success
  });

  test('never more requests in flight than the concurrency limit; 500 records per request at most', async () => {
    let inFlight = 0;
    let peak = 0;
    const sizes: number[] = [];
    const sink: KinesisSink = {
      async putRecords(entries) {
        sizes.push(entries.length);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight--;
        return entries.map(() => ({ ok: true }));
      },
      async listShards() {
        return [];
      },
    };
    const { producer, push, queue, committed } = setup(sink, { concurrency: 3 });
    for (let i = 0; i < 2600; i++) push(`k${i}`);
    await committed();
    producer.kick();
    await producer.whenIdle();
    expect(peak).toBe(3);
    expect(Math.max(...sizes)).toBe(500);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2600);
    expect(queue.size).toBe(0);
  });

  test("one request in flight per lane: a lane's records reach Kinesis in order, retries before newer ones", async () => {
    const delivered: string[] = [];
    let refused = false;
    let inFlight = 0;
    let peak = 0;
    const sink: KinesisSink = {
      async putRecords(entries) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1 + (entries.length % 3)));
        inFlight--;
        return entries.map((e) => {
          const payload = Buffer.from(e.data).toString();
          // The first record of lane "a" is refused once: its retry must still precede a's later records.
          if (payload === 'a:0' && !refused) {
            refused = true;
            return { ok: false, errorCode: 'ProvisionedThroughputExceededException' };
          }
          delivered.push(payload);
          return { ok: true };
        });
      },
      async listShards() {
        return [];
      },
    };
    const { producer, queue, committed } = setup(sink, { concurrency: 4, maxRecordsPerRequest: 2 });
    for (let i = 0; i < 12; i++) {
      for (const lane of ['a', 'b', 'c']) {
        queue.push({ data: Buffer.from(`${lane}:${i}`), partitionKey: lane, recordCount: 1 });
      }
    }
    await committed();
    producer.kick();
    await producer.whenIdle();
    for (const lane of ['a', 'b', 'c']) {
      const order = delivered.filter((p) => p.startsWith(`${lane}:`)).map((p) => Number(p.slice(2)));
      expect(order).toEqual([...order].sort((x, y) => x - y));
      expect(order).toHaveLength(12);
    }
    expect(refused).toBe(true);
    expect(peak).toBeGreaterThan(1); // other lanes still go in parallel
  });
});
