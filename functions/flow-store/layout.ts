// Which layout the flow table has, and the store of that layout: one item per flow (store.ts,
// export-queue.ts) or buckets of flows (buckets.ts). The correlator and the ticker of one table must agree,
// so both read it from the same variables (lib/flow-store.ts flowLayoutEnvironment sets them).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_LAZY_INDEX } from '../../core/flow-state/advance.ts';
import { type ExportQueue, SINGLE_TICKER, type TickerPartition } from '../../core/flow-state/ports.ts';
import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { BucketFlowTable } from './buckets.ts';
import { EnvConfigError, positiveIntFromEnv } from './config.ts';
import { DynamoExportQueue } from './export-queue.ts';
import { DEFAULT_FLOW_BUCKETS } from './schema.ts';

export type FlowLayout =
  | { kind: 'per-flow' }
  /** `buckets`: FLOW_BUCKETS; `marginMs`: INDEX_MARGIN_SECONDS, when a bucket's due key moves. */
  | { kind: 'buckets'; buckets: number; marginMs: number };

type Env = Record<string, string | undefined>;

/** FLOW_LAYOUT (per-flow, the default, or buckets), FLOW_BUCKETS (4096), INDEX_MARGIN_SECONDS (120). */
export function flowLayoutFromEnv(env: Env = process.env): FlowLayout {
  const kind = env.FLOW_LAYOUT?.trim() || 'per-flow';
  if (kind === 'per-flow') return { kind };
  if (kind !== 'buckets') throw new EnvConfigError(`FLOW_LAYOUT=${kind}: expected per-flow or buckets`);
  return {
    kind,
    buckets: positiveIntFromEnv(env, 'FLOW_BUCKETS', DEFAULT_FLOW_BUCKETS),
    marginMs: 1000 * positiveIntFromEnv(env, 'INDEX_MARGIN_SECONDS', DEFAULT_LAZY_INDEX.marginMs / 1000),
  };
}

/** The flow table's store in its layout: the correlator's FlowStore and the ticker's ExportQueue. */
export function openFlowTable(
  client: DynamoDBClient,
  tableName: string,
  schedule: ScheduleConfig,
  layout: FlowLayout,
  partition: TickerPartition = SINGLE_TICKER,
): ExportQueue {
  if (layout.kind === 'per-flow') return new DynamoExportQueue(client, tableName, schedule, partition);
  return new BucketFlowTable(client, tableName, schedule, {
    buckets: layout.buckets,
    marginMs: layout.marginMs,
    partition,
  });
}
