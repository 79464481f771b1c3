// The flusher's hand-over to the sinks' outbox (onBatchExported): awaited before the batch's insert with
// the marked rows and their sink columns; a hand-over that fails keeps the batch in its manifest and out
// of ClickHouse; a batch replayed after a failed insert is not handed over again by the same flusher, and
// is by a new one (a new container: at least once for the sinks).
import { describe, expect, it } from 'vitest';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { correlateBatch } from '../../../functions/correlator/correlate-batch.ts';
import type { PendingRow } from '../../../functions/flusher/batch.ts';
import type { RowSink } from '../../../functions/flusher/clickhouse-sink.ts';
import { Flusher } from '../../../functions/flusher/flusher.ts';
import type { FlowRow } from '../../../functions/flusher/rows.ts';
import { MemoryFlowTable } from '../../support/memory-flow-table.ts';

const CONFIG = defaultScheduleConfig({ activeTimeoutMs: 100, inactiveTimeoutMs: 150, dueShardCount: 2 });
const T0 = 1_700_000_000_000;

function records(count: number): FlowRecord[] {
  return Array.from({ length: count }, (_, n) => ({
    ...emptyFlowRecord(),
    sourceIP: `10.1.0.${n + 1}`,
    destinationIP: '10.2.0.1',
    sourceTransportPort: 40000 + n,
    destinationTransportPort: 80,
    protocolIdentifier: 6,
    flowStartSeconds: T0 / 1000 - 10,
    flowEndSeconds: T0 / 1000,
    flowType: FlowType.IntraNode,
    packetTotalCount: 5,
    packetDeltaCount: 5,
    octetTotalCount: 500,
    octetDeltaCount: 500,
    sourceNodeName: 'node-a',
    destinationNodeName: 'node-a',
    exporterAddress: '192.168.0.1',
    exportTime: T0 / 1000,
    sequenceNumber: 1,
    receivedAtMs: T0,
  }));
}

async function stack(count: number) {
  const table = new MemoryFlowTable(CONFIG);
  const clock = { now: T0 };
  const outcome = await correlateBatch(
    [{ kinesis: { data: encodeWireBatch(records(count)).toString('base64'), sequenceNumber: '1' } }],
    { store: table, now: () => clock.now },
    { timeouts: { activeTimeoutMs: 100, inactiveTimeoutMs: 150 }, writeConcurrency: 2, maxWriteAttempts: 5 },
  );
  expect(outcome.poison).toEqual([]);
  clock.now += 1000;
  const events: string[] = [];
  const inserted: FlowRow[] = [];
  const handedOver: Array<{ token: string; rows: readonly PendingRow[] }> = [];
  const faults = { handOver: 0, insert: 0 };
  const clickhouse: RowSink = {
    async insert(rows, token) {
      events.push(`insert ${token}`);
      if (faults.insert-- > 0) throw new Error('ClickHouse refused');
      inserted.push(...rows);
      return [];
    },
  };
  const flusher = () =>
    new Flusher(table, clickhouse, {
      clusterUUID: 'c',
      schedule: CONFIG,
      maxRowsPerInsert: 100,
      maxInsertsPerRound: 2,
      insertConcurrency: 1,
      writeConcurrency: 2,
      clock: () => clock.now,
      onBatchExported: async (token, rows) => {
        events.push(`hand over ${token}`);
        if (faults.handOver-- > 0) throw new Error('outbox table unavailable');
        handedOver.push({ token, rows });
      },
    });
  return { table, clock, flusher, events, inserted, handedOver, faults };
}

describe('the flusher hands each batch to the sinks outbox before its insert', () => {
  it('with the marked rows, their sink columns and the insert token, before the insert', async () => {
    const s = await stack(3);
    expect(await s.flusher().round()).toMatchObject({ ok: true, rowsInserted: 3 });
    expect(s.events).toHaveLength(2);
    const token = s.handedOver[0]!.token;
    expect(s.events).toEqual([`hand over ${token}`, `insert ${token}`]);
    expect(s.handedOver[0]!.rows.map((r) => r.row)).toEqual(s.inserted);
    expect(s.handedOver[0]!.rows[0]!.sinkColumns).toMatchObject({
      octetDeltaCountFromSourceNode: 500,
      packetTotalCountFromSourceNode: 5,
    });
  });

  it('a failed hand-over keeps the batch out of ClickHouse; the next round hands it over, then inserts', async () => {
    const s = await stack(2);
    s.faults.handOver = 1;
    const flusher = s.flusher();
    expect(await flusher.round()).toMatchObject({ ok: false, rowsInserted: 0 });
    expect(s.inserted).toEqual([]);
    s.clock.now += 8000;
    expect(await flusher.round()).toMatchObject({ ok: true, replayedRows: 2, rowsInserted: 2 });
    expect(s.handedOver).toHaveLength(1);
    expect(s.events.map((e) => e.split(' ')[0])).toEqual(['hand', 'hand', 'insert']);
  });

  it('a failed insert is replayed without a second hand-over; a new flusher hands the replay over again', async () => {
    const s = await stack(2);
    s.faults.insert = 2;
    const flusher = s.flusher();
    expect(await flusher.round()).toMatchObject({ ok: false, insertFailures: 1 });
    s.clock.now += 8000;
    expect(await flusher.round()).toMatchObject({ ok: false, insertFailures: 1 });
    expect(s.handedOver).toHaveLength(1);
    s.clock.now += 8000;
    expect(await s.flusher().round()).toMatchObject({ ok: true, replayedRows: 2 });
    expect(s.handedOver.map((h) => h.token)).toEqual([s.handedOver[0]!.token, s.handedOver[0]!.token]);
    expect(s.inserted).toHaveLength(2);
  });
});
