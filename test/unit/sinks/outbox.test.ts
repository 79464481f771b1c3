// The sinks' durable outbox (functions/sinks/outbox.ts) over the in-memory store: in-order delivery with
// retries, append that never waits on a sink, a new outbox (a new exporter container) resuming from the
// stored cursors, delivered entries deleted, and the bound: over it the oldest entries are dropped,
// counted and reported, never the newest.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PendingRow } from '../../../functions/exporter/batch.ts';
import { buildFlowRow } from '../../../functions/exporter/rows.ts';
import { type ExportedBatch, sinkOnlyColumnsOf } from '../../../functions/sinks/exported-row.ts';
import {
  type BatchSink,
  DELIVERY_LEASE_MS,
  type OutboxOptions,
  SinkOutbox,
} from '../../../functions/sinks/outbox.ts';
import { SINK_CLUSTER_UUID, sampleFlow } from '../../fixtures/exported-rows.ts';
import { MemoryOutboxStore } from '../../support/memory-outbox-store.ts';

function rows(count: number): PendingRow[] {
  const flow = sampleFlow();
  return Array.from({ length: count }, (_, i) => ({
    token: `${flow.flowKey}#${i}`,
    row: buildFlowRow(flow, {
      clusterUUID: SINK_CLUSTER_UUID,
      exportSeq: i + 1,
      exportedAtMs: 1_800_000_000_000,
    }),
    sinkColumns: sinkOnlyColumnsOf(flow),
  }));
}

/** A sink that fails while `down` is true (or for its next `failuresLeft` attempts) and records what it got. */
class FlakySink implements BatchSink {
  readonly name = 'flaky';
  down = false;
  failuresLeft = 0;
  received: ExportedBatch[] = [];
  get tokens(): string[] {
    return this.received.map((b) => b.token);
  }
  async deliver(b: ExportedBatch): Promise<void> {
    await Promise.resolve();
    if (this.down || this.failuresLeft > 0) {
      this.failuresLeft = Math.max(0, this.failuresLeft - 1);
      throw new Error('collector unreachable');
    }
    this.received.push(b);
  }
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function outboxOf(
  store: MemoryOutboxStore,
  sinks: Record<string, BatchSink>,
  options: Partial<OutboxOptions> = {},
) {
  const waits: number[] = [];
  const outbox = new SinkOutbox(store, new Map(Object.entries(sinks)), {
    maxQueuedRows: 1000,
    maxChunkBytes: 1000,
    backoffBaseMs: 100,
    backoffCapMs: 1000,
    clock: () => 0,
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
      await immediate();
    },
    ...options,
  });
  return { outbox, waits };
}

async function settle(outbox: SinkOutbox): Promise<boolean> {
  let now = 0;
  return outbox.drain(Number.POSITIVE_INFINITY, () => now++);
}

