// Correlator settings from the Lambda environment (README "Configuration").

import { DEFAULT_LAZY_INDEX, type LazyIndexConfig } from '../../core/flow-state/advance.ts';
import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { positiveIntFromEnv, scheduleConfigFromEnv } from '../flow-store/config.ts';
import { type FlowLayout, flowLayoutFromEnv } from '../flow-store/layout.ts';
import { DEFAULT_TABLE_NAME } from '../flow-store/schema.ts';
import type { CorrelatorSettings } from './correlate-batch.ts';

export interface CorrelatorConfig {
  tableName: string;
  schedule: ScheduleConfig;
  layout: FlowLayout;
  settings: CorrelatorSettings;
}

/**
 * TABLE_NAME, the schedule variables of scheduleConfigFromEnv, the layout's (flowLayoutFromEnv), WRITE_CONCURRENCY (32 conditional writes in
 * flight), MAX_WRITE_ATTEMPTS (8 optimistic attempts per flow key and batch), INDEX_SLACK_SECONDS and
 * INDEX_MARGIN_SECONDS (the lazy due-index key, core/flow-state/advance.ts: 1200 and 120).
 */
/** The correlator's settings on `schedule` (its timeouts, its steps), the lazy index key by default. */
export function correlatorSettingsOf(
  schedule: ScheduleConfig,
  limits: { writeConcurrency: number; maxWriteAttempts: number; lazyIndex?: LazyIndexConfig },
): CorrelatorSettings {
  return {
    timeouts: { activeTimeoutMs: schedule.activeTimeoutMs, inactiveTimeoutMs: schedule.inactiveTimeoutMs },
    schedule,
    lazyIndex: limits.lazyIndex ?? DEFAULT_LAZY_INDEX,
    writeConcurrency: limits.writeConcurrency,
    maxWriteAttempts: limits.maxWriteAttempts,
  };
}

export function correlatorConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): CorrelatorConfig {
  const schedule = scheduleConfigFromEnv(env);
  return {
    tableName: env.TABLE_NAME?.trim() || DEFAULT_TABLE_NAME,
    schedule,
    layout: flowLayoutFromEnv(env),
    settings: correlatorSettingsOf(schedule, {
      lazyIndex: {
        slackMs: 1000 * positiveIntFromEnv(env, 'INDEX_SLACK_SECONDS', DEFAULT_LAZY_INDEX.slackMs / 1000),
        marginMs: 1000 * positiveIntFromEnv(env, 'INDEX_MARGIN_SECONDS', DEFAULT_LAZY_INDEX.marginMs / 1000),
      },
      writeConcurrency: positiveIntFromEnv(env, 'WRITE_CONCURRENCY', 32),
      maxWriteAttempts: positiveIntFromEnv(env, 'MAX_WRITE_ATTEMPTS', 8),
    }),
  };
}
