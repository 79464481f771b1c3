// The bucketed layout of the flow store (functions/flow-store/buckets.ts) against DynamoDB Local: the same
// records, late, duplicated and reordered, through the correlator and the ticker on one item per flow and on
// buckets must close exactly the same rows (same dedup tokens, counters, names and times), the bucket rows
// decoded from the items as the table's stream would carry them. Two correlators writing the same buckets at
// once must converge to the same sums.
import { CreateTableCommand, type DynamoDBClient, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../adapters/aws-clients.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import { DEFAULT_LAZY_INDEX } from '../../core/flow-state/advance.ts';
import type { ExportQueue, FlowWrite, WriteResult } from '../../core/flow-state/ports.ts';
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import { seededRandom } from '../../core/random.ts';
import { decodeWireBatch, encodeWireBatch } from '../../core/wire.ts';
import { correlatorSettingsOf } from '../../functions/correlator/config.ts';
import { correlateBatch } from '../../functions/correlator/correlate-batch.ts';
import { BucketFlowTable } from '../../functions/flow-store/buckets.ts';
import { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import {
  BUCKET_PK_PREFIX,
  closedRowsOf,
  createTableInput,
  defaultScheduleConfig,
  type FlowItem,
} from '../../functions/flow-store/index.ts';
import { Ticker } from '../../functions/ticker/ticker.ts';
import { generateRecords } from '../../workloads/correlator-workload.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines({ kinesis: false, clickhouse: false });
const SCHEDULE = defaultScheduleConfig();
const SETTINGS = correlatorSettingsOf(SCHEDULE, { writeConcurrency: 8, maxWriteAttempts: 50 });
const T0 = 1_800_000_000_000;
const WINDOW_MS = 20_000;
const TICK_MS = 8_000;

let tables = 0;
async function newTable(client: DynamoDBClient): Promise<string> {
  const name = `flows-buckets-${process.pid}-${++tables}`;
  await client.send(new CreateTableCommand(createTableInput(name, { stream: false })));
  return name;
}

/**
 * Records of `flows` flows every 5 s, some delivered a window late, some twice, in shuffled order; the
 * destination half of every fourth flow starts a minute after its source half (its names join later), and
 * that of every eighth never comes (exported incomplete); a third of the flows start five minutes later.
 */
function disorderedRecords(flows: number, seed: number): Array<{ record: FlowRecord; deliverAtMs: number }> {
  const random = seededRandom(seed);
  const workload = {
    interNodeShare: 0.8,
    intervalSeconds: 5,
    seed,
    names: 'long',
    phases: 'spread',
  } as const;
  const records = [
    ...generateRecords({ ...workload, flows, rounds: 30, startSeconds: T0 / 1000 }),
    // Flows that start five minutes later, in buckets whose due keys have moved far ahead by then.
    ...generateRecords({
      ...workload,
      flows: flows / 2,
      rounds: 24,
      startSeconds: T0 / 1000 + 300,
      subnet: 2,
    }),
  ];
  const delivered: Array<{ record: FlowRecord; deliverAtMs: number }> = [];
  const destinationHalf = (r: FlowRecord) => r.sourcePodName === '';
  const firstRecordAtMs = (r: FlowRecord) => r.flowStartSeconds * 1000;
  const joinsLate = (r: FlowRecord) =>
    destinationHalf(r) && r.sourceTransportPort % 4 === 0 && r.receivedAtMs < firstRecordAtMs(r) + 60_000;
  const neverJoins = (r: FlowRecord) => destinationHalf(r) && r.sourceTransportPort % 8 === 2;
  for (const record of records.filter((r) => !joinsLate(r) && !neverJoins(r))) {
    const late = random() < 0.15 ? WINDOW_MS * (1 + Math.floor(random() * 3)) : 0;
    delivered.push({ record, deliverAtMs: record.receivedAtMs + late });
    if (random() < 0.1) delivered.push({ record, deliverAtMs: record.receivedAtMs + WINDOW_MS });
  }
  return delivered.sort((a, b) => a.deliverAtMs - b.deliverAtMs || random() - 0.5);
}

/** A queue whose successful writes' rows are noted (the per-flow layout's rows, as they were written). */
function notingRows(queue: ExportQueue, rows: ExportedFlow[]): ExportQueue {
  const note = (writes: readonly FlowWrite[], results: WriteResult[]) => {
    for (const [i, result] of results.entries()) {
      const _w = writes[i]!;
      if (result.ok) rows.push(...(writes[i]!.extras?.rows ?? []));
    }
  };
  return {
    read: (keys) => queue.read(keys),
    write: async (state, expectedVersion, nowMs, extras) => {
      const result = await queue.write(state, expectedVersion, nowMs, extras);
      if (result.ok) rows.push(...(extras?.rows ?? []));
      return result;
    },
    writeMany: async (writes, nowMs, concurrency) => {
      const results = await queue.writeMany(writes, nowMs, concurrency);
      note(writes, results);
      return results;
    },
    writeBatch: async (writes, nowMs) => {
      const results = await queue.writeBatch(writes, nowMs);
      note(writes, results);
      return results;
    },
    dueKeys: (nowMs, limit) => queue.dueKeys(nowMs, limit),
    oldestDueAt: (nowMs) => queue.oldestDueAt(nowMs),
  };
}

/** The simulated time of the run in progress. */
const clock = { now: T0 };

/**
 * The rows of every bucket item the client put, decoded as the exporter decodes a stream image, and how
 * long after its export step each was written.
 */
function bucketRowsPut(
  client: DynamoDBClient,
  rows: ExportedFlow[],
  delaysMs: Map<ExportedFlow, number>,
): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const output = await next(args); // a refused put throws: only stored items count
      const item = (args.input as PutItemCommandInput).Item as FlowItem | undefined;
      if (!item?.pk?.S?.startsWith(BUCKET_PK_PREFIX)) return output;
      for (const row of closedRowsOf(item)) {
        rows.push(row);
        delaysMs.set(row, clock.now - row.exportedAtMs);
      }
      return output;
    },
    { step: 'initialize', name: 'bucketRowsPut' },
  );
}

