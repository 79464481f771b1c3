import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { DeliveryQueue } from '../../../collector-edge/delivery-queue.ts';
import type { SealedBatch } from '../../../collector-edge/packer.ts';
import {
  GROUP_COMMIT_BYTES,
  nodeSpoolFileSystem,
  Spool,
  type SpoolFileSystem,
} from '../../../collector-edge/spool.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowline-spool-'));
  dirs.push(dir);
  return dir;
}

function batch(i: number, size = 100): SealedBatch {
  return {
    data: Buffer.alloc(size, i % 251),
    partitionKey: `10.0.0.${i}|10.0.1.1|6|${1000 + i}|80`,
    ...(i % 2 === 0 ? { explicitHashKey: String(BigInt(i) * 12345678901234567890n) } : {}),
    recordCount: i + 1,
  };
}

const open = (dir: string, segmentBytes = 1024) => Spool.open({ dir, segmentBytes, fsyncIntervalMs: 0 });

describe('disk spool', () => {
  test('recovers unacknowledged entries in order, with keys and data; acked segments are deleted', async () => {
    const dir = tempDir();
    const { spool } = open(dir);
    const entries = Array.from({ length: 30 }, (_, i) => spool.append(batch(i)));
    expect(spool.segmentCount).toBeGreaterThan(2);
    await spool.flushed();
    for (const entry of entries.slice(0, 12)) spool.ack(entry);
    spool.ack(entries[20]!); // out of order
    await spool.flushed();
    // no close(): as after SIGKILL
    const { spool: reopened, recovered } = open(dir);
    expect(recovered.map((e) => e.id)).toEqual(
      entries.filter((_, i) => i >= 12 && i !== 20).map((e) => e.id),
    );
    for (const entry of recovered) {
      const i = entry.recordCount - 1;
      expect(entry.partitionKey).toBe(batch(i).partitionKey);
      expect(entry.explicitHashKey).toBe(batch(i).explicitHashKey);
      expect(reopened.readData(entry).equals(batch(i).data)).toBe(true);
    }
    // New ids continue after the old ones.
    expect(reopened.append(batch(99)).id).toBeGreaterThan(entries.at(-1)!.id);
    for (const entry of recovered) reopened.ack(entry);
    await reopened.close();
    const left = readdirSync(dir);
    expect(left.filter((n) => n.endsWith('.spool'))).toHaveLength(1); // only the segment holding batch 99
  });

  test('a torn tail (crash mid-write) and a corrupted entry are cut off and reported', async () => {
    const dir = tempDir();
    const { spool } = open(dir, 1 << 20);
    for (let i = 0; i < 5; i++) spool.append(batch(i));
    await spool.close();
    const [segment] = readdirSync(dir).filter((n) => n.endsWith('.spool'));
    const path = join(dir, segment!);
    appendFileSync(path, Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 9, 9])); // a header and 2 of 256 body bytes
    const corrupt: string[] = [];
    let reopened = Spool.open({
      dir,
      segmentBytes: 1 << 20,
      fsyncIntervalMs: 0,
      onCorrupt: (_, __, r) => corrupt.push(r),
    });
    expect(reopened.recovered).toHaveLength(5);
    expect(corrupt).toEqual(['torn entry body']);
    await reopened.spool.close();
    // Flip a data byte of the third entry: it and everything after it are cut.
    const bytes = readFileSync(path);
    const third = reopened.recovered[2]!;
    bytes[third.dataOffset + 10]! ^= 0xff;
    writeFileSync(path, bytes);
    corrupt.length = 0;
    reopened = Spool.open({
      dir,
      segmentBytes: 1 << 20,
      fsyncIntervalMs: 0,
      onCorrupt: (_, __, r) => corrupt.push(r),
    });
    expect(reopened.recovered).toHaveLength(2);
    expect(corrupt).toEqual(['CRC mismatch']);
    await reopened.spool.close();
  });
});

describe('delivery queue', () => {
  test('oldest first; failed records go back ahead of newer ones; spilled payloads are read from disk', async () => {
    const dir = tempDir();
    const { spool } = open(dir, 1 << 20);
    const queue = new DeliveryQueue(spool, 250); // room for two 100-byte payloads in memory
    for (let i = 0; i < 6; i++) queue.push(batch(i));
    expect(queue.memoryInUse).toBe(200);
    expect(queue.sendable).toBe(0); // not before the spool's writer has written them
    await spool.flushed();
    expect(queue.sendable).toBe(6);
    const first = queue.take(3, 1 << 20);
    expect(first.map((r) => r.entry.recordCount)).toEqual([1, 2, 3]);
    expect(first[2]!.heldInMemory).toBe(false);
    expect(first[2]!.data!.equals(batch(2).data)).toBe(true);
    queue.ack(first[0]!);
    queue.release([first[2]!, first[1]!]);
    const next = queue.take(10, 1 << 20);
    expect(next.map((r) => r.entry.recordCount)).toEqual([2, 3, 4, 5, 6]);
    expect(next[0]!.attempts).toBe(1);
    for (const record of next) queue.ack(record);
    expect(queue.size).toBe(0);
    expect(queue.memoryInUse).toBe(0);
    expect(queue.flowRecords).toBe(0);
  });

  test('take respects the byte limit but always returns at least one record', async () => {
    const dir = tempDir();
    const { spool } = open(dir, 1 << 20);
    const queue = new DeliveryQueue(spool, 1 << 20);
    for (let i = 0; i < 4; i++) queue.push(batch(i, 1000));
    await spool.flushed();
    const keyBytes = Buffer.byteLength(batch(0).partitionKey);
    expect(queue.take(500, 2 * (1000 + keyBytes) + 10)).toHaveLength(2);
    expect(queue.take(500, 10)).toHaveLength(1);
  });
});

