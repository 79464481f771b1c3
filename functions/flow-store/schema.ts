// Table, attribute and index names of the flow store (design: index.ts). The CDK app (lib/flow-store.ts),
// local mode and the tests create the table from FLOW_TABLE_SCHEMA, so every environment has one shape.

export const ATTR = {
  pk: 'pk',
  version: 'v',
  record: 'rec',
  aggregation: 'agg',
  updated: 'updated',
  exportSeq: 'exportSeq',
  dueShard: 'dueShard',
  nextExportAt: 'nextExportAt',
  expiresAt: 'expiresAt',
  rows: 'rows',
  /** Bucket items (buckets.ts): their flows' entries. */
  flows: 'flows',
} as const;

/**
 * "byDueAt", KEYS_ONLY: the stream model exports in the correlator's writes, so exportSeq changes with most
 * of them and may not be projected (the flusher model's "byDue" carried it). A projection cannot change in
 * place, and CloudFormation refuses to drop one index and create another in one update: a stack deployed
 * with "byDue" is upgraded side by side (docs/deploy.md).
 */
export const DUE_INDEX_NAME = 'byDueAt';
export const DEFAULT_DUE_SHARD_COUNT = 16;
export const DEFAULT_TABLE_NAME = 'flowline-flows';

/** Structurally the FlowTableSchema of lib/flow-store.ts (no CDK import here: Lambda code uses this file). */
export const FLOW_TABLE_SCHEMA = {
  partitionKey: { name: ATTR.pk, type: 'S' },
  ttlAttribute: ATTR.expiresAt,
  /** The exporter reads every write's new image (its closed rows) from the table's stream. */
  streamViewType: 'NEW_IMAGE',
  dueIndex: {
    name: DUE_INDEX_NAME,
    partitionKey: { name: ATTR.dueShard, type: 'S' },
    sortKey: { name: ATTR.nextExportAt, type: 'N' },
    // Keys only: the index is written only when its key moves (an ALL projection would write it on every
    // correlator update, a projected exportSeq on every export).
    nonKeyAttributes: [],
  },
} as const satisfies {
  partitionKey: { name: string; type: 'S' | 'N' | 'B' };
  ttlAttribute: string;
  streamViewType: 'NEW_IMAGE';
  dueIndex: {
    name: string;
    partitionKey: { name: string; type: 'S' | 'N' | 'B' };
    sortKey: { name: string; type: 'S' | 'N' | 'B' };
    nonKeyAttributes: string[];
  };
};

/**
 * The CreateTable input for local engines and tests (on-demand, the same keys, index and stream as the CDK
 * app). `stream: false` leaves the stream out, for benchmarks that measure write units only: the stream
 * changes no consumed capacity, and DynamoDB Local is slower with it.
 */
export function createTableInput(tableName: string, options: { stream?: boolean } = {}) {
  const s = FLOW_TABLE_SCHEMA;
  const withStream = options.stream ?? true;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: s.partitionKey.name, AttributeType: s.partitionKey.type },
      { AttributeName: s.dueIndex.partitionKey.name, AttributeType: s.dueIndex.partitionKey.type },
      { AttributeName: s.dueIndex.sortKey.name, AttributeType: s.dueIndex.sortKey.type },
    ],
    KeySchema: [{ AttributeName: s.partitionKey.name, KeyType: 'HASH' as const }],
    ...(withStream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: s.streamViewType } } : {}),
    GlobalSecondaryIndexes: [
      {
        IndexName: s.dueIndex.name,
        KeySchema: [
          { AttributeName: s.dueIndex.partitionKey.name, KeyType: 'HASH' as const },
          { AttributeName: s.dueIndex.sortKey.name, KeyType: 'RANGE' as const },
        ],
        Projection:
          s.dueIndex.nonKeyAttributes.length === 0
            ? { ProjectionType: 'KEYS_ONLY' as const }
            : { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...s.dueIndex.nonKeyAttributes] },
      },
    ],
  };
}

/** FNV-1a 32-bit: cheap, stable across runtimes, spreads similar 5-tuples evenly. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function dueShardOf(flowKey: string, shardCount: number = DEFAULT_DUE_SHARD_COUNT): string {
  return `due#${fnv1a32(flowKey) % shardCount}`;
}

/** Every GSI partition the tickers must query. */
export function allDueShards(shardCount: number = DEFAULT_DUE_SHARD_COUNT): string[] {
  return Array.from({ length: shardCount }, (_, i) => `due#${i}`);
}

/** The GSI partitions one of N tickers owns: shard s with s mod count = index. */
export function ownedDueShards(
  partition: { index: number; count: number },
  shardCount: number = DEFAULT_DUE_SHARD_COUNT,
): string[] {
  return allDueShards(shardCount).filter((_, s) => s % partition.count === partition.index);
}

/** The flow table's layouts (layout.ts): one item per flow, or buckets of flows (buckets.ts). */
export const FLOW_LAYOUTS = ['per-flow', 'buckets'] as const;
/** About 32 live flows to a bucket at the cost model's 100,000 connections (docs/flow-state-and-scale-out.md). */
export const DEFAULT_FLOW_BUCKETS = 4096;

/** The bucketed layout's items (buckets.ts): a bucket of flows, and a flow's names. */
export const BUCKET_PK_PREFIX = 'bucket#';
export const NAMES_PK_PREFIX = 'names#';

/** Items that are not flows start with these (a flow key always holds four '|'). */
export const OUTBOX_PK_PREFIX = 'flusher#';
/** The exporter's intent items (functions/exporter/intent-store.ts): one per stream batch with rows. */
export const INTENT_PK_PREFIX = 'exporter#intent#';

/**
 * The pk prefix of the sink outbox items (sink-outbox.ts): "flusher#outbox#" for partition 0, the
 * exporter's (the name the flusher gave them, so an outbox left by it is delivered), "flusher#<i>#outbox#".
 */
export function outboxPrefixOf(partition: number): string {
  return partition === 0 ? `${OUTBOX_PK_PREFIX}outbox#` : `${OUTBOX_PK_PREFIX}${partition}#outbox#`;
}
