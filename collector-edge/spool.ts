// The disk spool: a write-ahead log of sealed Kinesis records, so nothing accepted is lost when Kinesis is
// slow or down or the process dies.
//
// Layout: a directory of append-only segment files `segment-<first id>.spool`; each entry is
//   u32 body length | u32 CRC-32 of the body | body
//   body = u32 id high | u32 id low | u32 flow-record count | u16 partition-key length | partition key
//          | u8 explicit-hash-key length | explicit hash key (decimal) | wire-format data
// Next to it `segment-<first id>.acks` lists (as u32 high, u32 low) the ids Kinesis has acknowledged. A
// segment is deleted once it is closed and every entry in it is acknowledged.
//
// Durability (fsync policy), without ever waiting on the disk on the main thread: append() reserves the
// entry's place and returns at once; one writer at a time (libuv's thread pool, through the file-system
// port) writes every entry appended meanwhile with one writev (group commit), and only then reports the
// entries committed: that is when they become sendable (DeliveryQueue), as before this was asynchronous.
// A killed process (SIGKILL, OOM) loses nothing committed: the data is in the kernel page cache. Against
// power loss the active segment is fdatasync'ed every `fsyncIntervalMs` (default 1 s, beside the writer, so a
// slow sync never holds back the next write; 0 = before entries are reported committed, one fdatasync for
// the whole group), when a segment is closed, and the directory is
// fsync'ed when a segment is created. Ack files are never fsync'ed: losing an ack only means re-sending.
// Group commit: each pass of the writer starts `groupCommitMs` after the first entry or acknowledgement it has
// to write (at once past GROUP_COMMIT_BYTES, on flushed() and close()). Each asynchronous file call costs tens
// of microseconds of CPU in the thread-pool hand-off; at full rate a write per sealed batch and another per
// acknowledgement cost the collector about a sixth of its CPU (docs/collector-performance.md).
// Entries appended but not yet committed are held in memory (`unwrittenBytes`), like records in open batches.
//
// Recovery: at startup every segment is read in id order; entries whose CRC fails or that were torn by a
// crash end that segment (the file is cut there and the loss counted); acknowledged ids are skipped; the
// rest is sent again, oldest first, before new data. Duplicates are bounded to the Kinesis records that
// were in flight (acknowledged by Kinesis but not yet in the ack file) when the process died; the
// correlator's idempotent writes absorb them.
import * as fs from 'node:fs';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import type { SealedBatch } from './packer.ts';

const ENTRY_HEADER_BYTES = 8;
const SEGMENT_PATTERN = /^segment-(\d{16})\.spool$/;
/** Unwritten bytes that start the writer at once, without waiting out groupCommitMs. */
export const GROUP_COMMIT_BYTES = 1024 * 1024;

/** Buffers per writev (two per entry), well below IOV_MAX (1024 on Linux). */
const MAX_WRITE_BUFFERS = 512;

