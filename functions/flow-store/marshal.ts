// FlowState <-> DynamoDB item (design: index.ts), and the conditional write both functions use.

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AggregatedFlow, Counters } from '../../core/aggregated-flow.ts';
import type { FlowRecord } from '../../core/flow-record.ts';
import type { WriteExtras } from '../../core/flow-state/ports.ts';
import type { ExportedFlow } from '../../core/flow-state/schedule.ts';
import {
  type CounterQuad,
  expiresAtOf,
  type FlowState,
  type NodeMark,
  nextExportAtOf,
  type ScheduleConfig,
  type StoredFlow,
} from '../../core/flow-state/state.ts';
import { decodeWireBatch, encodeWireBatch } from '../../core/wire.ts';
import { decodeClosedRows, decodeRowGroups, encodeClosedRows, rowsDictionaryOf } from './closed-rows.ts';
import { ATTR, BUCKET_PK_PREFIX, dueShardOf } from './schema.ts';

export type FlowItem = Record<string, AttributeValue>;

export const AGG_LAYOUT_VERSION = 2;
/** Layout 1 (per-Node replay watermarks) is still read, so items written before the upgrade keep working. */
const AGG_LAYOUT_VERSION_1 = 1;

const FLAG_CORRELATION_REQUIRED = 1;
const FLAG_READY = 2;
const FLAG_INCOMPLETE = 4;
const FLAG_CLOSED = 8;
const FLAG_SOURCE_MARK = 16;
const FLAG_DESTINATION_MARK = 32;

/** Positions in `agg` (layout 2): documentation for anyone reading raw items. */
export const AGG_LAYOUT_V2 = [
  'layoutVersion',
  'flags(1 correlationRequired, 2 readyToSend, 4 incomplete, 8 closed, 16 sourceMark, 32 destinationMark)',
  'createdAtMs',
  'activeExpireAtMs',
  'inactiveExpireAtMs',
  'lastExportAtMs',
  'flowEndSecondsFromSourceNode',
  'flowEndSecondsFromDestinationNode',
  'statsFromSourceNode{packetTotal,packetDelta,octetTotal,octetDelta}',
  'reverseStatsFromSourceNode{...}',
  'statsFromDestinationNode{...}',
  'reverseStatsFromDestinationNode{...}',
  'throughput,reverseThroughput,throughputFromSourceNode,reverseThroughputFromSourceNode,throughputFromDestinationNode,reverseThroughputFromDestinationNode',
  'sourceMark{connectionStart,low[packets,octets,reversePackets,reverseOctets],high[...],exportTime,sequenceNumber}',
  'destinationMark{...}',
  'lead[packets,octets,reversePackets,reverseOctets] (source minus destination)',
] as const;

const MARK_LENGTH = 11;
const AGG_LENGTH_V2 = 8 + 16 + 6 + 2 * MARK_LENGTH + 4;
/** Layout 1 ended with two watermarks {flowEndSeconds, four totals, exportTime, sequenceNumber}. */
const AGG_LENGTH_V1 = 8 + 16 + 6 + 7 + 7;

const num = (value: number): AttributeValue => ({ N: String(value) });

/**
 * First byte of a `rec` value holding the wire record deflated (raw deflate, node:zlib) instead of the wire
 * record itself (which starts with the wire magic 'F'). Long Pod, namespace, Node and policy names and Pod
 * labels made items of 1.2-1.3 KB, two write units per correlator write; deflated they stay under 1 KB.
 */
const DEFLATED_RECORD = 0x5a; // 'Z'
/** The most a deflated `rec` may inflate to: items are at most 400 KB. */
const MAX_RECORD_BYTES = 400 * 1024;
/** Below this a record's deflate rarely pays for itself: such records are stored as they are. */
const DEFLATE_FROM_BYTES = 256;

/** The `rec` value of a record: its wire encoding, deflated when that is smaller. */
export function recordAttributeOf(record: FlowRecord): Uint8Array {
  return recordAttributeOfWire(encodeWireBatch([record]));
}

function recordAttributeOfWire(wire: Buffer): Uint8Array {
  if (wire.length < DEFLATE_FROM_BYTES) return wire;
  const deflated = deflateRawSync(wire);
  if (deflated.length + 1 >= wire.length) return wire;
  const out = Buffer.allocUnsafe(deflated.length + 1);
  out[0] = DEFLATED_RECORD;
  deflated.copy(out, 1);
  return out;
}

/** The wire record a `rec` value holds (inflated when it was stored deflated). */
function recordWireOfAttribute(bytes: Uint8Array, pk: string): Uint8Array {
  if (bytes[0] !== DEFLATED_RECORD) return bytes;
  try {
    return inflateRawSync(bytes.subarray(1), { maxOutputLength: MAX_RECORD_BYTES });
  } catch (error) {
    throw new FlowItemError(`item ${pk}: ${ATTR.record} does not inflate (${String(error)})`);
  }
}

