// Exactly once without lock-step (issue 14): simulated agents send poll after poll while the collector
// (a child process) is SIGKILLed at random moments, open batches included, and restarted on its spool;
// Kinesis refuses a share of PutRecords (throttling) and answers the rest after random delays, so
// concurrent requests land out of order; the mapping's reads fail now and then; the correlator crashes
// mid-batch; ticker rounds and the exporter run while records are still on their way. Afterwards every record that
// reached Kinesis is read back, and per flow ClickHouse must hold exactly what the agents' cumulative
// totals prove was sent (docs/exactly-once.md), never more than the truth, and no export twice.
//
// Loss window: a collector killed with SIGKILL loses what it had read but not yet spooled (its open
// batches). A lost record's counts come back with the same Node's next record of the connection, so per
// flow and Node only records after the last one that reached Kinesis, or before the first one, stay lost.
// The expectation below is exactly that: last arrived total - (first arrived total - its delta).
//
// Seeds: FLOWLINE_FAULT_SEEDS, a count (default 1 in the suite, about a minute) or a range "A-B";
// scripts/exactly-once-faults.sh runs 20.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { flowKeyOf } from '../../core/flow-key.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import { seededRandom } from '../../core/random.ts';
import { decodeWireBatch } from '../../core/wire.ts';
import { findFreePort } from '../../local/engines/ports.ts';
import type { StreamReader } from '../../local/esm/stream-reader.ts';
import { exportSimulation, type SentRecord } from '../../simulator/exporter.ts';
import { nodeName } from '../../simulator/model.ts';
import {
  collectorMetric,
  crashingCorrelator,
  flowSums,
  MetricTotals,
  SteppedSimulation,
  useE2e,
  waitFor,
} from './e2e/harness.ts';

const e2e = useE2e();
/** FLOWLINE_FAULT_SEEDS: a count (seeds 1..N) or a range "A-B". */
const [FIRST_SEED, LAST_SEED] = ((spec: string): [number, number] => {
  const range = /^(\d+)-(\d+)$/.exec(spec);
  return range ? [Number(range[1]), Number(range[2])] : [1, Number(spec)];
})(process.env.FLOWLINE_FAULT_SEEDS ?? '1');
const COUNTERS = ['packets', 'octets', 'reversePackets', 'reverseOctets'] as const;
type Quad = [number, number, number, number];

const totalsOf = (r: FlowRecord): Quad => [
  r.packetTotalCount,
  r.octetTotalCount,
  r.reversePacketTotalCount,
  r.reverseOctetTotalCount,
];
const deltasOf = (r: FlowRecord): Quad => [
  r.packetDeltaCount,
  r.octetDeltaCount,
  r.reversePacketDeltaCount,
  r.reverseOctetDeltaCount,
];
/** One record of one Node for one poll: flow key, reporting side, export time. */
const identityOf = (r: FlowRecord, exportTime: number) =>
  `${flowKeyOf(r)}|${r.sourcePodName !== ''}|${r.destinationPodName !== ''}|${exportTime}`;

/**
 * A Kinesis endpoint in front of kinesis-mock that refuses a share of PutRecords as throttled, delays the
 * others by a random few milliseconds (concurrent requests overtake each other), and counts the records
 * it saw accepted.
 */
