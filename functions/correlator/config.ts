// Correlator settings from the Lambda environment (README "Configuration").

import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { positiveIntFromEnv, scheduleConfigFromEnv } from '../flow-store/config.ts';
import { DEFAULT_TABLE_NAME } from '../flow-store/schema.ts';
import type { CorrelatorSettings } from './correlate-batch.ts';

export interface CorrelatorConfig {
  tableName: string;
  schedule: ScheduleConfig;
  settings: CorrelatorSettings;
}

/**
 * TABLE_NAME, the schedule variables of scheduleConfigFromEnv, WRITE_CONCURRENCY (32 conditional writes in
 * flight) and MAX_WRITE_ATTEMPTS (8 optimistic attempts per flow key and batch).
 */
export function correlatorConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): CorrelatorConfig {
  const schedule = scheduleConfigFromEnv(env);
  return {
    tableName: env.TABLE_NAME?.trim() || DEFAULT_TABLE_NAME,
    schedule,
    settings: {
      timeouts: { activeTimeoutMs: schedule.activeTimeoutMs, inactiveTimeoutMs: schedule.inactiveTimeoutMs },
      writeConcurrency: positiveIntFromEnv(env, 'WRITE_CONCURRENCY', 32),
      maxWriteAttempts: positiveIntFromEnv(env, 'MAX_WRITE_ATTEMPTS', 8),
    },
  };
}