/** The file operations the spool's writer runs off the main thread (node:fs; tests inject slow ones). */
export interface SpoolFileSystem {
  open(
    path: string,
    flags: string,
    callback: (error: NodeJS.ErrnoException | null, fd: number) => void,
  ): void;
  writev(
    fd: number,
    buffers: readonly NodeJS.ArrayBufferView[],
    callback: (error: NodeJS.ErrnoException | null, written: number) => void,
  ): void;
  fdatasync(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void;
  fsync(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void;
  close(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void;
  unlink(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void;
}

export const nodeSpoolFileSystem: SpoolFileSystem = {
  open: (path, flags, callback) => fs.open(path, flags, callback),
  writev: (fd, buffers, callback) => fs.writev(fd, buffers, callback),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
  fsync: (fd, callback) => fs.fsync(fd, callback),
  close: (fd, callback) => fs.close(fd, callback),
  unlink: (path, callback) => fs.unlink(path, callback),
};

interface Segment {
  firstId: number;
  path: string;
  ackPath: string;
  fd?: number;
  ackFd?: number;
  /** Bytes reserved (appended entries, written or not). */
  bytes: number;
  unacked: number;
  /** No more appends go here. */
  closed: boolean;
  /** Written since its last fdatasync. */
  dirty: boolean;
  /** Closed, every entry written, fdatasync'ed and its data file descriptor closed. */
  retired: boolean;
  /** Ack records waiting for the writer. */
  acks: Buffer[];
  /** A write to it failed: later entries reserved in it are lost too (their offsets assumed the write). */
  failed?: unknown;
}

export interface SpoolEntry {
  readonly id: number;
  readonly segment: Segment;
  readonly dataOffset: number;
  readonly dataLength: number;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly recordCount: number;
}

export interface SpoolOptions {
  dir: string;
  segmentBytes: number;
  fsyncIntervalMs: number;
  /** How long the writer gathers entries and acknowledgements before a write (default 0: at once). */
  groupCommitMs?: number;
  /** Called for every corrupt or torn entry found at startup. */
  onCorrupt?: (path: string, offset: number, reason: string) => void;
  /** File operations of the writer (default node:fs, run on libuv's thread pool). */
  fileSystem?: SpoolFileSystem;
}

/** What the writer reports: entries written (and synced if fsyncIntervalMs is 0), or lost to an I/O error. */
export interface SpoolListener {
  committed(entries: SpoolEntry[]): void;
  failed(entries: SpoolEntry[], error: unknown): void;
}

interface Unwritten {
  entry: SpoolEntry;
  meta: Buffer;
  data: Buffer;
}

export class Spool {
  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private nextId = 1;
  private totalBytes = 0;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private readonly io: {
    open: (path: string, flags: string) => Promise<number>;
    writev: (fd: number, buffers: readonly NodeJS.ArrayBufferView[]) => Promise<number>;
    fdatasync: (fd: number) => Promise<void>;
    fsync: (fd: number) => Promise<void>;
    close: (fd: number) => Promise<void>;
    unlink: (path: string) => Promise<void>;
  };
  /** Appended, not yet handed to the writer, oldest first. */
  private unwritten: Unwritten[] = [];
  private unwrittenByteCount = 0;
  private unwrittenRecordCount = 0;
  /** Segments created and not yet opened (the writer opens them and fsyncs the directory). */
  private readonly toRemove: Segment[] = [];
  private writing: Promise<void> | undefined;
  /** The writer's delayed start (groupCommitMs), while it gathers work. */
  private writerTimer: NodeJS.Timeout | undefined;
  /** The periodic fdatasync in progress (fsyncIntervalMs > 0), beside the writer. */
  private syncing: Promise<void> | undefined;
  private listener: SpoolListener | undefined;

  private constructor(private readonly options: SpoolOptions) {
    const fileSystem = options.fileSystem ?? nodeSpoolFileSystem;
    this.io = {
      open: promisify(fileSystem.open.bind(fileSystem)),
      writev: promisify(fileSystem.writev.bind(fileSystem)),
      fdatasync: promisify(fileSystem.fdatasync.bind(fileSystem)),
      fsync: promisify(fileSystem.fsync.bind(fileSystem)),
      close: promisify(fileSystem.close.bind(fileSystem)),
      unlink: promisify(fileSystem.unlink.bind(fileSystem)),
    };
  }

  /** Opens (creating if needed) the spool directory and returns the unacknowledged entries, oldest first. */
  static open(options: SpoolOptions): { spool: Spool; recovered: SpoolEntry[] } {
    mkdirSync(options.dir, { recursive: true });
    const spool = new Spool(options);
    const recovered = spool.recover();
    if (options.fsyncIntervalMs > 0) {
      spool.fsyncTimer = setInterval(() => spool.startSync(), options.fsyncIntervalMs);
      spool.fsyncTimer.unref();
    }
    return { spool, recovered };
  }

  /** Where committed and failed entries are reported (the delivery queue). */
  setListener(listener: SpoolListener): void {
    this.listener = listener;
  }

  /** Bytes of all segments, unwritten entries included. */
  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes appended and not yet committed (held in memory until the writer has written them). */
  get unwrittenBytes(): number {
    return this.unwrittenByteCount;
  }

  /** Flow records in entries appended and not yet committed (what a crash now would lose). */
  get unwrittenRecords(): number {
    return this.unwrittenRecordCount;
  }

  private recover(): SpoolEntry[] {
    const names = readdirSync(this.options.dir)
      .filter((n) => SEGMENT_PATTERN.test(n))
      .sort();
    const recovered: SpoolEntry[] = [];
    for (const name of names) {
      const firstId = Number(SEGMENT_PATTERN.exec(name)![1]);
      const path = join(this.options.dir, name);
      const ackPath = path.replace(/\.spool$/, '.acks');
      const acked = new Set<number>();
      if (existsSync(ackPath)) {
        const acks = readFileSync(ackPath);
        for (let o = 0; o + 8 <= acks.length; o += 8)
          acked.add(acks.readUInt32BE(o) * 2 ** 32 + acks.readUInt32BE(o + 4));
      }
      const segment: Segment = {
        firstId,
        path,
        ackPath,
        bytes: 0,
        unacked: 0,
        closed: true,
        dirty: false,
        retired: true,
        acks: [],
      };
      const content = readFileSync(path);
      let offset = 0;
      while (offset < content.length) {
        const problem = this.checkEntry(content, offset);
        if (problem) {
          this.options.onCorrupt?.(path, offset, problem);
          const fd = openSync(path, 'r+');
          ftruncateSync(fd, offset);
          closeSync(fd);
          break;
        }
        const bodyLength = content.readUInt32BE(offset);
        const entry = this.parseEntry(segment, content, offset);
        this.nextId = Math.max(this.nextId, entry.id + 1);
        if (!acked.has(entry.id)) {
          segment.unacked++;
          recovered.push(entry);
        }
        offset += ENTRY_HEADER_BYTES + bodyLength;
      }
      for (const id of acked) this.nextId = Math.max(this.nextId, id + 1);
      segment.bytes = offset;
      if (segment.unacked === 0) {
        this.removeFiles(segment);
        continue;
      }
      this.segments.push(segment);
      this.totalBytes += segment.bytes;
    }
    return recovered;
  }

  private checkEntry(content: Buffer, offset: number): string | undefined {
    if (content.length - offset < ENTRY_HEADER_BYTES) return 'torn entry header';
    const bodyLength = content.readUInt32BE(offset);
    if (bodyLength < 16 || content.length - offset - ENTRY_HEADER_BYTES < bodyLength)
      return 'torn entry body';
    const body = content.subarray(offset + ENTRY_HEADER_BYTES, offset + ENTRY_HEADER_BYTES + bodyLength);
    if (crc32(body) !== content.readUInt32BE(offset + 4)) return 'CRC mismatch';
    const keyLength = body.readUInt16BE(12);
    if (14 + keyLength + 1 > body.length || 15 + keyLength + body[14 + keyLength]! > body.length)
      return 'bad key lengths';
    return undefined;
  }

  private parseEntry(segment: Segment, content: Buffer, offset: number): SpoolEntry {
    const bodyStart = offset + ENTRY_HEADER_BYTES;
    const bodyLength = content.readUInt32BE(offset);
    const id = content.readUInt32BE(bodyStart) * 2 ** 32 + content.readUInt32BE(bodyStart + 4);
    const recordCount = content.readUInt32BE(bodyStart + 8);
    const keyLength = content.readUInt16BE(bodyStart + 12);
    const partitionKey = content.toString('utf8', bodyStart + 14, bodyStart + 14 + keyLength);
    const hashLength = content[bodyStart + 14 + keyLength]!;
    const hashStart = bodyStart + 15 + keyLength;
    const explicitHashKey = content.toString('latin1', hashStart, hashStart + hashLength);
    const dataOffset = hashStart + hashLength;
    return {
      id,
      segment,
      dataOffset,
      dataLength: bodyStart + bodyLength - dataOffset,
      partitionKey,
      ...(hashLength > 0 ? { explicitHashKey } : {}),
      recordCount,
    };
  }

  /**
   * Reserves a sealed batch's place in the spool and hands it to the writer; returns at once. The entry is
   * reported committed (listener) once it is written, and fdatasync'ed too when fsyncIntervalMs is 0.
   */
  append(batch: SealedBatch): SpoolEntry {
    if (!this.active || this.active.bytes >= this.options.segmentBytes) this.rotate();
    const segment = this.active!;
    const key = Buffer.from(batch.partitionKey, 'utf8');
    const hashKey = Buffer.from(batch.explicitHashKey ?? '', 'latin1');
    const id = this.nextId++;
    const meta = Buffer.allocUnsafe(8 + 12 + 2 + key.length + 1 + hashKey.length);
    const bodyLength = meta.length - 8 + batch.data.length;
    meta.writeUInt32BE(bodyLength, 0);
    meta.writeUInt32BE(Math.floor(id / 2 ** 32), 8);
    meta.writeUInt32BE(id >>> 0, 12);
    meta.writeUInt32BE(batch.recordCount, 16);
    meta.writeUInt16BE(key.length, 20);
    key.copy(meta, 22);
    meta[22 + key.length] = hashKey.length;
    hashKey.copy(meta, 23 + key.length);
    meta.writeUInt32BE(crc32(batch.data, crc32(meta.subarray(8))), 4);
    const entry: SpoolEntry = {
      id,
      segment,
      dataOffset: segment.bytes + meta.length,
      dataLength: batch.data.length,
      partitionKey: batch.partitionKey,
      ...(batch.explicitHashKey ? { explicitHashKey: batch.explicitHashKey } : {}),
      recordCount: batch.recordCount,
    };
    const size = meta.length + batch.data.length;
    segment.bytes += size;
    segment.unacked++;
    this.totalBytes += size;
    this.unwritten.push({ entry, meta, data: batch.data });
    this.unwrittenByteCount += size;
    this.unwrittenRecordCount += batch.recordCount;
    this.startWriter();
    return entry;
  }

  readData(entry: SpoolEntry): Buffer {
    const data = Buffer.allocUnsafe(entry.dataLength);
    const fd = entry.segment.fd ?? openSync(entry.segment.path, 'r');
    try {
      const read = readSync(fd, data, 0, entry.dataLength, entry.dataOffset);
      if (read !== entry.dataLength) throw new Error(`short read from ${entry.segment.path}`);
    } finally {
      if (entry.segment.fd === undefined) closeSync(fd);
    }
    return data;
  }

  /** Records that Kinesis acknowledged the entry; deletes its segment when nothing in it is left. */
  ack(entry: SpoolEntry): void {
    const segment = entry.segment;
    const record = Buffer.allocUnsafe(8);
    record.writeUInt32BE(Math.floor(entry.id / 2 ** 32), 0);
    record.writeUInt32BE(entry.id >>> 0, 4);
    segment.acks.push(record);
    segment.unacked--;
    if (segment.unacked === 0 && segment.retired) this.drop(segment);
    this.startWriter();
  }

  /** Resolves when everything appended and acknowledged so far is written (not necessarily synced). */
  async flushed(): Promise<void> {
    for (;;) {
      if (this.writing) await this.writing;
      else if (this.hasWriterWork()) this.startWriterNow();
      else return;
    }
  }

  /** Writes what is left, fdatasyncs and closes every file; fully acknowledged segments are deleted. */
  async close(): Promise<void> {
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    for (const segment of this.segments) segment.closed = true;
    this.active = undefined;
    this.startWriterNow();
    await this.flushed();
  }

  /**
   * Starts the writer after the group-commit window (it picks up everything that arrived meanwhile), or at
   * once without a window or with GROUP_COMMIT_BYTES waiting.
   */
  private startWriter(): void {
    if (this.writing) return;
    const delayMs = this.options.groupCommitMs ?? 0;
    if (delayMs <= 0 || this.unwrittenByteCount >= GROUP_COMMIT_BYTES) this.startWriterNow();
    else this.writerTimer ??= setTimeout(() => this.startWriterNow(), delayMs);
  }

  private startWriterNow(): void {
    if (this.writerTimer) {
      clearTimeout(this.writerTimer);
      this.writerTimer = undefined;
    }
    if (this.writing) return;
    this.writing = this.runWriter().finally(() => {
      this.writing = undefined;
      if (this.hasWriterWork()) this.startWriter();
    });
  }

  private hasWriterWork(): boolean {
    return (
      this.unwritten.length > 0 ||
      this.toRemove.length > 0 ||
      this.segments.some((s) => s.acks.length > 0 || (s.closed && !s.retired))
    );
  }

  /**
   * One pass of the writer (one at a time): everything appended and acknowledged since the last pass (group
   * commit). Work that arrives meanwhile waits for the next pass, after the group-commit window again.
   */
  private async runWriter(): Promise<void> {
    const group = this.unwritten;
    this.unwritten = [];
    let committed = await this.writeEntries(group);
    // With fsync-every-append, entries are committed once synced. Otherwise written is committed (a
    // killed process loses nothing in the page cache) and the periodic sync runs beside the writer.
    if (this.options.fsyncIntervalMs === 0) {
      try {
        await this.syncDirty();
      } catch (error) {
        // Written but maybe not durable: not reported committed (they are still in the file, so a
        // restart may send them: a duplicate at worst, never a loss).
        this.fail(committed, error);
        committed = [];
      }
    }
    for (const item of group) {
      this.unwrittenByteCount -= item.meta.length + item.data.length;
      this.unwrittenRecordCount -= item.entry.recordCount;
    }
    if (committed.length > 0) this.listener?.committed(committed);
    // Ack files, closing and deleting segments: an error here loses nothing (an ack lost means a resend).
    try {
      await this.writeAcks();
      await this.retireClosed();
      await this.removeDropped();
    } catch (error) {
      this.listener?.failed([], error);
    }
  }

  /**
   * Writes entries segment by segment (opening new segments first); returns those written. A failed write
   * loses that entry and every later one of its segment (their offsets assumed it): reported, the segment
   * closed (recovery cuts a torn tail by its CRC).
   */
  private async writeEntries(group: Unwritten[]): Promise<SpoolEntry[]> {
    const written: SpoolEntry[] = [];
    let start = 0;
    while (start < group.length) {
      const segment = group[start]!.entry.segment;
      let end = start;
      while (
        end < group.length &&
        group[end]!.entry.segment === segment &&
        2 * (end - start) < MAX_WRITE_BUFFERS
      )
        end++;
      const part = group.slice(start, end);
      start = end;
      if (segment.failed) {
        this.fail(
          part.map((u) => u.entry),
          segment.failed,
        );
        continue;
      }
      try {
        if (segment.fd === undefined) await this.openSegment(segment);
        const buffers = part.flatMap((u) => [u.meta, u.data]);
        const expected = buffers.reduce((n, b) => n + b.length, 0);
        const count = await this.io.writev(segment.fd!, buffers);
        if (count !== expected) throw new Error(`short write to ${segment.path}`);
        segment.dirty = true;
        written.push(...part.map((u) => u.entry));
      } catch (error) {
        segment.failed = error;
        segment.closed = true;
        if (this.active === segment) this.active = undefined;
        this.fail(
          part.map((u) => u.entry),
          error,
        );
      }
    }
    return written;
  }

  private fail(entries: SpoolEntry[], error: unknown): void {
    for (const entry of entries) entry.segment.unacked--;
    this.listener?.failed(entries, error);
  }

  private async openSegment(segment: Segment): Promise<void> {
    segment.fd = await this.io.open(segment.path, 'a+');
    // The new file's directory entry must survive a power loss as its data does.
    const dirFd = await this.io.open(this.options.dir, 'r');
    try {
      await this.io.fsync(dirFd);
    } finally {
      await this.io.close(dirFd);
    }
  }

  /**
   * The periodic fdatasync against power loss, outside the writer's loop: on a slow disk an fdatasync can
   * take seconds, and while the writer waited on it every new entry stayed in memory, unsendable and lost
   * if the process was killed. Writes go on meanwhile; a write during the sync marks its segment dirty
   * again for the next one.
   */
  private startSync(): void {
    if (this.syncing) return;
    this.syncing = this.syncDirty()
      .catch((error: unknown) => this.listener?.failed([], error))
      .finally(() => {
        this.syncing = undefined;
      });
  }

  /** fdatasync of every segment written since its last one. */
  private async syncDirty(): Promise<void> {
    for (const segment of this.segments) {
      if (!segment.dirty || segment.fd === undefined) continue;
      segment.dirty = false;
      await this.io.fdatasync(segment.fd);
    }
  }

  private async writeAcks(): Promise<void> {
    for (const segment of this.segments) {
      if (segment.acks.length === 0) continue;
      const acks = segment.acks;
      segment.acks = [];
      segment.ackFd ??= await this.io.open(segment.ackPath, 'a');
      await this.io.writev(segment.ackFd, acks);
    }
  }

  /** Closed segments whose entries are all written: fdatasync'ed and closed (dropped if fully acknowledged). */
  private async retireClosed(): Promise<void> {
    for (const segment of [...this.segments]) {
      if (!segment.closed || segment.retired) continue;
      if (this.unwritten.some((u) => u.entry.segment === segment)) continue;
      await this.syncing; // never close a descriptor an fdatasync is using
      const fd = segment.fd;
      const sync = segment.dirty && !segment.failed;
      // Retired before the calls: readData opens its own descriptor from now on, and a failing close is
      // not retried forever.
      delete segment.fd;
      segment.dirty = false;
      segment.retired = true;
      if (segment.unacked === 0) this.drop(segment);
      if (fd !== undefined) {
        try {
          if (sync) await this.io.fdatasync(fd);
        } finally {
          await this.io.close(fd);
        }
      }
    }
  }

  private async removeDropped(): Promise<void> {
    for (const segment of this.toRemove.splice(0)) {
      if (segment.ackFd !== undefined) await this.io.close(segment.ackFd);
      delete segment.ackFd;
      for (const path of [segment.path, segment.ackPath])
        await this.io.unlink(path).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
    }
  }

  private rotate(): void {
    if (this.active) this.active.closed = true;
    const firstId = this.nextId;
    const path = join(this.options.dir, `segment-${String(firstId).padStart(16, '0')}.spool`);
    const segment: Segment = {
      firstId,
      path,
      ackPath: path.replace(/\.spool$/, '.acks'),
      bytes: 0,
      unacked: 0,
      closed: false,
      dirty: false,
      retired: false,
      acks: [],
    };
    this.segments.push(segment);
    this.active = segment;
  }

  /** A retired segment with nothing unacknowledged leaves the spool; the writer deletes its files. */
  private drop(segment: Segment): void {
    const index = this.segments.indexOf(segment);
    if (index < 0) return;
    this.segments.splice(index, 1);
    this.totalBytes -= segment.bytes;
    segment.acks = [];
    this.toRemove.push(segment);
  }

  private removeFiles(segment: Segment): void {
    for (const path of [segment.path, segment.ackPath]) if (existsSync(path)) unlinkSync(path);
  }
}

/** Bytes currently used by spool files in a directory (for tests and diagnostics). */
export function spoolDirectoryBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}