/** The record a `rec` value holds. */
export function recordOfAttribute(bytes: Uint8Array, pk: string): FlowRecord {
  const record = decodeWireBatch(recordWireOfAttribute(bytes, pk))[0];
  if (!record) throw new FlowItemError(`item ${pk}: ${ATTR.record} holds no record`);
  return record;
}

function countersOut(c: Counters): number[] {
  return [c.packetTotalCount, c.packetDeltaCount, c.octetTotalCount, c.octetDeltaCount];
}

function markOut(mark: NodeMark | undefined): number[] {
  if (!mark) return new Array(MARK_LENGTH).fill(0);
  return [mark.connectionStart, ...mark.low, ...mark.high, mark.exportTime, mark.sequenceNumber];
}

export function aggregationListOf(state: FlowState): number[] {
  const f = state.flow;
  const flags =
    (f.correlationRequired ? FLAG_CORRELATION_REQUIRED : 0) |
    (f.readyToSend ? FLAG_READY : 0) |
    (f.incomplete ? FLAG_INCOMPLETE : 0) |
    (state.closed ? FLAG_CLOSED : 0) |
    (state.sourceMark ? FLAG_SOURCE_MARK : 0) |
    (state.destinationMark ? FLAG_DESTINATION_MARK : 0);
  return [
    AGG_LAYOUT_VERSION,
    flags,
    state.createdAtMs,
    state.activeExpireAtMs,
    state.inactiveExpireAtMs,
    state.lastExportAtMs,
    f.flowEndSecondsFromSourceNode,
    f.flowEndSecondsFromDestinationNode,
    ...countersOut(f.statsFromSourceNode),
    ...countersOut(f.reverseStatsFromSourceNode),
    ...countersOut(f.statsFromDestinationNode),
    ...countersOut(f.reverseStatsFromDestinationNode),
    f.throughput,
    f.reverseThroughput,
    f.throughputFromSourceNode,
    f.reverseThroughputFromSourceNode,
    f.throughputFromDestinationNode,
    f.reverseThroughputFromDestinationNode,
    ...markOut(state.sourceMark),
    ...markOut(state.destinationMark),
    ...state.lead,
  ];
}

