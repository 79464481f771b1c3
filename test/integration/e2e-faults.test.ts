// The end-to-end workload with faults injected, each outcome asserted: duplicate delivery from the collector,
// a correlator crash mid-batch, ClickHouse down for a while, insert acknowledgements lost (an exporter crash
// after its insert), Kinesis throttling (producer and reader), each with one and with four tickers; and the
// collector SIGKILLed and restarted. Whatever happens, ClickHouse ends with the ground truth per flow.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KinesisSink, PutResult } from '../../collector-edge/producer.ts';
import { findFreePort } from '../../local/engines/ports.ts';
import type { StreamReader } from '../../local/esm/stream-reader.ts';
import { exportSimulation } from '../../simulator/exporter.ts';
import {
  collectorMetric,
  crashingCorrelator,
  expectSumsMatchTruth,
  MetricTotals,
  rowCount,
  runLockstep,
  SteppedSimulation,
  useE2e,
  waitFor,
} from './e2e/harness.ts';

const e2e = useE2e();
// 100 connections (140 flows, 602 flow records over six polls) by default: each fault below still happens, on every
// path it is asserted on (duplicates, failed and replayed exporter batches, refused puts and failed reads,
// spooled records), and a run costs a third of the 250 it had, mostly DynamoDB Local's CPU for the
// correlator's writes and the tickers' rounds. The correlator crash keeps 250: see there.
const workload = (connections = 100) =>
  new SteppedSimulation({ seed: 11, nodes: 3, connections, polls: 6, ipv6Share: 0.3 });
const startOf = (sim: SteppedSimulation) =>
  (sim.options.startTimeSeconds + sim.options.pollIntervalSeconds) * 1000;
const TCP_LISTENER = { listen: [{ protocol: 'tcp' as const, host: '127.0.0.1', port: 0 }] };