type Correlate = (
  event: Array<{ kinesis: { data: string; sequenceNumber: string } }>,
  nowMs: number,
) => Promise<void>;

/** Drives correlator windows and ticker rounds over the records, then ticks until every flow is closed. */
async function run(
  queue: ExportQueue,
  deliveries: Array<{ record: FlowRecord; deliverAtMs: number }>,
  correlate?: Correlate,
) {
  let next = 0;
  let sequence = 0;
  const end = (deliveries.at(-1)?.deliverAtMs ?? T0) + 30 * 60_000;
  clock.now = T0;
  const ticker = new Ticker(queue, {
    schedule: SCHEDULE,
    maxFlowsPerRound: 10_000,
    writeConcurrency: 4,
    clock: () => clock.now,
  });
  for (let window = T0 + WINDOW_MS, tick = T0 + TICK_MS; Math.min(window, tick) <= end; ) {
    if (window <= tick) {
      clock.now = window;
      const batch: FlowRecord[] = [];
      while (next < deliveries.length && deliveries[next]!.deliverAtMs <= window)
        batch.push(deliveries[next++]!.record);
      if (batch.length > 0) {
        const event = [
          {
            kinesis: { data: encodeWireBatch(batch).toString('base64'), sequenceNumber: String(++sequence) },
          },
        ];
        if (correlate) await correlate(event, clock.now);
        else {
          const outcome = await correlateBatch(event, { store: queue, now: () => clock.now }, SETTINGS);
          expect(outcome.keyFailures).toEqual([]);
        }
      }
      window += WINDOW_MS;
    } else {
      clock.now = tick;
      const report = await ticker.round();
      expect(report.error).toBeUndefined();
      tick += TICK_MS;
    }
  }
  expect(await queue.oldestDueAt(Number.MAX_SAFE_INTEGER)).toBeUndefined();
}

function byToken(rows: readonly ExportedFlow[]): Map<string, ExportedFlow> {
  const out = new Map<string, ExportedFlow>();
  for (const row of rows) {
    expect(out.has(row.dedupToken), `row ${row.dedupToken} closed twice`).toBe(false);
    out.set(row.dedupToken, row);
  }
  return out;
}

