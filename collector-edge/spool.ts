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
// Durability (fsync policy): entries are written with a synchronous write(2) before they become sendable,
// so a killed process (SIGKILL, OOM) loses nothing: the data is in the kernel page cache. Against power
// loss the active segment is fdatasync'ed every `fsyncIntervalMs` (default 1 s; 0 = after every append)
// and on close/rotation, and the directory is fsync'ed when a segment is created. Ack files are never
// fsync'ed: losing an ack only means re-sending.
//
// Recovery: at startup every segment is read in id order; entries whose CRC fails or that were torn by a
// crash end that segment (the file is cut there and the loss counted); acknowledged ids are skipped; the
// rest is sent again, oldest first, before new data. Duplicates are bounded to the Kinesis records that
// were in flight (acknowledged by Kinesis but not yet in the ack file) when the process died; the
// correlator's idempotent writes absorb them.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SealedBatch } from './packer.ts';

const ENTRY_HEADER_BYTES = 8;
const SEGMENT_PATTERN = /^segment-(\d{16})\.spool$/;

interface Segment {
  firstId: number;
  path: string;
  ackPath: string;
  fd?: number;
  ackFd?: number;
  bytes: number;
  unacked: number;
  closed: boolean;
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
  /** Called for every corrupt or torn entry found at startup. */
  onCorrupt?: (path: string, offset: number, reason: string) => void;
}

export class Spool {
  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private nextId = 1;
  private dirty = false;
  private totalBytes = 0;
  private fsyncTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: SpoolOptions) {}

  /** Opens (creating if needed) the spool directory and returns the unacknowledged entries, oldest first. */
  static open(options: SpoolOptions): { spool: Spool; recovered: SpoolEntry[] } {
    mkdirSync(options.dir, { recursive: true });
    const spool = new Spool(options);
    const recovered = spool.recover();
    if (options.fsyncIntervalMs > 0) {
      spool.fsyncTimer = setInterval(() => spool.sync(), options.fsyncIntervalMs);
      spool.fsyncTimer.unref();
    }
    return { spool, recovered };
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
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
      const segment: Segment = { firstId, path, ackPath, bytes: 0, unacked: 0, closed: true };
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

  /** Appends a sealed batch; when this returns, the entry survives a process crash. */
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
    const written = writevSync(segment.fd!, [meta, batch.data]);
    if (written !== meta.length + batch.data.length) throw new Error(`short write to ${segment.path}`);
    const entry: SpoolEntry = {
      id,
      segment,
      dataOffset: segment.bytes + meta.length,
      dataLength: batch.data.length,
      partitionKey: batch.partitionKey,
      ...(batch.explicitHashKey ? { explicitHashKey: batch.explicitHashKey } : {}),
      recordCount: batch.recordCount,
    };
    segment.bytes += written;
    segment.unacked++;
    this.totalBytes += written;
    this.dirty = true;
    if (this.options.fsyncIntervalMs === 0) this.sync();
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
    segment.ackFd ??= openSync(segment.ackPath, 'a');
    writeSync(segment.ackFd, record);
    segment.unacked--;
    if (segment.unacked === 0 && segment.closed) this.drop(segment);
  }

  /** fdatasync of the active segment if it has unsynced appends. */
  sync(): void {
    if (!this.dirty || this.active?.fd === undefined) return;
    fdatasyncSync(this.active.fd);
    this.dirty = false;
  }

  close(): void {
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    this.sync();
    for (const segment of [...this.segments]) {
      segment.closed = true;
      if (segment.unacked === 0) this.drop(segment);
      else this.closeFds(segment);
    }
    this.active = undefined;
  }

  private rotate(): void {
    if (this.active) {
      this.sync();
      this.active.closed = true;
      if (this.active.unacked === 0) this.drop(this.active);
      else if (this.active.fd !== undefined) {
        closeSync(this.active.fd);
        delete this.active.fd;
      }
    }
    const firstId = this.nextId;
    const path = join(this.options.dir, `segment-${String(firstId).padStart(16, '0')}.spool`);
    const segment: Segment = {
      firstId,
      path,
      ackPath: path.replace(/\.spool$/, '.acks'),
      fd: openSync(path, 'a+'),
      bytes: 0,
      unacked: 0,
      closed: false,
    };
    this.segments.push(segment);
    this.active = segment;
    const dirFd = openSync(this.options.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  private drop(segment: Segment): void {
    this.closeFds(segment);
    this.removeFiles(segment);
    const index = this.segments.indexOf(segment);
    if (index >= 0) this.segments.splice(index, 1);
    this.totalBytes -= segment.bytes;
    if (this.active === segment) this.active = undefined;
  }

  private closeFds(segment: Segment): void {
    if (segment.fd !== undefined) closeSync(segment.fd);
    if (segment.ackFd !== undefined) closeSync(segment.ackFd);
    delete segment.fd;
    delete segment.ackFd;
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