// Each fault with one ticker and with four (context tickerCount: each owns a quarter of the due shards; all
// four run every round at once); the exporter reads the flow table's stream whatever their number.
describe.each([1, 4])('faults injected into the end-to-end workload, %i ticker(s)', (tickers) => {
  it('duplicate delivery: the collector puts every Kinesis record twice; each flow record is applied once', async () => {
    let duplicated = 0;
    const sim = workload();
    const metrics = new MetricTotals();
    const { pipeline, clickhouse } = await e2e.newRun({
      tickers,
      startMs: startOf(sim),
      collector: {
        ...TCP_LISTENER,
        wrapSink: (sink): KinesisSink => ({
          async putRecords(entries) {
            const results = await sink.putRecords(entries);
            const accepted = entries.filter((_, i) => results[i]?.ok);
            if (accepted.length > 0) {
              await sink.putRecords(accepted); // the same records again, as after a lost acknowledgement
              duplicated += accepted.length;
            }
            return results;
          },
          listShards: () => sink.listShards(),
        }),
      },
      correlator: { metrics },
    });
    const truth = await runLockstep(pipeline, sim);
    const delivered = await pipeline.collector!.metrics.total('flowline_kinesis_delivered_records_total');
    expect(duplicated).toBe(delivered);
    expect(pipeline.mapping.snapshot().recordsCompleted).toBe(2 * delivered);
    expect(metrics.get('FlowRecords')).toBeGreaterThanOrEqual(2 * truth.records);
    expect(metrics.get('AppliedRecords')).toBe(truth.records);
    expect(metrics.get('DuplicateRecords') + metrics.get('CoveredRecords')).toBeGreaterThanOrEqual(
      truth.records,
    );
    await expectSumsMatchTruth(clickhouse, truth);
  }, 120_000);

  it('correlator crash mid-batch: the invocation dies after 10 keys; the retry skips what was written', async () => {
    const crashAfterKeys = 10;
    const crashing = crashingCorrelator(crashAfterKeys, 1);
    // The crash needs an invocation that writes 10 keys: with 100 connections over four shards, no batch
    // held that many and nothing crashed.
    const sim = workload(250);
    const metrics = new MetricTotals();
    const { pipeline, clickhouse } = await e2e.newRun({
      tickers,
      startMs: startOf(sim),
      collector: TCP_LISTENER,
      // Several shards, as before the single-shard default: with one shard the crashed batch held a single
      // Kinesis record, which the mapping cannot bisect.
      streamShards: 4,
      correlator: { metrics, wrapStore: crashing.wrapStore, wrapHandler: crashing.wrapHandler },
    });
    const truth = await runLockstep(pipeline, sim);
    expect(crashing.crashes).toBe(1);
    const esm = pipeline.mapping.snapshot();
    expect(esm.functionErrors).toBe(1);
    expect(esm.bisects).toBeGreaterThanOrEqual(1); // the template sets BisectBatchOnFunctionError
    expect(esm.failureRecordsSent).toBe(0);
    // The keys written before the crash were redelivered and recognised; every record applied once.
    expect(metrics.get('DuplicateRecords') + metrics.get('CoveredRecords')).toBeGreaterThanOrEqual(
      crashAfterKeys,
    );
    expect(metrics.get('AppliedRecords')).toBe(truth.records);
    await expectSumsMatchTruth(clickhouse, truth);
  }, 120_000);

  it("ClickHouse down for a while: the exporter's batches fail and are delivered again from the table stream; after the restart every row arrives once", async (context) => {
    const local = e2e.engines().local?.clickhouse;
    if (!local) return context.skip(); // an external ClickHouse (CLICKHOUSE_URL) cannot be stopped from here
    const sim = workload();
    const { pipeline, clickhouse } = await e2e.newRun({
      tickers,
      startMs: startOf(sim),
      collector: TCP_LISTENER,
    });
    let rowsBeforeOutage = -1;
    let errorsBeforeOutage = 0;
    let insertedBeforeOutage = 0;
    const inserted = () => pipeline.exports.reduce((rows, report) => rows + report.rowsInserted, 0);
    const truth = await runLockstep(pipeline, sim, {
      async beforePoll(poll) {
        if (poll === 2) {
          await pipeline.exported();
          rowsBeforeOutage = await rowCount(clickhouse);
          errorsBeforeOutage = pipeline.exporterMapping.snapshot().functionErrors;
          insertedBeforeOutage = inserted();
          await local.simulateOutage(); // the ClickHouse front is killed: connections refused
        }
        if (poll === 5) await local.endOutage();
      },
    });
    expect(rowsBeforeOutage).toBeGreaterThan(0);
    // Batches failed while ClickHouse was down, and were delivered again: the rows came after it.
    expect(pipeline.exporterMapping.snapshot().functionErrors - errorsBeforeOutage).toBeGreaterThanOrEqual(1);
    expect(inserted()).toBeGreaterThan(insertedBeforeOutage);
    // The tickers never reach ClickHouse: their rounds kept succeeding.
    expect(pipeline.rounds.every((round) => round.ok)).toBe(true);
    await expectSumsMatchTruth(clickhouse, truth);
  }, 120_000);

  it('insert acknowledgements lost: ClickHouse stores the batches, the exporter sees errors and replays them; each row once', async () => {
    const sim = workload();
    const relay = await AckLosingRelay.start(new URL(e2e.engines().clickhouseConnection.url), 2);
    try {
      const { pipeline, clickhouse } = await e2e.newRun({
        tickers,
        startMs: startOf(sim),
        collector: TCP_LISTENER,
        exporterEnv: { CLICKHOUSE_URL: relay.url },
      });
      const truth = await runLockstep(pipeline, sim);
      expect(relay.lostAcknowledgements).toBe(2);
      expect(pipeline.exporterMapping.snapshot().functionErrors).toBeGreaterThanOrEqual(1);
      expect(pipeline.exports.reduce((n, report) => n + report.replayedRows, 0)).toBeGreaterThanOrEqual(1);
      await expectSumsMatchTruth(clickhouse, truth);
    } finally {
      await relay.close();
    }
  }, 120_000);

  it('Kinesis throttling: refused puts are retried by the collector, failed reads by the mapping; nothing lost', async () => {
    const throttled = () =>
      Object.assign(new Error('Rate exceeded for shard'), { name: 'ProvisionedThroughputExceededException' });
    const triedOnce = new WeakSet<Uint8Array>();
    let refusedPuts = 0;
    let puts = 0;
    let failedReads = 0;
    let reads = 0;
    const sim = workload();
    const metrics = new MetricTotals();
    const { pipeline, clickhouse } = await e2e.newRun({
      tickers,
      startMs: startOf(sim),
      collector: {
        ...TCP_LISTENER,
        // Every other request has its first entry refused (first attempt only), as a hot shard would.
        wrapSink: (sink): KinesisSink => ({
          async putRecords(entries) {
            const throttleThisCall = ++puts % 2 === 1;
            const refuse = entries.map(
              (entry, i) => throttleThisCall && i === 0 && !triedOnce.has(entry.data),
            );
            for (const entry of entries) triedOnce.add(entry.data);
            const passed = entries.filter((_, i) => !refuse[i]);
            const results = passed.length > 0 ? await sink.putRecords(passed) : [];
            let next = 0;
            return entries.map((_, i): PutResult => {
              if (!refuse[i]) return results[next++] as PutResult;
              refusedPuts += 1;
              return {
                ok: false,
                errorCode: 'ProvisionedThroughputExceededException',
                errorMessage: 'Rate exceeded',
              };
            });
          },
          listShards: () => sink.listShards(),
        }),
      },
      wrapReader: (reader): StreamReader => ({
        streamArn: reader.streamArn,
        describe: () => reader.describe(),
        iterator: (shardId, position) => reader.iterator(shardId, position),
        async read(shardId, iterator, limit) {
          if (++reads % 3 === 0) {
            failedReads += 1;
            throw throttled();
          }
          return reader.read(shardId, iterator, limit);
        },
      }),
      correlator: { metrics },
    });
    const truth = await runLockstep(pipeline, sim);
    expect(refusedPuts).toBeGreaterThan(0);
    expect(await pipeline.collector!.metrics.total('flowline_kinesis_throttles_total')).toBeGreaterThan(0);
    expect(await pipeline.collector!.metrics.total('flowline_kinesis_retried_records_total')).toBe(
      refusedPuts,
    );
    expect(failedReads).toBeGreaterThan(0);
    expect(pipeline.mapping.snapshot().pollErrors).toBe(failedReads);
    expect(metrics.get('AppliedRecords')).toBe(truth.records);
    await expectSumsMatchTruth(clickhouse, truth);
  }, 120_000);
});

