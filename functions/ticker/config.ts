// The ticker's settings, from its environment (README "Configuration").
import type { TickerPartition } from '../../core/flow-state/ports.ts';
import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { EnvConfigError, positiveIntFromEnv, scheduleConfigFromEnv } from '../flow-store/config.ts';
import { type FlowLayout, flowLayoutFromEnv } from '../flow-store/layout.ts';
import { DEFAULT_TABLE_NAME } from '../flow-store/schema.ts';

type Env = Record<string, string | undefined>;

export interface TickerConfig {
  tableName: string;
  schedule: ScheduleConfig;
  layout: FlowLayout;
  /** TICKER_INDEX of TICKER_COUNT (default 0 of 1): the due-index shards it owns. */
  partition: TickerPartition;
  commitIntervalMs: number;
  runForMs: number;
  maxBackoffMs: number;
  maxFlowsPerRound: number;
  writeConcurrency: number;
}

/** TICKER_COUNT tickers (at most one per due shard), this one TICKER_INDEX (0-based). */
export function partitionFromEnv(env: Env, dueShardCount: number): TickerPartition {
  const count = positiveIntFromEnv(env, 'TICKER_COUNT', 1);
  const raw = env.TICKER_INDEX?.trim() || '0';
  const index = Number(raw);
  if (count > dueShardCount)
    throw new EnvConfigError(`TICKER_COUNT=${count}: at most DUE_SHARD_COUNT (${dueShardCount}) tickers`);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new EnvConfigError(
      `TICKER_INDEX=${raw}: expected an integer from 0 to TICKER_COUNT - 1 (${count - 1})`,
    );
  return { index, count };
}

/**
 * TABLE_NAME, the schedule variables of scheduleConfigFromEnv, the layout's (flowLayoutFromEnv),
 * TICKER_INDEX / TICKER_COUNT,
 * COMMIT_INTERVAL_SECONDS (8: Antrea's commitInterval, the round interval), RUN_FOR_SECONDS (55),
 * MAX_BACKOFF_SECONDS (60), MAX_FLOWS_PER_ROUND (10,000) and WRITE_CONCURRENCY (8 requests of 25 writes).
 */
export function tickerConfigFromEnv(env: Env = process.env): TickerConfig {
  const schedule = scheduleConfigFromEnv(env);
  return {
    tableName: env.TABLE_NAME?.trim() || DEFAULT_TABLE_NAME,
    schedule,
    layout: flowLayoutFromEnv(env),
    partition: partitionFromEnv(env, schedule.dueShardCount),
    commitIntervalMs: positiveIntFromEnv(env, 'COMMIT_INTERVAL_SECONDS', 8) * 1000,
    runForMs: positiveIntFromEnv(env, 'RUN_FOR_SECONDS', 55) * 1000,
    maxBackoffMs: positiveIntFromEnv(env, 'MAX_BACKOFF_SECONDS', 60) * 1000,
    maxFlowsPerRound: positiveIntFromEnv(env, 'MAX_FLOWS_PER_ROUND', 10_000),
    writeConcurrency: positiveIntFromEnv(env, 'WRITE_CONCURRENCY', 8),
  };
}