/** Per flow: the sum of its rows' common deltas (packets, octets, reverse), which any correct run agrees on. */
function sumsByFlow(rows: readonly ExportedFlow[]): Map<string, number[]> {
  const sums = new Map<string, number[]>();
  for (const { flow } of rows) {
    const r = flow.record;
    const sum = sums.get(flow.flowKey) ?? [0, 0, 0, 0];
    const deltas = [
      r.packetDeltaCount,
      r.octetDeltaCount,
      r.reversePacketDeltaCount,
      r.reverseOctetDeltaCount,
    ];
    sums.set(
      flow.flowKey,
      sum.map((v, i) => v + deltas[i]!),
    );
  }
  return sums;
}

/** The rows the same deliveries close with one item per flow: the reference. */
async function perFlowRowsOf(deliveries: Array<{ record: FlowRecord; deliverAtMs: number }>) {
  const client = engines().dynamodb;
  const rows: ExportedFlow[] = [];
  await run(notingRows(new DynamoExportQueue(client, await newTable(client), SCHEDULE), rows), deliveries);
  return rows;
}

describe('bucketed flow store', () => {
  it('two correlators writing the same buckets at once (a collector routing by flow) lose and double nothing', async () => {
    const client = engines().dynamodb;
    const deliveries = disorderedRecords(24, 33);
    const reference = await perFlowRowsOf(deliveries);

    const table = await newTable(client);
    const options = { buckets: 2, marginMs: DEFAULT_LAZY_INDEX.marginMs };
    const rows: ExportedFlow[] = [];
    const stores = [0, 1].map(() => notingRows(new BucketFlowTable(client, table, SCHEDULE, options), rows));
    // Each window's records split between two correlators by record, not by bucket, run at once.
    let turn = 0;
    // The ticker shares the first correlator's table object, as nothing else: its own writes are conditional.
    await run(stores[0]!, deliveries, async (event, now) => {
      const records = decodeWireBatch(Buffer.from(event[0]!.kinesis.data, 'base64'));
      const halves = [records.filter((_, i) => i % 2 === 0), records.filter((_, i) => i % 2 === 1)];
      const outcomes = await Promise.all(
        halves.map((half, i) =>
          correlateBatch(
            [{ kinesis: { data: encodeWireBatch(half).toString('base64'), sequenceNumber: String(++turn) } }],
            { store: stores[i]!, now: () => now },
            SETTINGS,
          ),
        ),
      );
      for (const outcome of outcomes) expect(outcome.keyFailures).toEqual([]);
    });
    expect(byToken(rows).size).toBe(rows.length);
    expect(sumsByFlow(rows)).toEqual(sumsByFlow(reference));
  });

  it('closes exactly the rows one item per flow closes, late, duplicate and reordered records included', async () => {
    const client = engines().dynamodb;
    const deliveries = disorderedRecords(48, 21);
    const perFlowRows = await perFlowRowsOf(deliveries);

    const bucketClient = createDynamoDbClient(); // its own middleware: the rows it puts
    const bucketRows: ExportedFlow[] = [];
    const delaysMs = new Map<ExportedFlow, number>();
    bucketRowsPut(bucketClient, bucketRows, delaysMs);
    const buckets = new BucketFlowTable(bucketClient, await newTable(client), SCHEDULE, {
      buckets: 3, // 16 flows to a bucket: most writes share an item
      marginMs: DEFAULT_LAZY_INDEX.marginMs,
    });
    await run(buckets, deliveries);
    bucketClient.destroy();

    const expected = byToken(perFlowRows);
    const actual = byToken(bucketRows);
    expect(expected.size).toBeGreaterThan(48 * 3);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [token, row] of expected) expect(actual.get(token), token).toEqual(row);
    // The bucket's due key finds a flow that fell idle within the lazy slack, as a flow's own key does, and
    // a half that waits for its peer on time: its exact due time is the bucket's key.
    const late = (row: ExportedFlow, byMs: number) => (delaysMs.get(row) ?? 0) > byMs;
    expect(bucketRows.filter((row) => late(row, DEFAULT_LAZY_INDEX.slackMs + TICK_MS))).toEqual([]);
    const incomplete = bucketRows.filter((row) => row.flow.incomplete);
    expect(incomplete.length).toBeGreaterThan(0);
    expect(incomplete.filter((row) => late(row, TICK_MS))).toEqual([]);
  });
});
