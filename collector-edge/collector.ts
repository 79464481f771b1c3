// The edge collector assembled: listeners -> ingest (decode, normalise, pack) -> spool-backed delivery
// queue -> Kinesis producer, plus the shard map, backpressure, the HTTP endpoints and the graceful drain.
import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { CollectorConfig } from './config.ts';
import { ConnectionGuard } from './connection-guard.ts';
import { DeliveryQueue } from './delivery-queue.ts';
import { DeliveryWatch, watchDeliveries } from './delivery-watch.ts';
import { startHttpServer } from './http-server.ts';
import { IngestPipeline, ingestOptionsOf } from './ingest.ts';
import { K8sMetadata } from './k8s-metadata/index.ts';
import { type Listener, startStreamListener, startUdpListener, tlsFilesSource } from './listeners.ts';
import { createLogger, type Logger, LogThrottle } from './log.ts';
import { CollectorMetrics } from './metrics.ts';
import { type SealedBatch, ShardPacker } from './packer.ts';
import { KinesisProducer, type KinesisSink } from './producer.ts';
import { ShardMap } from './shard-map.ts';
import { Spool, type SpoolFileSystem } from './spool.ts';

export interface CollectorDependencies {
  sink: KinesisSink;
  metrics?: CollectorMetrics;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
  /** Serve /metrics, /healthz, /readyz (default true). */
  http?: boolean;
  /** Client configuration for the Pod informer (default: config.kubeconfig or the in-cluster one). */
  kubeConfig?: KubeConfig;
  /** The spool writer's file operations (default node:fs; tests inject a slow disk). */
  spoolFileSystem?: SpoolFileSystem;
}

/** Backpressure lifts when the spool is back below this share of its limit (hysteresis). */
const RESUME_FRACTION = 0.8;

export class Collector {
  readonly metrics: CollectorMetrics;
  readonly listeners: Listener[] = [];
  httpPort = 0;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly spool: Spool;
  private readonly queue: DeliveryQueue;
  private readonly packer: ShardPacker;
  private readonly producer: KinesisProducer;
  private readonly ingest: IngestPipeline;
  private readonly connectionGuard: ConnectionGuard;
  private readonly k8sMetadata: K8sMetadata | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private compileDeferralsSeen = 0;
  private deliveryStalledLogged = false;
  private readonly deliveryWatch: DeliveryWatch;
  private httpServer: Server | undefined;
  private paused = false;
  private draining = false;
  private shardRefreshRunning: Promise<void> | undefined;
  private lastShardRefreshMs = 0;

  private constructor(
    readonly config: CollectorConfig,
    private readonly deps: CollectorDependencies,
  ) {
    this.metrics = deps.metrics ?? new CollectorMetrics({ defaultMetrics: true });
    this.logger = deps.logger ?? createLogger(config.logLevel);
    this.now = deps.now ?? Date.now;
    const logThrottle = new LogThrottle(5, 60_000, this.now);
    const { spool, recovered } = Spool.open({
      dir: config.spoolDir,
      segmentBytes: config.spoolSegmentBytes,
      fsyncIntervalMs: config.spoolFsyncMs,
      groupCommitMs: config.spoolGroupCommitMs,
      ...(deps.spoolFileSystem ? { fileSystem: deps.spoolFileSystem } : {}),
      onCorrupt: (path, offset, reason) => {
        this.metrics.spoolCorrupt.inc();
        this.logger.error('spool entry unreadable; the segment is cut there', { path, offset, reason });
      },
    });
    this.spool = spool;
    this.queue = new DeliveryQueue(spool, config.memoryQueueBytes, {
      onCommitted: () => this.producer.kick(),
      onWriteFailed: (lostFlowRecords, error) => {
        // The spool cannot be written (disk full, I/O error): the only case where accepted records are lost.
        if (lostFlowRecords > 0) this.metrics.drops.labels('spool-write-failed').inc(lostFlowRecords);
        this.logger.error('spool write failed', { error, lostFlowRecords });
      },
    });
    this.queue.restore(recovered);
    if (recovered.length > 0) {
      const records = recovered.reduce((n, e) => n + e.recordCount, 0);
      this.metrics.spoolRecovered.inc(recovered.length);
      this.logger.info('replaying unacknowledged Kinesis records from the spool', {
        kinesisRecords: recovered.length,
        flowRecords: records,
      });
    }
    this.deliveryWatch = new DeliveryWatch(config.deliveryStallMs, this.now());
    const sink = watchDeliveries(deps.sink, () => this.deliveryWatch.delivered(this.now()));
    this.producer = new KinesisProducer(this.queue, sink, this.metrics, this.logger, logThrottle, {
      concurrency: config.putConcurrency,
      backoffBaseMs: config.backoffBaseMs,
      backoffCapMs: config.backoffCapMs,
      now: this.now,
      ...(deps.random ? { random: deps.random } : {}),
      expectedShardId: (hashKey) => {
        const map = this.packer.currentShardMap;
        return map?.shards[map.indexOfHashKey(BigInt(hashKey))]?.shardId;
      },
      onShardMapStale: () => {
        if (this.now() - this.lastShardRefreshMs > 5000) void this.refreshShardMap();
      },
    });
    this.packer = new ShardPacker({
      targetBytes: config.batchTargetBytes,
      lingerMs: config.batchLingerMs,
      flowBuckets: config.flowBuckets,
      now: this.now,
      onSealed: (batch) => this.enqueue(batch),
      onOversize: (_, bytes) => {
        this.metrics.drops.labels('record-too-large').inc();
        this.logger.error('flow record larger than a Kinesis record; dropped', { bytes });
      },
    });
    this.k8sMetadata = K8sMetadata.fromSettings(config, {
      registry: this.metrics.registry,
      logger: this.logger,
      logThrottle,
      now: this.now,
      ...(deps.kubeConfig ? { kubeConfig: deps.kubeConfig } : {}),
    });
    this.metrics.observeOpenFlowRecords(() => this.packer.pendingRecords + this.queue.unwrittenFlowRecords);
    this.metrics.observeQueue(this.queue);
    this.ingest = new IngestPipeline(this.packer, this.metrics, this.logger, logThrottle, {
      ...ingestOptionsOf(config, this.now),
      ...(this.k8sMetadata ? { enrichRecord: this.k8sMetadata.enrich } : {}),
    });
    this.connectionGuard = new ConnectionGuard(
      {
        maxConnections: config.maxConnections,
        maxConnectionsPerSource: config.maxConnectionsPerSource,
        idleMs: config.connectionIdleMs,
        partialMessageMs: config.partialMessageMs,
      },
      this.metrics,
      this.logger,
      logThrottle,
      this.now,
    );
  }

