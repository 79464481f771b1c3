// The queue between the flusher and a sink: in-order delivery, retries of the same batch until it lands,
// a bounded backlog that drops the oldest waiting batches (counted), offer() that never waits or throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExportedBatch, ExportedRow } from '../../../functions/sinks/exported-row.ts';
import { type BatchSink, SinkQueue } from '../../../functions/sinks/sink-queue.ts';

function batch(token: string, rows: number): ExportedBatch {
  return { token, rows: Array.from({ length: rows }, () => ({}) as ExportedRow) };
}

/** A sink that fails while `down` is true and records what it received. */
class FlakySink implements BatchSink {
  readonly name = 'flaky';
  down = false;
  failuresLeft = 0;
  received: string[] = [];
  async deliver(b: ExportedBatch): Promise<void> {
    await Promise.resolve();
    if (this.down || this.failuresLeft > 0) {
      this.failuresLeft = Math.max(0, this.failuresLeft - 1);
      throw new Error('collector unreachable');
    }
    this.received.push(b.token);
  }
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function queueOf(sink: BatchSink, maxQueuedRows = 1000) {
  const waits: number[] = [];
  const queue = new SinkQueue(sink, {
    maxQueuedRows,
    backoffBaseMs: 100,
    backoffCapMs: 1000,
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
      await immediate();
    },
  });
  return { queue, waits };
}

async function settle(queue: SinkQueue): Promise<void> {
  let now = 0;
  await queue.drain(Number.POSITIVE_INFINITY, () => now++);
}

describe('SinkQueue', () => {
  it('delivers every batch once, in order, retrying failed deliveries with growing backoff', async () => {
    const sink = new FlakySink();
    sink.failuresLeft = 3;
    const { queue, waits } = queueOf(sink);
    for (const t of ['a', 'b', 'c']) queue.offer(batch(t, 2));
    await settle(queue);
    expect(sink.received).toEqual(['a', 'b', 'c']);
    expect(waits).toEqual([51, 101, 201]);
    expect(queue.stats()).toEqual({
      batchesSent: 3,
      rowsSent: 6,
      retries: 3,
      batchesDropped: 0,
      rowsDropped: 0,
      queuedBatches: 0,
      queuedRows: 0,
    });
  });

  it('holds batches while the sink is down and catches up when it is back', async () => {
    const sink = new FlakySink();
    sink.down = true;
    const { queue } = queueOf(sink);
    queue.offer(batch('a', 1));
    for (let i = 0; i < 20; i++) await immediate();
    queue.offer(batch('b', 1));
    expect(queue.stats().retries).toBeGreaterThan(0);
    expect(queue.stats().queuedBatches).toBe(2);
    sink.down = false;
    await settle(queue);
    expect(sink.received).toEqual(['a', 'b']);
  });

  it('over its row bound drops the oldest waiting batches, never the one in delivery, and counts them', async () => {
    const sink = new FlakySink();
    sink.down = true;
    const dropped: string[] = [];
    const queue = new SinkQueue(sink, {
      maxQueuedRows: 10,
      backoffBaseMs: 1,
      backoffCapMs: 1,
      sleep: immediate,
      onDrop: (b) => dropped.push(b.token),
    });
    for (const t of ['a', 'b', 'c', 'd']) queue.offer(batch(t, 4));
    expect(dropped).toEqual(['b', 'c']);
    expect(queue.stats()).toMatchObject({
      batchesDropped: 2,
      rowsDropped: 8,
      queuedRows: 8,
      queuedBatches: 2,
    });
    sink.down = false;
    await settle(queue);
    expect(sink.received).toEqual(['a', 'd']);
  });

  it('sent + dropped + queued = offered, whatever the failures (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 20 }),
        async (steps, bound) => {
          const sink = new FlakySink();
          const queue = new SinkQueue(sink, {
            maxQueuedRows: bound,
            backoffBaseMs: 1,
            backoffCapMs: 1,
            sleep: immediate,
          });
          let offered = 0;
          for (const [i, [rows, fail]] of steps.entries()) {
            sink.down = fail;
            queue.offer(batch(`t${i}`, rows));
            offered += rows;
            await immediate();
          }
          const s = queue.stats();
          expect(s.rowsSent + s.rowsDropped + s.queuedRows).toBe(offered);
          sink.down = false;
          await settle(queue);
          const done = queue.stats();
          expect(done.rowsSent + done.rowsDropped).toBe(offered);
          expect(new Set(sink.received).size).toBe(sink.received.length);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('drain gives up at its deadline when the sink stays down', async () => {
    const sink = new FlakySink();
    sink.down = true;
    const { queue } = queueOf(sink);
    queue.offer(batch('a', 1));
    let now = 0;
    expect(await queue.drain(5, () => now++)).toBe(false);
    expect(queue.stats().queuedBatches).toBe(1);
  });
});