class FaultyKinesis {
  private server: Server | undefined;
  accepted = 0;
  throttled = 0;
  constructor(
    readonly port: number,
    private readonly target: URL,
    private readonly random: () => number,
  ) {}
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const put = String(req.headers['x-amz-target'] ?? '').endsWith('.PutRecords');
        if (put && this.random() < 0.2) {
          this.throttled++;
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(
            JSON.stringify({ __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded' }),
          );
          return;
        }
        const forward = () => {
          const upstream = request(
            {
              host: this.target.hostname,
              port: this.target.port,
              method: req.method,
              path: req.url,
              headers: req.headers,
            },
            (answer) => {
              const parts: Buffer[] = [];
              answer.on('data', (chunk: Buffer) => parts.push(chunk));
              answer.on('end', () => {
                const text = Buffer.concat(parts);
                if (put && answer.statusCode === 200) {
                  const out = JSON.parse(text.toString('utf8')) as {
                    Records?: Array<{ ErrorCode?: string }>;
                  };
                  this.accepted += (out.Records ?? []).filter((r) => !r.ErrorCode).length;
                }
                res.writeHead(answer.statusCode ?? 500, answer.headers);
                res.end(text);
              });
            },
          );
          upstream.on('error', () => res.destroy());
          upstream.end(body);
        };
        if (put) setTimeout(forward, Math.floor(this.random() * 40));
        else forward();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * Every record in the stream, read back until `expected` Kinesis records came back: kinesis-mock may answer
 * a GetRecords call with nothing while a shard still holds records, so a run of empty answers proves nothing.
 */
async function streamRecords(
  kinesis: KinesisClient,
  streamName: string,
  expected: number,
): Promise<FlowRecord[]> {
  const records: FlowRecord[] = [];
  let kinesisRecords = 0;
  const shards = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const iterators = new Map<string, string | undefined>();
  for (const shard of shards.Shards ?? []) {
    const out = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    iterators.set(shard.ShardId!, out.ShardIterator);
  }
  await waitFor(`${expected} Kinesis records read back from ${streamName}`, async () => {
    for (const [shardId, iterator] of iterators) {
      if (!iterator) continue;
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of out.Records ?? []) records.push(...decodeWireBatch(r.Data!));
      kinesisRecords += (out.Records ?? []).length;
      iterators.set(shardId, out.NextShardIterator);
    }
    return kinesisRecords >= expected;
  });
  return records;
}

/** Per flow: what its Nodes' records that reached Kinesis prove (max over Nodes), and the truth. */
function expectations(sent: SentRecord[], arrived: Set<string>) {
  const perNode = new Map<string, { first?: SentRecord; last?: SentRecord; final: SentRecord }>();
  for (const s of sent) {
    const key = `${flowKeyOf(s.record)}@${s.node}`;
    const entry = perNode.get(key) ?? { final: s };
    entry.final = s;
    if (arrived.has(identityOf(s.record, s.exportTime))) {
      entry.first ??= s;
      entry.last = s;
    }
    perNode.set(key, entry);
  }
  const flows = new Map<string, { expected: Quad; truth: Quad; lossWindow: boolean }>();
  for (const [key, node] of perNode) {
    const flowKey = key.slice(0, key.indexOf('@'));
    const flow = flows.get(flowKey) ?? { expected: [0, 0, 0, 0], truth: [0, 0, 0, 0], lossWindow: false };
    const proven: Quad =
      node.first && node.last
        ? (totalsOf(node.last.record).map(
            (t, i) => t - (totalsOf(node.first!.record)[i]! - deltasOf(node.first!.record)[i]!),
          ) as Quad)
        : [0, 0, 0, 0];
    const truth = totalsOf(node.final.record);
    for (let i = 0; i < 4; i++) {
      flow.expected[i] = Math.max(flow.expected[i]!, proven[i]!);
      flow.truth[i] = Math.max(flow.truth[i]!, truth[i]!);
    }
    if (
      node.first !== sent.find((s) => `${flowKeyOf(s.record)}@${s.node}` === key) ||
      node.last !== node.final
    )
      flow.lossWindow = true;
    flows.set(flowKey, flow);
  }
  return flows;
}

describe('without lock-step: collector SIGKILLs, throttling, reordering, correlator crashes', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'flowline-unordered-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  for (let seed = FIRST_SEED; seed <= LAST_SEED; seed++) {
    it(`seed ${seed}: per flow, ClickHouse holds exactly what the records in Kinesis prove`, async (context) => {
      const kinesisUrl = process.env.AWS_ENDPOINT_URL_KINESIS ?? process.env.AWS_ENDPOINT_URL;
      if (!kinesisUrl) return context.skip();
      const random = seededRandom(seed * 7919);
      const metrics = new MetricTotals();
      const crashing = crashingCorrelator(1 + Math.floor(random() * 4), 3);
      let failedReads = 0;
      const { pipeline, clickhouse, topology } = await e2e.newRun({
        startMs: Date.now(),
        collector: false,
        wrapReader: (reader): StreamReader => ({
          streamArn: reader.streamArn,
          describe: () => reader.describe(),
          iterator: (shardId, position) => reader.iterator(shardId, position),
          async read(shardId, iterator, limit) {
            if (random() < 0.1) {
              failedReads++;
              throw Object.assign(new Error('Rate exceeded for shard'), {
                name: 'ProvisionedThroughputExceededException',
              });
            }
            return reader.read(shardId, iterator, limit);
          },
        }),
        correlator: {
          metrics,
          wrapStore: crashing.wrapStore,
          wrapHandler: crashing.wrapHandler,
        },
      });
      const kinesis = new FaultyKinesis(await findFreePort(), new URL(kinesisUrl), random);
      await kinesis.start();
      // kinesis-mock holds at most 10 on-demand streams: each seed removes its own when done.
      onTestFinished(() =>
        e2e
          .engines()
          .kinesis.send(new DeleteStreamCommand({ StreamName: topology.stream.name }))
          .then(() => undefined),
      );
      const [ipfixPort, httpPort] = [await findFreePort(), await findFreePort()];
      const spoolDir = join(tmp, `spool-${seed}`);
      let collector: ChildProcess | undefined;
      const startCollector = async () => {
        collector = spawn(process.execPath, ['bin/flowline.js', 'collect'], {
          env: {
            ...process.env,
            AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${kinesis.port}`,
            FLOWLINE_STREAM_NAME: topology.stream.name,
            FLOWLINE_LISTEN: `tcp://127.0.0.1:${ipfixPort}`,
            FLOWLINE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
            FLOWLINE_SPOOL_DIR: spoolDir,
            FLOWLINE_BATCH_LINGER_MS: '50',
            FLOWLINE_BACKOFF_CAP_MS: '200',
            FLOWLINE_LOG_LEVEL: 'error',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(collector);
        await waitFor('collector /metrics', () =>
          fetch(`http://127.0.0.1:${httpPort}/metrics`).then(
            (r) => r.ok,
            () => false,
          ),
        );
      };
      await startCollector();

      const sim = new SteppedSimulation({ seed, nodes: 3, connections: 150, polls: 8, ipv6Share: 0.3 });
      const sent: SentRecord[] = [];
      let kills = 0;
      let failedPolls = 0;
      for (let poll = 0; poll < sim.options.polls; poll++) {
        sim.limit = poll + 1;
        // SIGKILL at a random moment of this poll's sending (a third of the polls), then a restart.
        const kill =
          poll < sim.options.polls - 1 && random() < 0.35
            ? new Promise<void>((resolve) =>
                setTimeout(
                  () => {
                    collector?.kill('SIGKILL');
                    kills++;
                    resolve();
                  },
                  Math.floor(random() * 30),
                ),
              )
            : undefined;
        const handedOut = sim.handedOut;
        const report = await exportSimulation(sim, {
          collector: { host: '127.0.0.1', port: ipfixPort, protocol: 'tcp' },
          keepSent: true,
        }).catch(() => undefined);
        if (report?.sent) sent.push(...report.sent);
        else {
          // The collector was down: the agents counted this poll all the same and sent it (partly) nowhere.
          failedPolls++;
          if (sim.handedOut === handedOut) sim.nextExport();
          sent.push(...sentOf(sim));
        }
        if (kill) {
          await kill;
          // The child may have exited already (the kill lands within 30 ms, the poll takes longer).
          const child = collector!;
          if (child.exitCode === null && child.signalCode === null)
            await new Promise((resolve) => child.once('exit', resolve));
          await startCollector();
        }
        // Ticker rounds and exports at wall-clock event time while records are still in flight.
        await pipeline.advanceTo(Date.now());
      }
      await waitFor('the collector to deliver everything it holds', async () => {
        const queued = await collectorMetric(httpPort, 'flowline_queue_entries');
        return queued === 0 && (await collectorMetric(httpPort, 'flowline_packer_open_flow_records')) === 0;
      });
      await pipeline.settle({ kinesisRecords: kinesis.accepted });
      await pipeline.advanceTo(Date.now());
      await pipeline.finish();
      collector?.kill('SIGKILL');
      await kinesis.stop();

      const arrived = new Set(
        (await streamRecords(e2e.engines().kinesis, topology.stream.name, kinesis.accepted)).map((r) =>
          identityOf(r, r.exportTime),
        ),
      );
      const flows = expectations(sent, arrived);
      const sums = await flowSums(clickhouse);
      const problems: string[] = [];
      let inLossWindow = 0;
      for (const [flowKey, flow] of flows) {
        const got = sums.get(flowKey);
        const actual: Quad = got
          ? [got.packets, got.octets, got.reversePackets, got.reverseOctets]
          : [0, 0, 0, 0];
        if (flow.lossWindow) inLossWindow++;
        COUNTERS.forEach((name, i) => {
          if (actual[i] !== flow.expected[i])
            problems.push(`${flowKey}: ${name} ${actual[i]}, records in Kinesis prove ${flow.expected[i]}`);
          if (actual[i]! > flow.truth[i]!) problems.push(`${flowKey}: ${name} ${actual[i]} above the truth`);
        });
        if (got && got.rows !== got.exports) problems.push(`${flowKey}: an export inserted twice`);
      }
      const lost = sent.filter((s) => !arrived.has(identityOf(s.record, s.exportTime))).length;
      const exact = [...flows.values()].filter(
        (f) => !f.lossWindow && f.expected.every((v, i) => v === f.truth[i]),
      ).length;
      console.info(
        `seed ${seed}: ${sent.length} records sent, ${lost} lost before Kinesis (${kills} SIGKILLs, ` +
          `${failedPolls} polls cut), ${kinesis.throttled} PutRecords throttled, ${failedReads} reads failed, ` +
          `${crashing.crashes} correlator crashes; GapFilledRecords ${metrics.get('GapFilledRecords')}, ` +
          `LateAppliedRecords ${metrics.get('LateAppliedRecords')}, CoveredRecords ${metrics.get('CoveredRecords')}; ${flows.size} flows, ${exact} equal to the truth, ` +
          `${inLossWindow} with a lost first or last record; ${pipeline.mapping.snapshot().failureRecordsSent} ` +
          `Kinesis records discarded by the mapping; ${problems.length} problems`,
      );
      expect(problems.slice(0, 20)).toEqual([]);
      expect(crashing.crashes).toBeGreaterThan(0); // the correlator did crash mid-batch
      expect(metrics.get('StaleConnectionRecords')).toBe(0);
      expect(pipeline.mapping.snapshot().failureRecordsSent).toBe(0);
    }, 300_000);
  }
});

/** The last poll's records as the agents counted them (no message identifiers: they may never have left). */
function sentOf(sim: SteppedSimulation): SentRecord[] {
  const poll = sim.lastPoll!;
  return poll.byNode.flatMap((records, node) =>
    records.map((r) => ({
      node: nodeName(node),
      observationDomainId: 0,
      sequenceNumber: 0,
      exportTime: poll.exportTime,
      record: r.record,
    })),
  );
}
