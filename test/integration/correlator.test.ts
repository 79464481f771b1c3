// The correlator against DynamoDB Local with Kinesis events shaped exactly as Lambda delivers them:
// replays leave items unchanged, concurrent overlapping invocations converge to the sequential result,
// a poison record fails only itself.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregatedFlow } from '../../core/aggregated-flow.ts';
import { flowKeyOf } from '../../core/flow-key.ts';
import { emptyFlowRecord, FlowType } from '../../core/flow-record.ts';
import { seededRandom } from '../../core/random.ts';
import { encodeWireBatch } from '../../core/wire.ts';
import { correlatorSettingsOf } from '../../functions/correlator/config.ts';
import { type CorrelatorSettings, correlateBatch } from '../../functions/correlator/correlate-batch.ts';
import { createCorrelatorHandler } from '../../functions/correlator/make-handler.ts';
import { changeRecordsOf } from '../../functions/exporter/stream-event.ts';
import {
  ATTR,
  closedRowsOf,
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
  type FlowItem,
  storedFlowOf,
} from '../../functions/flow-store/index.ts';
import { TableStream } from '../../local/esm/table-stream.ts';
import { generateRecords, packPayloads } from '../../workloads/correlator-workload.ts';
import { asStream, kinesisEvent, type StreamRecord } from '../../workloads/kinesis-events.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines({ kinesis: false, clickhouse: false });
const SCHEDULE = defaultScheduleConfig();
const SETTINGS: CorrelatorSettings = correlatorSettingsOf(SCHEDULE, {
  writeConcurrency: 16,
  maxWriteAttempts: 50,
});
const NOW = 1_800_000_000_000; // fixed invocation clock: items depend only on the records

let tables = 0;
async function newTable(client: DynamoDBClient): Promise<string> {
  const name = `flows-correlator-${process.pid}-${++tables}`;
  await client.send(new CreateTableCommand(createTableInput(name)));
  return name;
}

async function items(client: DynamoDBClient, table: string): Promise<Map<string, FlowItem>> {
  const out = new Map<string, FlowItem>();
  let start: FlowItem | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) out.set(item[ATTR.pk]!.S!, item);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function itemsByKey(
  client: DynamoDBClient,
  table: string,
  keys: string[],
): Promise<Map<string, FlowItem>> {
  const out = await client.send(
    new BatchGetItemCommand({
      RequestItems: { [table]: { Keys: keys.map((pk) => ({ [ATTR.pk]: { S: pk } })), ConsistentRead: true } },
    }),
  );
  expect(out.UnprocessedKeys?.[table]?.Keys ?? []).toEqual([]);
  return new Map((out.Responses?.[table] ?? []).map((item) => [item[ATTR.pk]!.S!, item]));
}

/**
 * Per flow what the table's writes exported (the closed rows of every image its stream carries) plus what
 * the flow holds now: with late records applied in another order, a count may land in another period, but
 * never twice and never nowhere. Delta sums (common and per Node), max totals, the Nodes' marks.
 */
async function ledger(client: DynamoDBClient, table: string, keys: readonly string[]) {
  const wanted = new Set(keys);
  const sums = new Map<string, number[]>();
  const add = (key: string, flow: AggregatedFlow) => {
    const sum = sums.get(key) ?? new Array<number>(12).fill(0);
    const r = flow.record;
    const values = [
      r.packetDeltaCount,
      r.octetDeltaCount,
      r.reversePacketDeltaCount,
      r.reverseOctetDeltaCount,
      ...[
        flow.statsFromSourceNode,
        flow.reverseStatsFromSourceNode,
        flow.statsFromDestinationNode,
        flow.reverseStatsFromDestinationNode,
      ].flatMap((c) => [c.packetDeltaCount, c.octetDeltaCount]),
    ];
    values.forEach((v, i) => {
      sum[i]! += v;
    });
    sums.set(key, sum);
  };
  const stream = new TableStream(client, table);
  try {
    for (let event = await stream.next(); event; event = await stream.next()) {
      for (const record of changeRecordsOf(event))
        for (const row of record.rows) if (wanted.has(row.flow.flowKey)) add(row.flow.flowKey, row.flow);
      stream.ack();
    }
  } finally {
    stream.close();
  }
  const now = await itemsByKey(client, table, [...keys]);
  return new Map(
    [...now].map(([key, item]) => {
      const { state } = storedFlowOf(item);
      add(key, state.flow);
      const r = state.flow.record;
      return [
        key,
        {
          deltas: sums.get(key),
          totals: [
            r.packetTotalCount,
            r.octetTotalCount,
            r.reversePacketTotalCount,
            r.reverseOctetTotalCount,
          ],
          marks: [state.sourceMark, state.destinationMark],
        },
      ];
    }),
  );
}