describe('spool writer', () => {
  test('a failed write loses its entries and the rest of their segment, reported; later appends go to a new segment', async () => {
    const dir = tempDir();
    let failNext = true;
    const fileSystem: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      writev: (fd, buffers, callback) => {
        if (!failNext) return nodeSpoolFileSystem.writev(fd, buffers, callback);
        failNext = false;
        callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }), 0);
      },
    };
    const { spool } = Spool.open({ dir, segmentBytes: 1 << 20, fsyncIntervalMs: 0, fileSystem });
    const committed: number[] = [];
    const failed: number[] = [];
    spool.setListener({
      committed: (entries) => committed.push(...entries.map((e) => e.id)),
      failed: (entries) => failed.push(...entries.map((e) => e.id)),
    });
    const lost = [spool.append(batch(0)), spool.append(batch(1))]; // one group: the failing write
    await spool.flushed();
    const kept = [spool.append(batch(2)), spool.append(batch(3))];
    await spool.flushed();
    expect(failed).toEqual(lost.map((e) => e.id));
    expect(committed).toEqual(kept.map((e) => e.id));
    expect(kept[0]!.segment).not.toBe(lost[0]!.segment);
    expect(spool.unwrittenBytes).toBe(0);
    await spool.close();
    const { spool: reopened, recovered } = open(dir, 1 << 20);
    expect(recovered.map((e) => e.recordCount)).toEqual([3, 4]);
    await reopened.close();
  });

  test('entries become committed only after their fdatasync when syncing every append', async () => {
    const { syncs, spool, queue } = withHeldSyncs(0);
    queue.push(batch(0));
    await waitUntil(() => syncs.length > 0);
    queue.push(batch(1)); // arrives while the first group's fdatasync is pending
    expect(queue.sendable).toBe(0);
    expect(queue.size).toBe(2);
    syncs.shift()!();
    await waitUntil(() => queue.sendable === 1 && syncs.length > 0);
    syncs.shift()!();
    await spool.flushed();
    expect(queue.sendable).toBe(2);
    await spool.close();
  });

  test('a slow periodic fdatasync does not hold back the next write: new entries become sendable meanwhile', async () => {
    const { dir, syncs, spool, queue } = withHeldSyncs(5);
    queue.push(batch(0));
    await waitUntil(() => syncs.length > 0); // the periodic sync of batch 0's segment, held
    queue.push(batch(1));
    queue.push(batch(2));
    await waitUntil(() => queue.sendable === 3); // written (page cache) while the sync still waits
    expect(spool.unwrittenBytes).toBe(0);
    let closed = false;
    void spool.close().then(() => {
      closed = true;
    });
    while (!closed) {
      syncs.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { spool: reopened, recovered } = open(dir, 1 << 20);
    expect(recovered.map((e) => e.recordCount)).toEqual([1, 2, 3]);
    await reopened.close();
  });

  test('group commit: batches and acknowledgements of one window share a write; flushed() and a full window do not wait', async () => {
    const dir = tempDir();
    const writes: number[] = []; // buffers per writev
    const fileSystem: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      writev: (fd, buffers, callback) => {
        writes.push(buffers.length);
        nodeSpoolFileSystem.writev(fd, buffers, callback);
      },
    };
    // A window no test run outlasts: anything written before flushed() was started by the byte threshold.
    const { spool } = Spool.open({
      dir,
      segmentBytes: 1 << 30,
      fsyncIntervalMs: 0,
      groupCommitMs: 600_000,
      fileSystem,
    });
    const committed: number[] = [];
    spool.setListener({
      committed: (entries) => committed.push(...entries.map((e) => e.id)),
      failed: () => {},
    });

    const small = Array.from({ length: 10 }, (_, i) => spool.append(batch(i)));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([]); // gathering: nothing written yet
    for (const entry of small.slice(0, 3)) spool.ack(entry);
    await spool.flushed(); // does not wait out the window
    expect(committed).toEqual(small.map((e) => e.id));
    // One writev for the ten entries (two buffers each), one for the three acknowledgements.
    expect(writes).toEqual([20, 3]);

    // Four entries of a quarter of GROUP_COMMIT_BYTES (and their headers): the fourth starts the writer.
    const big = Array.from({ length: 4 }, (_, i) => spool.append(batch(20 + i, GROUP_COMMIT_BYTES / 4)));
    await waitUntil(() => committed.length === 10 + big.length);
    expect(writes.at(-1)).toBe(8);
    await spool.close();
    const { spool: reopened, recovered } = open(dir, 1 << 30);
    expect(recovered.map((e) => e.id)).toEqual([...small.slice(3), ...big].map((e) => e.id));
    await reopened.close();
  });
});

/** A spool whose fdatasync calls wait in `syncs` until the test runs them, and its delivery queue. */
function withHeldSyncs(fsyncIntervalMs: number) {
  const dir = tempDir();
  const syncs: Array<() => void> = [];
  const fileSystem: SpoolFileSystem = {
    ...nodeSpoolFileSystem,
    fdatasync: (fd, callback) => syncs.push(() => nodeSpoolFileSystem.fdatasync(fd, callback)),
  };
  const { spool } = Spool.open({ dir, segmentBytes: 1 << 20, fsyncIntervalMs, fileSystem });
  return { dir, syncs, spool, queue: new DeliveryQueue(spool, 1 << 20) };
}

async function waitUntil(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