/** Lets the workers run until `condition` holds (a bounded number of event-loop turns, no clock). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn > 10_000) throw new Error(`never happened: ${what}`);
    await immediate();
  }
}

describe('SinkOutbox', () => {
  it('delivers every batch once, in order, with its rows and sink columns, retrying with growing backoff', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.failuresLeft = 3;
    const { outbox, waits } = outboxOf(store, { ipfix: sink });
    for (const [t, n] of [
      ['a', 2],
      ['b', 3],
      ['c', 1],
    ] as const)
      await outbox.append(t, rows(n));
    expect(await settle(outbox)).toBe(true);
    expect(sink.tokens).toEqual(['a', 'b', 'c']);
    expect(sink.received[1]!.rows).toHaveLength(3);
    expect(sink.received[1]!.rows[2]).toMatchObject({
      exportSeq: 3,
      ...sinkOnlyColumnsOf(sampleFlow()),
    });
    expect(waits).toEqual([51, 101, 201]);
    expect(outbox.stats('ipfix')).toEqual({
      batchesSent: 3,
      rowsSent: 6,
      retries: 3,
      batchesDropped: 0,
      rowsDropped: 0,
      queuedBatches: 0,
      queuedRows: 0,
      backlogAgeSeconds: 0,
    });
    expect([...store.entries.keys()]).toEqual([]); // delivered entries are deleted
    expect(store.cursors.get('ipfix')).toMatchObject({ seq: 3, row: 6 });
  });

  it('a new outbox on the same store (a restarted exporter) delivers what the old one left', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.down = true;
    const first = outboxOf(store, { ipfix: sink }).outbox;
    await first.append('a', rows(2)); // resolves while the sink is down: append never waits on it
    await first.append('b', rows(2));
    await until(() => first.stats('ipfix').retries >= 2, 'retries');
    first.stop(); // the container goes away with both batches undelivered, holding the sink's lease
    await settle(first);
    expect(sink.tokens).toEqual([]);

    sink.down = false;
    let now = 0;
    const second = outboxOf(store, { ipfix: sink }, { clock: () => now }).outbox;
    second.resume();
    await until(() => second.stats('ipfix').queuedBatches === 2, 'the backlog seen');
    expect(await settle(second)).toBe(true); // the sink is the lease holder's to deliver
    expect(sink.tokens).toEqual([]);
    now = DELIVERY_LEASE_MS + 1; // the vanished holder's lease runs out: the next drain takes it over
    expect(await settle(second)).toBe(true);
    await until(() => second.stats('ipfix').queuedBatches === 0 && sink.tokens.length === 2, 'delivery');
    await second.append('c', rows(1));
    expect(await settle(second)).toBe(true);
    expect(sink.tokens).toEqual(['a', 'b', 'c']);
    expect(store.entries.size).toBe(0);
  });

  it('two containers at once: one delivers while it holds the lease, each batch once; the other takes over after', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    const now = 0;
    const a = outboxOf(store, { ipfix: sink }, { clock: () => now, owner: 'a' }).outbox;
    const b = outboxOf(store, { ipfix: sink }, { clock: () => now, owner: 'b' }).outbox;
    // Both append and run their workers on the same log at the same moments, as two stream shards'
    // exporters do; whichever takes the lease first delivers everything.
    await Promise.all([a.append('a1', rows(1)), b.append('b1', rows(1))]);
    await Promise.all([a.append('a2', rows(1)), b.append('b2', rows(1))]);
    await Promise.all([settle(a), settle(b)]);
    await until(() => sink.tokens.length === 4, 'delivery');
    expect([...sink.tokens].sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    const sent = a.stats('ipfix').batchesSent + b.stats('ipfix').batchesSent;
    expect(sent).toBe(4);
    expect([a, b].filter((o) => o.stats('ipfix').batchesSent > 0)).toHaveLength(1);

    // Drained, the holder gave the lease up: the other container delivers its next batch at once.
    const holder = a.stats('ipfix').batchesSent > 0 ? a : b;
    const other = holder === a ? b : a;
    expect(store.leases.get('ipfix')!.untilMs).toBeLessThan(now);
    await other.append('c', rows(1));
    expect(await settle(other)).toBe(true);
    expect(sink.tokens.at(-1)).toBe('c');
    expect(other.stats('ipfix').batchesSent).toBe(1);

    // While a holder keeps the lease (its sink down, retrying), the other leaves the sink to it.
    sink.down = true;
    await holder.append('d', rows(1));
    await until(() => holder.stats('ipfix').retries >= 1, 'retries');
    expect(store.leases.get('ipfix')!.owner).toBe(holder === a ? 'a' : 'b');
    await other.append('e', rows(1));
    expect(await settle(other)).toBe(true); // held elsewhere: not this container's to deliver
    expect(other.stats('ipfix').queuedBatches).toBe(2);
    sink.down = false;
    expect(await settle(holder)).toBe(true);
    expect(sink.tokens.slice(-2)).toEqual(['d', 'e']);
    expect(sink.tokens).toHaveLength(7);
  });

  it('a new outbox whose first read of the positions fails keeps trying; drain waits for it', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.down = true;
    const first = outboxOf(store, { ipfix: sink }).outbox;
    await first.append('a', rows(2));
    first.stop();
    await settle(first);

    sink.down = false;
    let failedReads = 0;
    store.beforeOperation = (op) => {
      if (op === 'positions' && failedReads++ < 3) throw new Error('throttled');
    };
    const storeErrors: string[] = [];
    const second = outboxOf(
      store,
      { ipfix: sink },
      { onStoreError: (_, doing) => storeErrors.push(doing), clock: () => DELIVERY_LEASE_MS + 1 },
    );
    second.outbox.resume(); // no append follows: the backlog is delivered all the same
    expect(await settle(second.outbox)).toBe(true);
    expect(sink.tokens).toEqual(['a']);
    expect(storeErrors).toEqual(Array(3).fill('reading the outbox positions'));
    expect(second.waits).toEqual([51, 101, 201]);
  });

  it('a warm container with an old head appends after the entries another container appended since', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.down = true;
    const first = outboxOf(store, { ipfix: sink }).outbox;
    await first.append('a', rows(1));
    // The next invocation runs in a new container; the one after it in the first one again (warm).
    const second = outboxOf(store, { ipfix: sink }).outbox;
    second.resume();
    await second.append('b', rows(1));
    await first.append('c', rows(1));
    expect([...store.entries.values()].map((e) => e.token)).toEqual(['a', 'b', 'c']);
    sink.down = false;
    expect(await settle(first)).toBe(true);
    expect(await settle(second)).toBe(true);
    expect(new Set(sink.tokens)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('an append that fails after finding entries another container left still delivers them', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    const warm = outboxOf(store, { ipfix: sink }).outbox;
    await warm.append('a', rows(1));
    expect(await settle(warm)).toBe(true);
    const other = outboxOf(store, { ipfix: sink }).outbox;
    other.stop(); // appends 'b', then is recycled before delivering it
    await other.append('b', rows(1));
    store.beforeOperation = (op) => {
      if (op === 'append') throw new Error('DynamoDB unavailable');
    };
    await expect(warm.append('c', rows(1))).rejects.toThrow('DynamoDB unavailable');
    store.beforeOperation = () => {};
    expect(await settle(warm)).toBe(true);
    expect(sink.tokens).toEqual(['a', 'b']);
  });

  it('an entry stays until every sink has it; one sink down does not hold back the other', async () => {
    const store = new MemoryOutboxStore();
    const [up, down] = [new FlakySink(), new FlakySink()];
    down.down = true;
    const { outbox } = outboxOf(store, { ipfix: up, archive: down });
    await outbox.append('a', rows(1));
    await outbox.append('b', rows(1));
    await until(() => up.tokens.length === 2 && outbox.stats('archive').retries > 0, 'the first sink');
    expect([...store.entries.keys()]).toEqual([0, 1]);
    expect(outbox.stats('archive')).toMatchObject({ queuedBatches: 2, queuedRows: 2 });
    down.down = false;
    expect(await settle(outbox)).toBe(true);
    expect(down.tokens).toEqual(['a', 'b']);
    expect(store.entries.size).toBe(0);
  });

  it('over its bound a sink drops its oldest entries (counted, reported), never the newest, and catches up', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.down = true;
    const dropped: Array<{ sink: string; token: string | undefined; rows: number }> = [];
    const { outbox } = outboxOf(
      store,
      { ipfix: sink },
      {
        maxQueuedRows: 10,
        backoffBaseMs: 1,
        backoffCapMs: 1,
        onDrop: (name, d) => dropped.push({ sink: name, token: d.token, rows: d.rows }),
      },
    );
    for (const t of ['a', 'b', 'c', 'd']) await outbox.append(t, rows(4));
    await until(() => outbox.stats('ipfix').queuedRows <= 10, 'the backlog back within its bound');
    expect(dropped).toEqual([
      { sink: 'ipfix', token: 'a', rows: 4 },
      { sink: 'ipfix', token: 'b', rows: 4 },
    ]);
    expect(outbox.stats('ipfix')).toMatchObject({
      batchesDropped: 2,
      rowsDropped: 8,
      queuedRows: 8,
      queuedBatches: 2,
    });
    expect([...store.entries.keys()]).toEqual([2, 3]); // the dropped entries are gone from the table too
    sink.down = false;
    expect(await settle(outbox)).toBe(true);
    expect(sink.tokens).toEqual(['c', 'd']);

    // A single batch above the bound is the newest: it is kept and delivered.
    await outbox.append('big', rows(12));
    expect(await settle(outbox)).toBe(true);
    expect(sink.tokens.at(-1)).toBe('big');
  });

  it('a drop whose cursor write failed or lost its answer is counted once', async () => {
    for (const lost of ['before', 'after'] as const) {
      const store = new MemoryOutboxStore();
      const sink = new FlakySink();
      sink.down = true;
      const dropped: Array<string | undefined> = [];
      const { outbox } = outboxOf(
        store,
        { ipfix: sink },
        { maxQueuedRows: 4, backoffBaseMs: 1, backoffCapMs: 1, onDrop: (_, d) => dropped.push(d.token) },
      );
      await outbox.append('a', rows(4));
      await until(() => outbox.stats('ipfix').retries > 0, 'a failed delivery');
      // Each drop's cursor write fails once: before it is stored, or stored with its answer lost.
      const failed = new Set<number>();
      const hook = () => {
        const seq = store.cursors.get('ipfix')!.seq;
        if (!failed.has(seq)) {
          failed.add(seq);
          throw new Error('cursor write lost');
        }
      };
      const moves = (op: string) => op === 'moveCursor';
      if (lost === 'before') store.beforeOperation = (op) => moves(op) && hook();
      else store.afterOperation = (op) => moves(op) && hook();
      await outbox.append('b', rows(4));
      await outbox.append('c', rows(4));
      await until(
        () => outbox.stats('ipfix').queuedBatches === 1,
        `${lost}: the backlog back within its bound`,
      );
      expect(dropped).toEqual(['a', 'b']);
      expect(outbox.stats('ipfix')).toMatchObject({ batchesDropped: 2, rowsDropped: 8 });
      store.beforeOperation = () => {};
      store.afterOperation = () => {};
      sink.down = false;
      expect(await settle(outbox)).toBe(true);
      expect(sink.tokens).toEqual(['c']);
    }
  });

  it('a lost cursor write does not send the batch again; a failed append is refused to the exporter', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    const { outbox } = outboxOf(store, { ipfix: sink });
    let failMoves = 1;
    store.beforeOperation = (op) => {
      if (op === 'moveCursor' && store.cursors.has('ipfix') && failMoves-- > 0) throw new Error('throttled');
    };
    await outbox.append('a', rows(1));
    expect(await settle(outbox)).toBe(true);
    expect(sink.tokens).toEqual(['a']);
    expect(outbox.stats('ipfix')).toMatchObject({ batchesSent: 1, retries: 0, queuedBatches: 0 });

    store.beforeOperation = (op) => {
      if (op === 'append') throw new Error('DynamoDB unavailable');
    };
    await expect(outbox.append('b', rows(1))).rejects.toThrow('DynamoDB unavailable');
    store.beforeOperation = () => {};
    await outbox.append('c', rows(1)); // a failed append does not block the next
    expect(await settle(outbox)).toBe(true);
    expect(sink.tokens).toEqual(['a', 'c']);
  });

  it('sent + dropped + queued = appended, whatever the failures (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.integer({ min: 1, max: 20 }),
        async (steps, bound) => {
          const store = new MemoryOutboxStore();
          const sink = new FlakySink();
          let now = 0;
          const options = { maxQueuedRows: bound, backoffBaseMs: 1, backoffCapMs: 1, clock: () => now };
          let outbox = outboxOf(store, { ipfix: sink }, options).outbox;
          let appended = 0;
          const totals = { rowsSent: 0, rowsDropped: 0, batchesDropped: 0 };
          const absorb = (o: SinkOutbox) => {
            const s = o.stats('ipfix');
            totals.rowsSent += s.rowsSent;
            totals.rowsDropped += s.rowsDropped;
            totals.batchesDropped += s.batchesDropped;
          };
          for (const [i, [n, fail, restart]] of steps.entries()) {
            sink.down = fail;
            if (restart) {
              outbox.stop();
              await settle(outbox);
              absorb(outbox);
              now += DELIVERY_LEASE_MS + 1; // the stopped container's lease runs out
              outbox = outboxOf(store, { ipfix: sink }, options).outbox;
            }
            await outbox.append(`t${i}`, rows(n));
            appended += n;
            await immediate();
          }
          sink.down = false;
          expect(await settle(outbox)).toBe(true);
          absorb(outbox);
          // At least once: a stopped outbox may have delivered a batch whose cursor move it never made.
          expect(totals.rowsSent + totals.rowsDropped).toBeGreaterThanOrEqual(appended);
          expect(sink.received.reduce((n, b) => n + b.rows.length, 0)).toBe(totals.rowsSent);
          // Every batch was delivered or dropped; only the newest can never be dropped.
          expect(new Set(sink.tokens).size + totals.batchesDropped).toBeGreaterThanOrEqual(steps.length);
          expect(sink.tokens).toContain(`t${steps.length - 1}`);
          expect(store.entries.size).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('drain gives up at its deadline when the sink stays down', async () => {
    const store = new MemoryOutboxStore();
    const sink = new FlakySink();
    sink.down = true;
    const { outbox } = outboxOf(store, { ipfix: sink }, { clock: () => 90_000 });
    await outbox.append('a', rows(1));
    let now = 0;
    expect(await outbox.drain(5, () => now++)).toBe(false);
    expect(outbox.stats('ipfix')).toMatchObject({ queuedBatches: 1, backlogAgeSeconds: 0 });
  });
});
