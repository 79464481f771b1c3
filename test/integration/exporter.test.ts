// The stream export model against the real engines (DynamoDB Local with its table stream, ClickHouse via
// chDB): the V-1 vector through decoder, correlator, the table's stream and the exporter gives Antrea's
// insert arguments; an exporter that dies after its insert (or before it) and gets the batch again yields
// every row once; a row ClickHouse cannot take is left out and reported; a ClickHouse outage loses nothing
// (the stream keeps the batch); the ticker closes the flows no record reaches, and a flow the correlator
// writes meanwhile is left to the correlator.
import { readFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { ANTREA_INSERT_COLUMNS } from '../../clickhouse/columns.ts';
import { createIpfixDecoder } from '../../collector-edge/ipfix/index.ts';
import { normaliseDataSet } from '../../collector-edge/normalise.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../core/flow-record.ts';
import { DEFAULT_LAZY_INDEX } from '../../core/flow-state/advance.ts';
import type { ExistingItemWrite } from '../../core/flow-state/ports.ts';
import { correlatorSettingsOf } from '../../functions/correlator/config.ts';
import { ClickHouseRowSink, type RowSink } from '../../functions/exporter/clickhouse-sink.ts';
import { type ExportReport, StreamExporter } from '../../functions/exporter/export-batch.ts';
import { DynamoIntentStore } from '../../functions/exporter/intent-store.ts';
import type { FlowRow } from '../../functions/exporter/rows.ts';
import { changeRecordsOf } from '../../functions/exporter/stream-event.ts';
import { DynamoExportQueue } from '../../functions/flow-store/export-queue.ts';
import { defaultScheduleConfig } from '../../functions/flow-store/index.ts';
import { Ticker } from '../../functions/ticker/ticker.ts';
import { TableStream } from '../../local/esm/table-stream.ts';
import { CLUSTER_UUID } from '../../workloads/exported-flows.ts';
import { v1ExpectedInsertArguments } from '../fixtures/v1-expected-row.ts';
import { useEngines } from '../support/engines.ts';
import { correlateAt, newPipelineStores } from '../support/pipeline-stores.ts';

const engines = useEngines({ kinesis: false });
const SCHEDULE = defaultScheduleConfig();
const SETTINGS = correlatorSettingsOf(SCHEDULE, { writeConcurrency: 16, maxWriteAttempts: 50 });
const T0 = 1_800_000_000_000;
const DATE_COLUMNS = new Set([
  'flowStartSeconds',
  'flowEndSeconds',
  'flowEndSecondsFromSourceNode',
  'flowEndSecondsFromDestinationNode',
]);

interface Stack {
  dynamodb: DynamoDBClient;
  table: string;
  queue: DynamoExportQueue;
  clickhouse: ClickHouseClient;
  sink: ClickHouseRowSink;
  stream: TableStream;
  clock: { now: number };
  exporter(sink?: RowSink): StreamExporter;
  ticker(queue?: DynamoExportQueue): Ticker;
  feed(records: FlowRecord[]): Promise<void>;
  /** Delivers the stream's batches to `exporter` until none is left or one fails (returns its error). */
  drain(exporter?: StreamExporter): Promise<{ reports: ExportReport[]; error?: Error }>;
  rows(where?: string): Promise<FlowRow[]>;
}

const streams: TableStream[] = [];
afterAll(() => {
  for (const stream of streams) stream.close();
});

async function newStack(): Promise<Stack> {
  const { dynamodb } = engines();
  const { table, queue, clickhouse } = await newPipelineStores(engines(), 'exporter', SCHEDULE);
  const sink = new ClickHouseRowSink(clickhouse);
  const stream = new TableStream(dynamodb, table);
  streams.push(stream);
  const clock = { now: T0 };
  const exporter = (s: RowSink = sink) =>
    new StreamExporter(new DynamoIntentStore(dynamodb, table, () => clock.now), s, {
      clusterUUID: CLUSTER_UUID,
    });
  return {
    dynamodb,
    table,
    queue,
    clickhouse,
    sink,
    stream,
    clock,
    exporter,
    ticker: (q = queue) =>
      new Ticker(q, {
        schedule: SCHEDULE,
        maxFlowsPerRound: 1000,
        writeConcurrency: 8,
        clock: () => clock.now,
      }),
    feed: (records) => correlateAt(queue, records, clock.now, SETTINGS),
    async drain(e = exporter()) {
      const reports: ExportReport[] = [];
      for (let event = await stream.next(); event; event = await stream.next()) {
        try {
          reports.push(await e.exportBatch(changeRecordsOf(event)));
        } catch (error) {
          return { reports, error: error as Error };
        }
        stream.ack();
      }
      return { reports };
    },
    async rows(where = '1') {
      const columns = [...ANTREA_INSERT_COLUMNS, 'flowKey', 'exportSeq', 'incomplete']
        .map((c) => (DATE_COLUMNS.has(c) ? `toUnixTimestamp(${c}) AS ${c}` : c))
        .join(', ');
      const result = await clickhouse.query({
        query: `SELECT ${columns} FROM flows WHERE ${where} ORDER BY flowKey, exportSeq`,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      return result.json<FlowRow>();
    },
  };
}

const inserted = (reports: ExportReport[]) => reports.reduce((sum, r) => sum + r.rowsInserted, 0);

/** The V-1 vector files through the collector's real decoder and normaliser. */
function v1Records(family: 'IPv4' | 'IPv6'): FlowRecord[] {
  const decoder = createIpfixDecoder();
  const session = { id: `tcp|v1-${family}`, exporterAddress: '192.168.10.1', transport: 'tcp' as const };
  const records: FlowRecord[] = [];
  for (const name of ['templatePacket', 'dataPacket1', 'dataPacket2']) {
    const hex = readFileSync(
      new URL(`../fixtures/vectors/goipfix_f5c5793_${name}${family}.hex`, import.meta.url),
      'utf8',
    ).trim();
    const result = decoder.decodeMessage(Buffer.from(hex, 'hex'), session, { receivedAtMs: T0 });
    for (const set of result.dataSets) records.push(...normaliseDataSet(set));
  }
  return records;
}

describe('V-1: vector -> decoder -> correlator -> table stream -> exporter -> ClickHouse', () => {
  it.each([
    ['IPv4', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
    ['IPv6', '2001:0:3238:dfe1:63::fefb', '2001:0:3238:dfe1:63::fefc', '2001:0:3238:bbbb:63::aaaa'],
  ] as const)(
    '%s row equals the Flow Aggregator insert arguments, column by column',
    async (family, src, dst, clusterIP) => {
      const stack = await newStack();
      const records = v1Records(family);
      expect(records).toHaveLength(2);
      await stack.feed(records); // both halves seen: ready, exported by the write that correlates them
      const { reports, error } = await stack.drain();
      expect(error).toBeUndefined();
      expect(inserted(reports)).toBe(1);
      const [row] = await stack.rows();
      const expected = v1ExpectedInsertArguments(src, dst, clusterIP, CLUSTER_UUID);
      ANTREA_INSERT_COLUMNS.forEach((column, i) => {
        expect(row![column], column).toEqual(expected[i]);
      });
      expect(row!.flowKey).toBe(`${src}|${dst}|6|1234|5678`);
      expect(row!.exportSeq).toBe(1);
      expect(row!.incomplete).toBe(0);
      // Nothing more until a record or the ticker closes another period.
      expect((await stack.drain()).reports).toEqual([]);
      expect(await stack.rows()).toHaveLength(1);
    },
  );
});

/** Inter-Node flows (the same 5-tuples for every seed) whose two halves both arrive, so they are ready at once. */
/** Poll `seed` of `count` flows as both Nodes' agents report it: `octets` more on top of `octetsBefore`. */
function flowPairs(count: number, seed: number, octets: number, octetsBefore = 0): FlowRecord[] {
  const records: FlowRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base: FlowRecord = {
      ...emptyFlowRecord(),
      sourceIP: `10.5.0.${i}`,
      destinationIP: `10.6.0.${i}`,
      sourceTransportPort: 40000 + i,
      destinationTransportPort: 443,
      protocolIdentifier: 6,
      flowStartSeconds: 1_799_999_000,
      flowEndSeconds: 1_799_999_990 + seed,
      flowEndReason: 2,
      tcpState: 'ESTABLISHED',
      flowType: FlowType.InterNode,
      packetTotalCount: 10 * seed,
      packetDeltaCount: 10,
      octetTotalCount: octetsBefore + octets,
      octetDeltaCount: octets,
      sourcePodName: `client-${i}`,
      sourcePodNamespace: 'shop',
      destinationPodName: `server-${i}`,
      destinationPodNamespace: 'shop',
      exportTime: 1_799_999_990 + seed,
      sequenceNumber: seed,
      receivedAtMs: 0,
    };
    records.push({ ...base, destinationPodName: '', exporterAddress: '192.168.0.1' });
    records.push({ ...base, sourcePodName: '', exporterAddress: '192.168.0.2' });
  }
  return records;
}

class Crash extends Error {}

describe('exactly once', () => {
  it('an exporter that dies after its insert, given the batch again, yields each row once', async () => {
    const stack = await newStack();
    await stack.feed(flowPairs(40, 1, 1000).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    const ackLost: RowSink = {
      insert: async (rows, token) => {
        await stack.sink.insert(rows, token);
        throw new Crash('crashed after insert');
      },
    };
    const crashed = await stack.drain(stack.exporter(ackLost));
    expect(crashed.error).toBeInstanceOf(Crash);
    expect(await stack.rows()).toHaveLength(40);
    const again = await stack.drain();
    expect(again.error).toBeUndefined();
    expect(again.reports[0]).toMatchObject({ replayedRows: 40 });
    const rows = await stack.rows();
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(40);
  });

  it('an exporter that dies before its insert exports the batch once when it comes again', async () => {
    const stack = await newStack();
    await stack.feed(flowPairs(40, 1, 1000).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    const dead: RowSink = {
      insert: async () => {
        throw new Crash('crashed before insert');
      },
    };
    expect((await stack.drain(stack.exporter(dead))).error).toBeInstanceOf(Crash);
    expect(await stack.rows()).toHaveLength(0);
    // The next period of the same flows arrives meanwhile; a record of the one after closes it (exportSeq 2).
    stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
    await stack.feed(flowPairs(40, 2, 500, 1000).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    stack.clock.now += SCHEDULE.activeTimeoutMs;
    await stack.feed(flowPairs(40, 3, 1, 1500).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    const again = await stack.drain();
    expect(again.error).toBeUndefined();
    const rows = await stack.rows();
    expect(rows.filter((r) => r.exportSeq === 1)).toHaveLength(40);
    expect(rows.filter((r) => r.exportSeq === 2)).toHaveLength(40);
    expect(rows.filter((r) => r.exportSeq === 2).reduce((a, r) => a + Number(r.octetDeltaCount), 0)).toBe(
      40 * 500,
    );
  });
});

describe('a row that cannot be written', () => {
  it('is left out of its batch, reported with its column, and the rest land once, also on a replay', async () => {
    const stack = await newStack();
    // Flow 0 carries a Service port that does not fit UInt16 (no decoder produces one; a bug could).
    const records = flowPairs(10, 1, 300).map((r, i) => ({
      ...r,
      receivedAtMs: stack.clock.now,
      ...(i < 2 ? { destinationServicePort: 70_000 } : {}),
    }));
    await stack.feed(records);
    const poisoned = '10.5.0.0|10.6.0.0|6|40000|443';
    const ackLost: RowSink = {
      insert: async (rows, token) => {
        await stack.sink.insert(rows, token);
        throw new Crash('crashed after insert');
      },
    };
    expect((await stack.drain(stack.exporter(ackLost))).error).toBeInstanceOf(Crash);
    const replay = await stack.drain();
    expect(replay.error).toBeUndefined();
    expect(replay.reports[0]).toMatchObject({ rowsInserted: 9, replayedRows: 10 });
    expect(replay.reports[0]!.rejected).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(
          /^column destinationServicePort \(UInt16\): 70000 is not in 0\.\.65535$/,
        ),
      }),
    ]);
    expect(replay.reports[0]!.rejected[0]!.row.flowKey).toBe(poisoned);
    const rows = await stack.rows();
    expect(rows.map((r) => r.flowKey)).not.toContain(poisoned);
    expect(rows).toHaveLength(9);
  });
});

describe('ClickHouse outage', () => {
  it('while ClickHouse is down the batch stays in the stream; afterwards every delta arrives once', async () => {
    const stack = await newStack();
    const clickhouse = engines().local?.clickhouse;
    if (!clickhouse) return; // ClickHouse not under this test's control (external target)
    await stack.feed(flowPairs(30, 1, 700).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    await clickhouse.simulateOutage();
    try {
      expect((await stack.drain()).error).toBeDefined();
      // Records keep arriving during the outage: the next period of the same flows, and new flows.
      stack.clock.now += SCHEDULE.activeTimeoutMs + 1000;
      await stack.feed(flowPairs(30, 2, 300, 700).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
      await stack.feed(
        flowPairs(40, 3, 100)
          .slice(60)
          .map((r) => ({ ...r, receivedAtMs: stack.clock.now })),
      );
      // A record of the period after closes the first 30 flows' second period.
      stack.clock.now += SCHEDULE.activeTimeoutMs;
      await stack.feed(flowPairs(30, 3, 1, 1000).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
      expect((await stack.drain()).error).toBeDefined();
    } finally {
      await clickhouse.endOutage();
    }
    const back = await stack.drain();
    expect(back.error).toBeUndefined();
    const rows = await stack.rows();
    expect(rows.filter((r) => r.exportSeq === 1)).toHaveLength(40);
    expect(rows.filter((r) => r.exportSeq === 2)).toHaveLength(30);
    expect(rows.filter((r) => r.exportSeq === 1).reduce((a, r) => a + Number(r.octetDeltaCount), 0)).toBe(
      30 * 700 + 10 * 100,
    );
    expect(rows.filter((r) => r.exportSeq === 2).reduce((a, r) => a + Number(r.octetDeltaCount), 0)).toBe(
      30 * 300,
    );
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(rows.length);
  });
});

describe('the ticker', () => {
  it('closes flows no record reaches: their last period and their close, exported once through the stream', async () => {
    const stack = await newStack();
    await stack.feed(flowPairs(20, 1, 100).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    stack.clock.now += 20_000;
    await stack.feed(flowPairs(20, 2, 50, 100).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    // No more records. Before the lazy key (due + slack) nothing is due for the ticker.
    stack.clock.now = T0 + 10 * 60_000;
    expect(await stack.ticker().round()).toMatchObject({ ok: true, dueFlows: 0, atRest: false });
    stack.clock.now = T0 + SCHEDULE.activeTimeoutMs + DEFAULT_LAZY_INDEX.slackMs + 1000;
    const tick = await stack.ticker().round();
    expect(tick).toMatchObject({
      ok: true,
      advancedFlows: 20,
      rowsClosed: 20,
      closedFlows: 20,
      atRest: true,
    });
    const { error } = await stack.drain();
    expect(error).toBeUndefined();
    const second = await stack.rows('exportSeq = 2');
    expect(second).toHaveLength(20);
    expect(second.reduce((a, r) => a + Number(r.octetDeltaCount), 0)).toBe(20 * 50);
    expect(await stack.rows()).toHaveLength(40);
  });

  it("a flow the correlator writes between the ticker's read and its write is left to the correlator", async () => {
    const stack = await newStack();
    await stack.feed(flowPairs(10, 1, 100).map((r) => ({ ...r, receivedAtMs: stack.clock.now })));
    stack.clock.now = T0 + SCHEDULE.activeTimeoutMs + DEFAULT_LAZY_INDEX.slackMs + 1000;
    const late = flowPairs(10, 2, 7, 100)
      .slice(6, 8)
      .map((r) => ({ ...r, receivedAtMs: stack.clock.now }));
    let correlated: Promise<void> | undefined;
    class RacingQueue extends DynamoExportQueue {
      override async writeBatch(writes: readonly ExistingItemWrite[], nowMs: number) {
        correlated ??= stack.feed(late);
        await correlated;
        return super.writeBatch(writes, nowMs);
      }
    }
    const racing = new RacingQueue(stack.dynamodb, stack.table, SCHEDULE);
    const tick = await stack.ticker(racing).round();
    expect(tick).toMatchObject({ ok: true, dueFlows: 10, conflicts: 1, advancedFlows: 9 });
    expect((await stack.drain()).error).toBeUndefined();
    const raced = '10.5.0.3|10.6.0.3|6|40003|443';
    // The raced flow's records were past its inactive expiry: its lifetime closed and a new one started
    // in the correlator's write; every other flow closed by the ticker. Each export once.
    const rows = await stack.rows();
    expect(new Set(rows.map((r) => `${r.flowKey}#${r.exportSeq}`)).size).toBe(rows.length);
    expect(rows.filter((r) => r.flowKey === raced).map((r) => Number(r.octetDeltaCount))).toEqual([100, 7]);
  });
});