/** Items without the version, which counts writes, not content. */
function contents(all: Map<string, FlowItem>): Map<string, FlowItem> {
  return new Map([...all].map(([pk, item]) => [pk, { ...item, [ATTR.version]: { N: 'any' } }]));
}

function handlerFor(client: DynamoDBClient, table: string) {
  return createCorrelatorHandler({
    store: new DynamoFlowStore(client, table, SCHEDULE),
    now: () => NOW,
    logger: new Logger({ serviceName: 'correlator-test', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'FlowlineTest', serviceName: 'correlator-test' }),
    settings: SETTINGS,
  });
}

describe('correlator on DynamoDB Local', () => {
  it('the same batch applied 3 times gives the same items', async () => {
    const client = engines().dynamodb;
    const table = await newTable(client);
    const records = generateRecords({
      flows: 40,
      rounds: 4,
      interNodeShare: 0.8,
      intervalSeconds: 5,
      startSeconds: 1_700_000_000,
      seed: 7,
    });
    const stream = asStream(packPayloads(records, 9));
    const handler = handlerFor(client, table);
    const first = await handler(kinesisEvent(stream));
    expect(first.batchItemFailures).toEqual([]);
    const after1 = await items(client, table);
    expect(after1.size).toBe(40);
    const correlated = [...after1.values()].map(storedFlowOf).filter((s) => s.state.flow.correlationRequired);
    expect(correlated.length).toBeGreaterThan(20);
    expect(correlated.every((s) => s.state.flow.readyToSend)).toBe(true);
    for (let i = 0; i < 2; i++) {
      expect((await handler(kinesisEvent(stream))).batchItemFailures).toEqual([]);
      expect(await items(client, table)).toEqual(after1); // versions included: nothing was written
    }
  });

  it('a poison record in the middle of a batch fails only itself', async () => {
    const client = engines().dynamodb;
    const table = await newTable(client);
    const records = generateRecords({
      flows: 10,
      rounds: 2,
      interNodeShare: 1,
      intervalSeconds: 5,
      startSeconds: 1_700_000_000,
      seed: 3,
    });
    const good = packPayloads(records, 5);
    const badMagic = { data: Buffer.from('{"not":"flowline"}'), partitionKey: 'x' };
    const futureVersion = { data: Buffer.from(encodeWireBatch(records.slice(0, 1))), partitionKey: 'y' };
    futureVersion.data[2] = 9;
    const stream = asStream([...good.slice(0, 2), badMagic, ...good.slice(2), futureVersion]);
    const handler = handlerFor(client, table);
    const response = await handler(kinesisEvent(stream));
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: stream[2]!.sequenceNumber },
      { itemIdentifier: stream.at(-1)!.sequenceNumber },
    ]);
    // Every good record was applied: same items as a run without the poison.
    const reference = await newTable(client);
    await handlerFor(client, reference)(kinesisEvent(asStream(good)));
    expect(contents(await items(client, table))).toEqual(contents(await items(client, reference)));
    // The mapping resumes at the poison (lowest failure): the rest is replayed, only the poison fails again.
    const before = await items(client, table);
    const retry = await handler(kinesisEvent(stream.slice(2)));
    expect(retry.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      stream[2]!.sequenceNumber,
      stream.at(-1)!.sequenceNumber,
    ]);
    expect(await items(client, table)).toEqual(before);
  });

  it('the Lambda entry module (handler.ts) works from its environment', async () => {
    const client = engines().dynamodb;
    const table = await newTable(client);
    process.env.TABLE_NAME = table;
    const { handler } = await import('../../functions/correlator/handler.ts');
    const record = {
      ...emptyFlowRecord(),
      sourceIP: '10.9.0.1',
      destinationIP: '10.9.0.2',
      protocolIdentifier: 17,
      sourceTransportPort: 53000,
      destinationTransportPort: 53,
      flowType: FlowType.IntraNode,
      sourcePodName: 'a',
      destinationPodName: 'b',
      flowStartSeconds: 100,
      flowEndSeconds: 105,
      octetTotalCount: 500,
      receivedAtMs: 105_000,
    };
    const response = await handler(
      kinesisEvent(asStream([{ data: encodeWireBatch([record]), partitionKey: 'k' }])),
    );
    expect(response.batchItemFailures).toEqual([]);
    const item = [...(await items(client, table)).values()][0]!;
    // A new ready flow is exported by the write that creates it: the row has the throughput, the state
    // is reset after the export (Antrea).
    expect(closedRowsOf(item).map((row) => row.flow.throughput)).toEqual([800]); // 500 bytes * 8 / 5 s
    expect(storedFlowOf(item).state.flow.throughput).toBe(0);
  });

  it('overlapping batches in two concurrent invocations export and hold what the sequential run does (property)', async () => {
    const client = engines().dynamodb;
    const reference = await newTable(client);
    const concurrent = await newTable(client);
    const storeA = new DynamoFlowStore(client, concurrent, SCHEDULE);
    const storeB = new DynamoFlowStore(client, concurrent, SCHEDULE);
    const referenceStore = new DynamoFlowStore(client, reference, SCHEDULE);
    let run = 0;
    let conflicts = 0;

    const splits = (length: number, random: () => number): number[][] => {
      const batches: number[][] = [];
      let i = 0;
      while (i < length) {
        const size = 1 + Math.floor(random() * 4);
        batches.push(Array.from({ length: Math.min(size, length - i) }, (_, k) => i + k));
        i += size;
      }
      return batches;
    };
    const yieldRandomly = async (random: () => number) => {
      for (let n = Math.floor(random() * 3); n > 0; n--)
        await new Promise((resolve) => setImmediate(resolve));
    };

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 4 }),
        async (seed, perPayload) => {
          run++;
          const records = generateRecords({
            flows: 4,
            rounds: 3,
            interNodeShare: 0.75,
            intervalSeconds: 5,
            startSeconds: 1_700_000_000,
            seed,
            subnet: run % 200,
          });
          // Unique flows per run: shift the source port range.
          for (const r of records) r.sourceTransportPort += run * 7;
          const stream: StreamRecord[] = asStream(packPayloads(records, perPayload));
          const random = seededRandom(seed ^ 0x9e3779b9);
          const outcome = await correlateBatch(
            kinesisEvent(stream).Records,
            { store: referenceStore, now: () => NOW },
            SETTINGS,
          );
          expect(outcome.batchItemFailures).toEqual([]);

          // A processes the stream in its batches; B is a retry from a checkpoint A had reached, racing A on
          // the rest with its own batch boundaries (a timed-out invocation still running while retried).
          const batchesA = splits(stream.length, random);
          const checkpointBatch = Math.floor(random() * batchesA.length);
          let reachedA = 0;
          let checkpointReached: () => void = () => {};
          const checkpoint = new Promise<void>((resolve) => {
            checkpointReached = resolve;
          });
          if (checkpointBatch === 0) checkpointReached();
          const events = kinesisEvent(stream).Records;
          const invoke = async (store: DynamoFlowStore, indices: number[]) => {
            await yieldRandomly(random);
            const out = await correlateBatch(
              indices.map((i) => events[i]!),
              { store, now: () => NOW },
              SETTINGS,
            );
            expect(out.batchItemFailures).toEqual([]);
            conflicts += out.stats.writeConflicts;
          };
          const a = (async () => {
            for (const [n, batch] of batchesA.entries()) {
              await invoke(storeA, batch);
              reachedA = n + 1;
              if (reachedA === checkpointBatch) checkpointReached();
            }
          })();
          const b = (async () => {
            await checkpoint;
            const from = batchesA.slice(0, checkpointBatch).flat().length;
            for (const batch of splits(stream.length - from, random))
              await invoke(
                storeB,
                batch.map((i) => i + from),
              );
          })();
          await Promise.all([a, b]);

          const keys = [...new Set(records.map((r) => flowKeyOf(r)))];
          const got = await ledger(client, concurrent, keys);
          expect(got.size).toBe(keys.length);
          expect(got).toEqual(await ledger(client, reference, keys));
        },
      ),
      { numRuns: 30 },
    );
    // The property must have exercised the optimistic retry, or it proved nothing about concurrency.
    expect(conflicts).toBeGreaterThan(0);
  });
});
