// What items holding several flows would save (issue 15's naive/Flowline >= 20x, not built): live flows
// through the real correlator into DynamoDB Local (both Nodes every 5 s, the 20 s window), then their
// stored items laid out three ways, with the write units per live flow per minute each implies at the 20 s
// window. A write unit is 1 KB of the item written; the due index's 0.11 units (a key move per 18 minutes)
// are added unchanged. Deterministic (fixed seed, fixed clock).
//   - one item per flow, as today: the measured item size (the check that the arithmetic gives today's 3);
//   - k flows to an item, written together: their merged records (names, labels) and counters deflated
//     together, plus the rows the write closed (a third of the flows per window, at their measured size);
//   - k flows to an item, counters only: names and labels in a per-flow item written once per lifetime;
//   - k flows to an item, the hot part a bucket would have to hold: each flow's key, its counters and the
//     merged record's fields that change with every record (end time and reason, TCP state, the record's
//     own totals and deltas, exporter, export time, sequence number, arrival).
//
//   node_modules/.bin/node --import tsx bench/multi-flow-items.ts [--flows 2048]

import { parseArgs } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../adapters/aws-clients.ts';
import { correlatorSettingsOf } from '../functions/correlator/config.ts';
import { correlateBatch } from '../functions/correlator/correlate-batch.ts';
import {
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
  type FlowItem,
  itemSizeOf,
  storedFlowOf,
} from '../functions/flow-store/index.ts';
import { generateRecords } from '../workloads/correlator-workload.ts';
import { scanAll } from './correlator.bench.ts';
import { useDynamoDbLocal } from './dynamodb.ts';
import { eventOf } from './flow-state.bench.ts';

const WINDOW_MS = 20_000;
const WINDOWS_PER_MINUTE = 60_000 / WINDOW_MS;
/** Rows closed per flow per window: one per activeFlowRecordTimeout (60 s). */
const ROWS_PER_FLOW_PER_WINDOW = 1 / 3;
const INDEX_UNITS_PER_FLOW_MINUTE = 0.11;
const GROUP_SIZES = [4, 16, 64];

const { values } = parseArgs({ options: { flows: { type: 'string', default: '2048' } } });

/**
 * The flows' items on DynamoDB Local after 80 s of records (every flow created, exported, live), and the
 * average size of the rows the items' last writes closed.
 */
async function liveItems(flows: number, names: 'short' | 'long') {
  const client = createDynamoDbClient();
  const tableName = `multi-flow-items-${names}-${process.pid}`;
  await client.send(new CreateTableCommand(createTableInput(tableName, { stream: false })));
  const schedule = defaultScheduleConfig();
  const store = new DynamoFlowStore(client, tableName, schedule);
  const settings = correlatorSettingsOf(schedule, { writeConcurrency: 16, maxWriteAttempts: 8 });
  const records = generateRecords({
    ...{ flows, rounds: 16, interNodeShare: 0.8, intervalSeconds: 5, startSeconds: 1_800_000_000 },
    ...{ seed: 7, names, phases: 'spread' },
  }).sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  let next = 0;
  let sequence = 0;
  for (let end = records[0]!.receivedAtMs + WINDOW_MS; next < records.length; end += WINDOW_MS) {
    const batch = [];
    while (next < records.length && records[next]!.receivedAtMs < end) batch.push(records[next++]!);
    const event = eventOf(batch, sequence);
    sequence += event.length;
    await correlateBatch(event, { store, now: () => end }, settings);
  }
  const items = (await scanAll(client, tableName)).sort((a, b) => a.pk!.S!.localeCompare(b.pk!.S!));
  client.destroy();
  const rowBytes = items.flatMap((item) => (item.rows?.B ? [item.rows.B.length] : []));
  return { items, rowBytes: rowBytes.reduce((a, b) => a + b, 0) / rowBytes.length };
}

const counters = (item: FlowItem) => Buffer.from(JSON.stringify(item.agg?.L?.map((v) => Number(v.N))));
/** What a bucket must hold per flow besides the counters: its key and the fields every record changes. */
const hotPart = (item: FlowItem) => {
  const r = storedFlowOf(item).state.flow.record;
  const changing = [
    ...[r.flowEndSeconds, r.flowEndReason, r.tcpState, r.exporterAddress, r.observationDomainId],
    ...[r.exportTime, r.sequenceNumber, r.receivedAtMs, r.packetTotalCount, r.packetDeltaCount],
    ...[r.octetTotalCount, r.octetDeltaCount, r.reversePacketTotalCount, r.reversePacketDeltaCount],
    ...[r.reverseOctetTotalCount, r.reverseOctetDeltaCount],
  ];
  return Buffer.concat([Buffer.from(item.pk!.S!), counters(item), Buffer.from(JSON.stringify(changing))]);
};
const wholeState = (item: FlowItem) =>
  Buffer.concat([Buffer.from(item.pk!.S!), Buffer.from(item.rec!.B!), counters(item)]);

/** Write units per live flow per minute with `k` flows to an item, each part deflated together. */
function unitsPerFlowMinute(parts: Buffer[], k: number, rowBytes: number): { bytes: number; units: number } {
  let units = 0;
  let bytes = 0;
  let flows = 0;
  for (let at = 0; at + k <= parts.length; at += k) {
    const state = deflateRawSync(Buffer.concat(parts.slice(at, at + k))).length;
    bytes += state;
    units += Math.ceil((state + k * ROWS_PER_FLOW_PER_WINDOW * rowBytes) / 1024);
    flows += k;
  }
  return { bytes: bytes / flows, units: (units / flows) * WINDOWS_PER_MINUTE + INDEX_UNITS_PER_FLOW_MINUTE };
}

const engine = await useDynamoDbLocal();
try {
  const lines = [
    '| names | layout | state bytes per flow | write units per live flow per minute (20 s window) |',
  ];
  lines.push('|---|---|---:|---:|');
  for (const names of ['short', 'long'] as const) {
    const { items, rowBytes } = await liveItems(Number(values.flows), names);
    const today = items.reduce((sum, item) => sum + Math.ceil(itemSizeOf(item) / 1024), 0) / items.length;
    const avgBytes = items.reduce((sum, item) => sum + itemSizeOf(item), 0) / items.length;
    lines.push(
      `| ${names} | one item per flow (today) | ${avgBytes.toFixed(0)} | ${(today * WINDOWS_PER_MINUTE + INDEX_UNITS_PER_FLOW_MINUTE).toFixed(2)} |`,
    );
    for (const k of GROUP_SIZES) {
      const whole = unitsPerFlowMinute(items.map(wholeState), k, rowBytes);
      lines.push(
        `| ${names} | ${k} flows to an item | ${whole.bytes.toFixed(0)} | ${whole.units.toFixed(2)} |`,
      );
    }
    for (const k of GROUP_SIZES) {
      const hot = unitsPerFlowMinute(items.map(counters), k, rowBytes);
      lines.push(
        `| ${names} | ${k} flows to an item, counters only | ${hot.bytes.toFixed(0)} | ${hot.units.toFixed(2)} |`,
      );
    }
    for (const k of GROUP_SIZES) {
      const hot = unitsPerFlowMinute(items.map(hotPart), k, rowBytes);
      lines.push(
        `| ${names} | ${k} flows to an item, the hot part (key, counters, per-record fields) | ${hot.bytes.toFixed(0)} | ${hot.units.toFixed(2)} |`,
      );
    }
    lines.push(`| ${names} | (rows closed: ${rowBytes.toFixed(0)} B per flow and export) | | |`);
  }

  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await engine.stop();
}