  static async start(config: CollectorConfig, deps: CollectorDependencies): Promise<Collector> {
    const collector = new Collector(config, deps);
    await collector.startAll();
    return collector;
  }

  private async startAll(): Promise<void> {
    const config = this.config;
    // Before the listeners: records that arrive before the first Pod list would miss their metadata.
    await this.k8sMetadata?.start();
    await this.refreshShardMap();
    this.producer.kick(); // replay whatever the spool held
    const context = {
      ingest: this.ingest,
      metrics: this.metrics,
      logger: this.logger,
      logThrottle: new LogThrottle(5, 60_000, this.now),
      isPaused: () => this.paused,
      now: this.now,
    };
    try {
      for (const spec of config.listen) {
        if (spec.protocol === 'udp') {
          this.listeners.push(
            await startUdpListener(spec, context, {
              receiveBufferBytes: config.udpReceiveBufferBytes,
              sessionIdleMs: config.udpSessionIdleMs,
              maxSessions: config.maxUdpSessions,
            }),
          );
        } else if (spec.protocol === 'tls') {
          const files = config.tls!;
          this.listeners.push(
            await startStreamListener(spec, context, this.connectionGuard, {
              files,
              source: tlsFilesSource(files),
              reloadCheckMs: 30_000,
            }),
          );
        } else {
          this.listeners.push(await startStreamListener(spec, context, this.connectionGuard));
        }
      }
      if (this.deps.http !== false) {
        const http = await startHttpServer(config.httpHost, config.httpPort, this.metrics, {
          ready: () => this.readiness(),
        });
        this.httpServer = http.server;
        this.httpPort = http.port;
      }
    } catch (error) {
      for (const listener of this.listeners) await listener.close();
      await this.k8sMetadata?.stop();
      await this.spool.close();
      throw error;
    }
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.max(5, Math.min(50, Math.floor(config.batchLingerMs / 2))), () => this.packer.sealDue());
    every(config.shardRefreshMs, () => void this.refreshShardMap());
    every(100, () => this.updateBackpressure());
    every(1000, () => this.updateGauges());
    this.logger.info('collector listening', {
      listeners: this.listeners.map((l) => `${l.spec.protocol}://${l.spec.host}:${l.port}`),
      stream: config.streamName,
      http: this.httpPort,
    });
  }

  /** Port a listener of this protocol is bound to (tests listen on port 0). */
  portOf(protocol: 'udp' | 'tcp' | 'tls'): number {
    const listener = this.listeners.find((l) => l.spec.protocol === protocol);
    if (!listener) throw new Error(`no ${protocol} listener`);
    return listener.port;
  }

  private readiness(): { ready: boolean; reason: string } {
    if (this.draining) return { ready: false, reason: 'draining' };
    if (this.paused) return { ready: false, reason: 'spool full: backpressure' };
    const pending = this.queue.size;
    if (this.deliveryWatch.stalled(pending, this.now()))
      return {
        ready: false,
        reason: `no Kinesis delivery for ${Math.round(this.deliveryWatch.waitingMs(pending, this.now()) / 1000)} s while ${pending} Kinesis records wait (see the collector log for the PutRecords error)`,
      };
    return { ready: true, reason: 'ready' };
  }

  /** A sealed batch goes to the spool; the producer sends it once the spool's writer has committed it. */
  private enqueue(batch: SealedBatch): void {
    this.queue.push(batch);
    this.metrics.batchesSealed.inc();
    if (!this.paused && this.overLimits(1)) this.updateBackpressure();
  }

  /**
   * Over the spool's size limit, or over the memory budget with batches the spool's writer has not written
   * yet (a disk slower than the input), at `fraction` of the limits.
   */
  private overLimits(fraction: number): boolean {
    return (
      this.queue.spoolBytes >= this.config.spoolMaxBytes * fraction ||
      this.queue.unwrittenBytes >= this.config.memoryQueueBytes * fraction
    );
  }

  private updateBackpressure(): void {
    const bytes = this.queue.spoolBytes;
    const shouldPause = this.overLimits(this.paused ? RESUME_FRACTION : 1);
    if (shouldPause === this.paused) return;
    this.paused = shouldPause;
    this.metrics.backpressure.set(shouldPause ? 1 : 0);
    for (const listener of this.listeners) listener.setPaused(shouldPause);
    this.logger.warn(
      shouldPause
        ? 'spool full or behind: pausing TCP/TLS input, dropping UDP'
        : 'spool below limits: resuming',
      {
        spoolBytes: bytes,
        limit: this.config.spoolMaxBytes,
        unwrittenBytes: this.queue.unwrittenBytes,
        unwrittenLimit: this.config.memoryQueueBytes,
      },
    );
  }

  private updateGauges(): void {
    const waitingMs = this.deliveryWatch.waitingMs(this.queue.size, this.now());
    const stalled = waitingMs > this.config.deliveryStallMs;
    if (stalled && !this.deliveryStalledLogged) {
      this.logger.error('Kinesis deliveries stalled: /readyz reports unready', {
        waitingMs,
        pending: this.queue.size,
        threshold: 'FLOWLINE_DELIVERY_STALL_MS',
      });
    }
    this.deliveryStalledLogged = stalled;
    this.metrics.deliveryStalled.set(stalled ? 1 : 0);
    this.metrics.secondsSinceDelivery.set(waitingMs / 1000);
    // Data sets held for compile budget (template-store.ts), counted as they happen in the decoder.
    const deferrals = this.ingest.decoder.stats().compileDeferrals;
    if (deferrals > this.compileDeferralsSeen) {
      this.metrics.limitTrips.labels('template-compile-rate').inc(deferrals - this.compileDeferralsSeen);
      this.logger.warn('template compile budget reached: data sets wait for their decoder', {
        limit: 'FLOWLINE_TEMPLATE_COMPILE_FIELDS_PER_SECOND',
        deferrals: deferrals - this.compileDeferralsSeen,
      });
    }
    this.compileDeferralsSeen = deferrals;
  }

  refreshShardMap(): Promise<void> {
    this.shardRefreshRunning ??= (async () => {
      this.lastShardRefreshMs = this.now();
      try {
        const map = new ShardMap(await this.deps.sink.listShards());
        this.metrics.shardMapRefreshes.labels('ok').inc();
        if (!map.sameAs(this.packer.currentShardMap)) {
          this.packer.setShardMap(map);
          this.metrics.shards.set(map.size);
          this.logger.info('shard map updated', { openShards: map.size });
        }
      } catch (error) {
        this.metrics.shardMapRefreshes.labels('error').inc();
        this.logger.warn('ListShards failed; keeping the current shard map', { error });
      } finally {
        this.shardRefreshRunning = undefined;
      }
    })();
    return this.shardRefreshRunning;
  }

  /** Seals open batches now (tests and the benchmark use this instead of waiting for the linger time). */
  flush(): void {
    this.packer.flushAll();
  }

  /** Resolves when everything accepted so far has been acknowledged by Kinesis. */
  async whenDelivered(): Promise<void> {
    this.packer.flushAll();
    await this.producer.whenIdle();
  }

  get pendingKinesisRecords(): number {
    return this.queue.size;
  }

  /**
   * Graceful stop (SIGTERM): stop accepting, seal open batches, keep sending for up to drainTimeoutMs, then
   * leave whatever Kinesis has not acknowledged in the spool (fsync'ed) for the next start.
   */
  async drain(): Promise<{ delivered: boolean; leftInSpool: number }> {
    if (this.draining) return { delivered: this.queue.size === 0, leftInSpool: this.queue.size };
    this.draining = true;
    this.logger.info('draining: no new input, sending what is queued', { pending: this.queue.size });
    for (const listener of this.listeners) await listener.close();
    this.packer.flushAll();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.producer.whenIdle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.config.drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await this.producer.stop();
    await this.k8sMetadata?.stop();
    for (const t of this.timers) clearInterval(t);
    this.connectionGuard.stop();
    this.updateGauges();
    await this.spool.close();
    const leftInSpool = this.queue.size;
    if (this.httpServer) {
      this.httpServer.closeAllConnections();
      await new Promise<void>((resolve) => this.httpServer!.close(() => resolve()));
    }
    this.logger.info('drained', { leftInSpool });
    return { delivered: leftInSpool === 0, leftInSpool };
  }
}