/** DynamoDB's item size rules (attribute names + values; numbers ~1 byte per 2 digits + 1). */
export function itemSizeOf(item: FlowItem): number {
  const valueBytes = (v: FlowItem[string]): number => {
    if (v.S !== undefined) return Buffer.byteLength(v.S);
    if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
    if (v.B !== undefined) return v.B.length;
    if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
    if (v.L !== undefined) return 3 + v.L.reduce((sum, e) => sum + 1 + valueBytes(e), 0);
    return 0;
  };
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

export class FlowItemError extends Error {
  override name = 'FlowItemError';
}

function numberOf(value: AttributeValue | undefined, what: string): number {
  if (!value || value.N === undefined) throw new FlowItemError(`item attribute ${what} is not a number`);
  return Number(value.N);
}

/** Decodes an item read from the table. Throws FlowItemError on an item this code does not understand. */
export function storedFlowOf(item: FlowItem): StoredFlow {
  const pk = item[ATTR.pk]?.S;
  if (pk === undefined) throw new FlowItemError('item has no pk');
  const recordBytes = item[ATTR.record]?.B;
  if (!recordBytes) throw new FlowItemError(`item ${pk} has no ${ATTR.record}`);
  const record = recordOfAttribute(recordBytes, pk);
  const list = item[ATTR.aggregation]?.L;
  if (!list) throw new FlowItemError(`item ${pk} has no ${ATTR.aggregation}`);
  const aggregation = list.map((v, i) => numberOf(v, `${ATTR.aggregation}[${i}]`));
  const indexKey = item[ATTR.nextExportAt]?.N;
  return {
    version: numberOf(item[ATTR.version], ATTR.version),
    expiresAt: numberOf(item[ATTR.expiresAt], ATTR.expiresAt),
    ...(indexKey !== undefined ? { indexKey: Number(indexKey) } : {}),
    state: flowStateOf(pk, record, aggregation, {
      updated: item[ATTR.updated]?.BOOL === true,
      exportSeq: numberOf(item[ATTR.exportSeq], ATTR.exportSeq),
    }),
  };
}

/**
 * The state of flow `pk` from its merged record and its `agg` numbers (layout 2, or 1), as stored; throws
 * FlowItemError on a layout this code does not understand.
 */
export function flowStateOf(
  pk: string,
  record: FlowRecord,
  a: readonly number[],
  stored: { updated: boolean; exportSeq: number },
): FlowState {
  const layout1 = a[0] === AGG_LAYOUT_VERSION_1 && a.length === AGG_LENGTH_V1;
  if (!layout1 && (a[0] !== AGG_LAYOUT_VERSION || a.length !== AGG_LENGTH_V2)) {
    throw new FlowItemError(
      `item ${pk}: ${ATTR.aggregation} layout ${a[0]} (length ${a.length}) not supported`,
    );
  }
  let i = 1;
  const next = (): number => a[i++]!;
  const counters = (): Counters => ({
    packetTotalCount: next(),
    packetDeltaCount: next(),
    octetTotalCount: next(),
    octetDeltaCount: next(),
  });
  const quad = (): CounterQuad => [next(), next(), next(), next()];
  const mark = (): NodeMark => {
    if (layout1) {
      // A layout-1 watermark: its totals were counted; its connection is the item's (start of the merged record).
      next(); // flowEndSeconds
      const high = quad();
      return {
        connectionStart: record.flowStartSeconds,
        low: [0, 0, 0, 0],
        high,
        exportTime: next(),
        sequenceNumber: next(),
      };
    }
    return { connectionStart: next(), low: quad(), high: quad(), exportTime: next(), sequenceNumber: next() };
  };
  const flags = next();
  const createdAtMs = next();
  const activeExpireAtMs = next();
  const inactiveExpireAtMs = next();
  const lastExportAtMs = next();
  const flowEndSecondsFromSourceNode = next();
  const flowEndSecondsFromDestinationNode = next();
  const flow: AggregatedFlow = {
    flowKey: pk,
    record,
    correlationRequired: (flags & FLAG_CORRELATION_REQUIRED) !== 0,
    readyToSend: (flags & FLAG_READY) !== 0,
    flowEndSecondsFromSourceNode,
    flowEndSecondsFromDestinationNode,
    statsFromSourceNode: counters(),
    reverseStatsFromSourceNode: counters(),
    statsFromDestinationNode: counters(),
    reverseStatsFromDestinationNode: counters(),
    throughput: next(),
    reverseThroughput: next(),
    throughputFromSourceNode: next(),
    reverseThroughputFromSourceNode: next(),
    throughputFromDestinationNode: next(),
    reverseThroughputFromDestinationNode: next(),
    incomplete: (flags & FLAG_INCOMPLETE) !== 0,
  };
  const sourceMark = mark();
  const destinationMark = mark();
  const lead: CounterQuad = layout1 ? [0, 0, 0, 0] : quad();
  return {
    flow,
    activeExpireAtMs,
    inactiveExpireAtMs,
    updatedSinceExport: stored.updated,
    createdAtMs,
    exportSeq: stored.exportSeq,
    lastExportAtMs,
    closed: (flags & FLAG_CLOSED) !== 0,
    sourceMark: flags & FLAG_SOURCE_MARK ? sourceMark : undefined,
    destinationMark: flags & FLAG_DESTINATION_MARK ? destinationMark : undefined,
    lead,
  };
}

/** The full item a write produces (for tests, local tools, and to size items). */
export function flowItemOf(
  state: FlowState,
  version: number,
  nowMs: number,
  config: ScheduleConfig,
  extras?: WriteExtras,
): FlowItem {
  const recordWire = encodeWireBatch([state.flow.record]);
  const aggregation = aggregationListOf(state);
  const item: FlowItem = {
    [ATTR.pk]: { S: state.flow.flowKey },
    [ATTR.version]: num(version),
    [ATTR.record]: { B: recordAttributeOfWire(recordWire) },
    [ATTR.aggregation]: { L: aggregation.map(num) },
    [ATTR.updated]: { BOOL: state.updatedSinceExport },
    [ATTR.exportSeq]: num(state.exportSeq),
    [ATTR.expiresAt]: num(expiresAtOf(state, nowMs, config)),
  };
  const rows = extras && encodeClosedRows(extras.rows, rowsDictionaryOf(recordWire, aggregation));
  if (rows) item[ATTR.rows] = { B: rows };
  const nextExportAt = extras ? extras.indexKey : nextExportAtOf(state, config);
  if (nextExportAt !== undefined) {
    item[ATTR.dueShard] = { S: dueShardOf(state.flow.flowKey, config.dueShardCount) };
    item[ATTR.nextExportAt] = num(nextExportAt);
  }
  return item;
}

export interface ConditionalWrite {
  Key: FlowItem;
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: FlowItem;
}

/** The attributes a write replaces: set when the new item has them, removed when it does not. */
const WRITTEN_ATTRIBUTES = [
  ATTR.version,
  ATTR.record,
  ATTR.aggregation,
  ATTR.updated,
  ATTR.exportSeq,
  ATTR.expiresAt,
  ATTR.dueShard,
  ATTR.nextExportAt,
  ATTR.rows,
] as const;

/**
 * The UpdateItem that replaces the item's state with `state` as version expectedVersion + 1, only if the
 * item is still at expectedVersion (or still absent when expectedVersion is undefined). The index keys
 * are removed when the flow is closed, which takes it out of the sparse index.
 */
export function conditionalWriteOf(
  state: FlowState,
  expectedVersion: number | undefined,
  nowMs: number,
  config: ScheduleConfig,
  extras?: WriteExtras,
): ConditionalWrite {
  const item = flowItemOf(state, (expectedVersion ?? 0) + 1, nowMs, config, extras);
  const names: Record<string, string> = {};
  const values: FlowItem = {};
  const sets: string[] = [];
  const removes: string[] = [];
  for (const attribute of WRITTEN_ATTRIBUTES) {
    names[`#${attribute}`] = attribute;
    const value = item[attribute];
    if (value) {
      values[`:${attribute}`] = value;
      sets.push(`#${attribute} = :${attribute}`);
    } else removes.push(`#${attribute}`);
  }
  let condition: string;
  if (expectedVersion === undefined) {
    // DynamoDB rejects unused expression names, so #pk only appears with its use.
    names[`#${ATTR.pk}`] = ATTR.pk;
    condition = `attribute_not_exists(#${ATTR.pk})`;
  } else {
    condition = `#${ATTR.version} = :expectedVersion`;
    values[':expectedVersion'] = num(expectedVersion);
  }
  return {
    Key: { [ATTR.pk]: { S: state.flow.flowKey } },
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

export interface ConditionalStatement {
  Statement: string;
  Parameters: AttributeValue[];
}

/**
 * The same conditional write as conditionalWriteOf, of an item that exists at expectedVersion, as a
 * PartiQL UPDATE: BatchExecuteStatement carries 25 of them per request, each with its own condition and
 * outcome, where UpdateItem carries one.
 */
export function conditionalStatementOf(
  tableName: string,
  state: FlowState,
  expectedVersion: number,
  nowMs: number,
  config: ScheduleConfig,
  extras?: WriteExtras,
): ConditionalStatement {
  const item = flowItemOf(state, expectedVersion + 1, nowMs, config, extras);
  const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const parameters: AttributeValue[] = [];
  const sets: string[] = [];
  const removes: string[] = [];
  for (const attribute of WRITTEN_ATTRIBUTES) {
    const value = item[attribute];
    if (value) {
      sets.push(` SET ${quoted(attribute)} = ?`);
      parameters.push(value);
    } else removes.push(` REMOVE ${quoted(attribute)}`);
  }
  parameters.push({ S: state.flow.flowKey }, num(expectedVersion));
  return {
    Statement: `UPDATE ${quoted(tableName)}${sets.join('')}${removes.join('')} WHERE ${quoted(ATTR.pk)} = ? AND ${quoted(ATTR.version)} = ?`,
    Parameters: parameters,
  };
}

/** A bucket's entries inflate to far less: the bound keeps a corrupt item from taking memory. */
const MAX_BUCKET_ENTRIES_BYTES = 4 * 1024 * 1024;

/** The plain entries of a bucket's `flows` attribute (buckets.ts), also the dictionary of its rows. */
export function inflateBucketEntries(bytes: Uint8Array, pk: string): Buffer {
  try {
    return inflateRawSync(bytes, { maxOutputLength: MAX_BUCKET_ENTRIES_BYTES });
  } catch (error) {
    throw new FlowItemError(`bucket ${pk}: ${ATTR.flows} does not inflate (${String(error)})`);
  }
}

/** The rows an item's write closed (its `rows` attribute), as the stream's NEW_IMAGE carries them. */
export function closedRowsOf(item: FlowItem): ExportedFlow[] {
  const bytes = item[ATTR.rows]?.B;
  if (!bytes) return [];
  const pk = item[ATTR.pk]?.S;
  if (pk?.startsWith(BUCKET_PK_PREFIX)) {
    const flows = item[ATTR.flows]?.B;
    if (!flows) throw new FlowItemError(`bucket ${pk} with rows but no ${ATTR.flows}`);
    return decodeRowGroups(bytes, pk, inflateBucketEntries(flows, pk));
  }
  const recordBytes = item[ATTR.record]?.B;
  const list = item[ATTR.aggregation]?.L;
  if (pk === undefined || !recordBytes || !list) throw new FlowItemError('item with rows but no state');
  const aggregation = list.map((v, i) => numberOf(v, `${ATTR.aggregation}[${i}]`));
  const dictionary = rowsDictionaryOf(recordWireOfAttribute(recordBytes, pk), aggregation);
  return decodeClosedRows(bytes, pk, dictionary);
}
