// A disk that does not finish an fdatasync while UDP traffic arrives: the collector keeps reading its socket
// (the spool's writer waits, not the receive loop), the kernel drops nothing, nothing reaches Kinesis before
// it is synced (fsync on every append), and once the disk answers every record is delivered exactly once.
// The exporters run in a child process (bench/collector-udp-sender.ts) and send only while the collector's
// socket queue holds less than a quarter of its small receive buffer: a collector that stopped reading
// while the disk is busy would stall them and fail the test, not make it flaky.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createKinesisClient } from '../../adapters/aws-clients.ts';
import { encodeUdpExport, sendAll, startUdpSender } from '../../bench/collector-udp.bench.ts';
import { Collector } from '../../collector-edge/collector.ts';
import { loadCollectorConfig } from '../../collector-edge/config.ts';
import { KinesisStreamSink } from '../../collector-edge/kinesis-sink.ts';
import { createLogger } from '../../collector-edge/log.ts';
import { CollectorMetrics } from '../../collector-edge/metrics.ts';
import { nodeSpoolFileSystem, type SpoolFileSystem } from '../../collector-edge/spool.ts';
import { readUdpDrops } from '../../collector-edge/udp-drops.ts';
import { useEngines } from '../support/engines.ts';
import { createStream, readStream, waitFor } from './collector-support.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const tmp = mkdtempSync(join(tmpdir(), 'flowline-slow-disk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** node:fs, except that fdatasync does not complete until release(): a disk stuck on a flush. */
class StuckSyncFileSystem implements SpoolFileSystem {
  readonly held: Array<() => void> = [];
  syncsCompleted = 0;
  private released = false;
  open = nodeSpoolFileSystem.open;
  writev = nodeSpoolFileSystem.writev;
  fsync = nodeSpoolFileSystem.fsync;
  close = nodeSpoolFileSystem.close;
  unlink = nodeSpoolFileSystem.unlink;

  fdatasync(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void {
    const run = () =>
      fs.fdatasync(fd, (error) => {
        this.syncsCompleted++;
        callback(error);
      });
    if (this.released) run();
    else this.held.push(run);
  }

  release(): void {
    this.released = true;
    for (const run of this.held.splice(0)) run();
  }
}

describe('collector with a slow disk', () => {
  test('UDP datagrams keep being read while fdatasync hangs: no kernel drops, nothing sent unsynced, nothing lost', async () => {
    const kinesis = engines().kinesis;
    const stream = 'slow-disk';
    await createStream(kinesis, stream);
    const disk = new StuckSyncFileSystem();
    const metrics = new CollectorMetrics();
    const collector = await Collector.start(
      loadCollectorConfig({
        FLOWLINE_STREAM_NAME: stream,
        FLOWLINE_LISTEN: 'udp://127.0.0.1:0',
        FLOWLINE_SPOOL_DIR: join(tmp, 'spool'),
        FLOWLINE_SPOOL_FSYNC_MS: '0', // every batch synced before it may be sent
        FLOWLINE_BATCH_LINGER_MS: '20',
        FLOWLINE_UDP_RCVBUF_BYTES: String(256 * 1024),
      }),
      {
        sink: new KinesisStreamSink(createKinesisClient({ maxAttempts: 1 }), stream),
        metrics,
        logger: createLogger('error'),
        http: false,
        spoolFileSystem: disk,
      },
    );
    const port = collector.portOf('udp');
    const plan = encodeUdpExport('antrea', 4, 600);
    const rounds = 12; // ~1,400 datagrams, ~1.9 MB: several times the socket's receive buffer
    // At most 64 KiB waiting in the socket's queue: a quarter of its buffer.
    const sender = await startUdpSender(port, 'antrea', 4, 600, 64 * 1024);
    try {
      const templates = plan.templates.length;
      await sendAll(
        sender,
        () => metrics.total('flowline_collector_ipfix_messages_total'),
        templates + rounds * plan.round.length,
        templates,
      );
      const sent = plan.records * rounds;
      expect(await metrics.total('flowline_collector_flow_records_total')).toBe(sent);
      collector.flush();
      // The disk is still stuck on its first flush: nothing has been synced, so nothing may be sent.
      await waitFor('the spool writer waiting on fdatasync', () => disk.held.length > 0);
      expect(disk.syncsCompleted).toBe(0);
      expect(await metrics.total('flowline_kinesis_delivered_flow_records_total')).toBe(0);
      expect((await readStream(kinesis, stream)).records).toHaveLength(0);
      expect(readUdpDrops(port)).toBe(0);

      disk.release();
      await collector.whenDelivered();
      const { records } = await readStream(kinesis, stream);
      const ids = new Set(records.map((r) => `${r.observationDomainId}|${r.sequenceNumber}`));
      expect(records).toHaveLength(sent);
      expect(ids.size).toBe(sent);
      expect(readUdpDrops(port)).toBe(0);
      expect(await metrics.total('flowline_collector_dropped_total')).toBe(0);
    } finally {
      await sender.stop();
      await collector.drain();
    }
  }, 120_000);
});
