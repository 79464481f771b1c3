// The exporter's hand-over to the sinks' outbox (onBatchExported): awaited before the batch's insert with
// its rows and their sink columns; a hand-over that fails keeps the batch out of ClickHouse (the mapping
// delivers it again); a batch delivered again after a failed insert is not handed over again by the same
// exporter, and is by a new one (a new container: at least once for the sinks).
import { describe, expect, it } from 'vitest';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../../core/flow-record.ts';
import { defaultScheduleConfig } from '../../../core/flow-state/state.ts';
import { encodeWireBatch } from '../../../core/wire.ts';
import { correlateBatch } from '../../../functions/correlator/correlate-batch.ts';
import type { PendingRow } from '../../../functions/exporter/batch.ts';
import type { RowSink } from '../../../functions/exporter/clickhouse-sink.ts';
import {
  type ChangeRecord,
  type ExportIntent,
  StreamExporter,
} from '../../../functions/exporter/export-batch.ts';
import type { FlowRow } from '../../../functions/exporter/rows.ts';
import { closedRowsOf } from '../../../functions/flow-store/marshal.ts';
import { MemoryFlowTable } from '../../support/memory-flow-table.ts';

const TIMEOUTS = { activeTimeoutMs: 100, inactiveTimeoutMs: 150 };
const CONFIG = defaultScheduleConfig({ ...TIMEOUTS, dueShardCount: 2 });
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

/** `count` new ready flows through the correlator: each write closes the flow's first row. */
async function stack(count: number) {
  const table = new MemoryFlowTable(CONFIG);
  const outcome = await correlateBatch(
    [{ kinesis: { data: encodeWireBatch(records(count)).toString('base64'), sequenceNumber: '1' } }],
    { store: table, now: () => T0 },
    {
      timeouts: TIMEOUTS,
      schedule: CONFIG,
      lazyIndex: { slackMs: 1000, marginMs: 100 },
      writeConcurrency: 2,
      maxWriteAttempts: 5,
    },
  );
  expect(outcome.stats.rowsClosed).toBe(count);
  const batch: ChangeRecord[] = table.changes.map((item, i) => ({
    eventId: `event-${i}`,
    rows: closedRowsOf(item),
  }));
  const events: string[] = [];
  const inserted: FlowRow[] = [];
  const handedOver: Array<{ token: string; rows: readonly PendingRow[] }> = [];
  const faults = { handOver: 0, insert: 0 };
  const intents = new Map<string, ExportIntent>();
  const clickhouse: RowSink = {
    async insert(rows, token) {
      events.push(`insert ${token}`);
      if (faults.insert-- > 0) throw new Error('ClickHouse refused');
      inserted.push(...rows);
      return [];
    },
  };
  const exporter = () =>
    new StreamExporter(
      { get: async (id) => intents.get(id), put: async (id, intent) => void intents.set(id, intent) },
      clickhouse,
      {
        clusterUUID: 'c',
        onBatchExported: async (token, rows) => {
          events.push(`hand over ${token}`);
          if (faults.handOver-- > 0) throw new Error('outbox table unavailable');
          handedOver.push({ token, rows });
        },
      },
    );
  return { batch, exporter, events, inserted, handedOver, faults };
}

describe('the exporter hands each batch to the sinks outbox before its insert', () => {
  it('with the rows, their sink columns and the insert token, before the insert', async () => {
    const s = await stack(3);
    expect(await s.exporter().exportBatch(s.batch)).toMatchObject({ rowsInserted: 3 });
    const token = s.handedOver[0]!.token;
    expect(s.events).toEqual([`hand over ${token}`, `insert ${token}`]);
    expect(s.handedOver[0]!.rows.map((r) => r.row)).toEqual(s.inserted);
    expect(s.handedOver[0]!.rows[0]!.sinkColumns).toMatchObject({
      octetDeltaCountFromSourceNode: 500,
      packetTotalCountFromSourceNode: 5,
    });
  });

  it('a failed hand-over keeps the batch out of ClickHouse; delivered again, it is handed over, then inserted', async () => {
    const s = await stack(2);
    s.faults.handOver = 1;
    const exporter = s.exporter();
    await expect(exporter.exportBatch(s.batch)).rejects.toThrow('outbox table unavailable');
    expect(s.inserted).toEqual([]);
    expect(await exporter.exportBatch(s.batch)).toMatchObject({ replayedRows: 2, rowsInserted: 2 });
    expect(s.handedOver).toHaveLength(1);
    expect(s.events.map((e) => e.split(' ')[0])).toEqual(['hand', 'hand', 'insert']);
  });

  it('a failed insert is delivered again without a second hand-over; a new exporter hands it over again', async () => {
    const s = await stack(2);
    s.faults.insert = 2;
    const exporter = s.exporter();
    await expect(exporter.exportBatch(s.batch)).rejects.toThrow('ClickHouse refused');
    await expect(exporter.exportBatch(s.batch)).rejects.toThrow('ClickHouse refused');
    expect(s.handedOver).toHaveLength(1);
    expect(await s.exporter().exportBatch(s.batch)).toMatchObject({ replayedRows: 2 });
    expect(s.handedOver.map((h) => h.token)).toEqual([s.handedOver[0]!.token, s.handedOver[0]!.token]);
    expect(s.inserted).toHaveLength(2);
  });
});