/**
 * An HTTP relay to ClickHouse that, for its first `count` INSERT requests, lets ClickHouse finish the insert
 * and then cuts the connection instead of answering: the exporter sees an error for a batch ClickHouse has.
 */
class AckLosingRelay {
  lostAcknowledgements = 0;
  private constructor(
    private readonly server: HttpServer,
    readonly url: string,
    private remaining: number,
  ) {}

  static async start(target: URL, count: number): Promise<AckLosingRelay> {
    const server = createHttpServer();
    const port = await findFreePort();
    const relay = new AckLosingRelay(server, `http://127.0.0.1:${port}`, count);
    server.on('request', (request, response) => relay.forward(target, request, response));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return relay;
  }

  private forward(target: URL, request: IncomingMessage, response: ServerResponse): void {
    const isInsert = /INSERT/i.test(decodeURIComponent(request.url ?? ''));
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (answer) => {
        if (isInsert && answer.statusCode === 200 && this.remaining > 0) {
          this.remaining -= 1;
          this.lostAcknowledgements += 1;
          answer.resume();
          answer.on('end', () => response.socket?.destroy()); // stored by ClickHouse, never acknowledged
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.socket?.destroy());
    request.pipe(upstream);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP relay to kinesis-mock that can be taken down (connections refused) and brought back. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(Number(this.target.port), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async down(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('collector SIGKILL and restart', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'flowline-e2e-collector-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('records spooled by a collector killed with SIGKILL are delivered by its successor, exactly once in ClickHouse', async (context) => {
    const kinesisUrl = process.env.AWS_ENDPOINT_URL_KINESIS ?? process.env.AWS_ENDPOINT_URL;
    if (!kinesisUrl) return context.skip();
    const sim = workload();
    const { pipeline, clickhouse, topology } = await e2e.newRun({ startMs: Date.now(), collector: false });
    const relay = new Relay(await findFreePort(), new URL(kinesisUrl));
    const [ipfixPort, httpPort] = [await findFreePort(), await findFreePort()];
    const start = () => {
      const child = spawn(process.execPath, ['bin/flowline.js', 'collect'], {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${relay.port}`,
          FLOWLINE_STREAM_NAME: topology.stream.name,
          FLOWLINE_LISTEN: `tcp://127.0.0.1:${ipfixPort}`,
          FLOWLINE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
          FLOWLINE_SPOOL_DIR: join(tmp, 'spool'),
          FLOWLINE_BATCH_LINGER_MS: '50',
          FLOWLINE_BACKOFF_CAP_MS: '500',
          FLOWLINE_LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const ready = () =>
      waitFor('collector /metrics', async () =>
        collectorMetric(httpPort, 'flowline_collector_flow_records_total').then(
          () => true,
          () => false,
        ),
      );

    // Kinesis unreachable: the first collector can only spool. The relay must be up for its start-up
    // (it reads the shard map), then goes down.
    await relay.up();
    const first = start();
    await ready();
    await relay.down();
    sim.limit = 3;
    await exportSimulation(sim, { collector: { host: '127.0.0.1', port: ipfixPort, protocol: 'tcp' } });
    await waitFor('polls 0-2 spooled', async () => {
      const received = await collectorMetric(httpPort, 'flowline_collector_flow_records_total');
      const open = await collectorMetric(httpPort, 'flowline_packer_open_flow_records');
      const queued = await collectorMetric(httpPort, 'flowline_queue_entries');
      return received === sim.recordsHandedOut && open === 0 && queued > 0;
    });
    expect(await collectorMetric(httpPort, 'flowline_kinesis_delivered_records_total')).toBe(0);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    // Kinesis back; the successor replays the spool, then receives polls 3-5.
    await relay.up();
    start();
    await ready();
    const recovered = await collectorMetric(httpPort, 'flowline_spool_recovered_records_total');
    expect(recovered).toBeGreaterThan(0);
    sim.limit = Number.POSITIVE_INFINITY;
    await exportSimulation(sim, { collector: { host: '127.0.0.1', port: ipfixPort, protocol: 'tcp' } });
    let deliveredKinesisRecords = 0;
    await waitFor('every flow record delivered to Kinesis', async () => {
      deliveredKinesisRecords = await collectorMetric(httpPort, 'flowline_kinesis_delivered_records_total');
      return (
        (await collectorMetric(httpPort, 'flowline_kinesis_delivered_flow_records_total')) >=
        sim.recordsHandedOut
      );
    });
    // The collector stamped records with the wall clock: move event time there, then finish.
    await pipeline.settle({ kinesisRecords: deliveredKinesisRecords });
    await pipeline.advanceTo(Date.now());
    await pipeline.finish();
    await relay.down();

    const truth = sim.groundTruth();
    expect(pipeline.correlatorCounters.flowRecordsCompleted).toBeGreaterThanOrEqual(truth.records);
    expect(await rowCount(clickhouse)).toBeGreaterThan(0);
    await expectSumsMatchTruth(clickhouse, truth);
  }, 120_000);
});
