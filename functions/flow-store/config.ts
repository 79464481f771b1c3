// The schedule settings both functions read from their environment, so correlator and ticker agree.

import type { ScheduleConfig } from '../../core/flow-state/state.ts';
import { DEFAULT_DUE_SHARD_COUNT } from './schema.ts';

export class EnvConfigError extends Error {
  override name = 'EnvConfigError';
}

type Env = Record<string, string | undefined>;

/** A positive integer from the environment, or the default when unset/empty. */
export function positiveIntFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new EnvConfigError(`${name}=${raw}: expected a positive integer`);
  return value;
}

/**
 * ACTIVE_TIMEOUT_SECONDS (60), INACTIVE_TIMEOUT_SECONDS (90), INCOMPLETE_AFTER_SECONDS (3 x active),
 * FLOW_TTL_SECONDS (86400), DUE_SHARD_COUNT (16).
 */
export function scheduleConfigFromEnv(env: Env = process.env): ScheduleConfig {
  const activeSeconds = positiveIntFromEnv(env, 'ACTIVE_TIMEOUT_SECONDS', 60);
  const inactiveSeconds = positiveIntFromEnv(env, 'INACTIVE_TIMEOUT_SECONDS', 90);
  return {
    activeTimeoutMs: activeSeconds * 1000,
    inactiveTimeoutMs: inactiveSeconds * 1000,
    incompleteAfterMs: positiveIntFromEnv(env, 'INCOMPLETE_AFTER_SECONDS', 3 * activeSeconds) * 1000,
    flowTtlSeconds: positiveIntFromEnv(env, 'FLOW_TTL_SECONDS', 86_400),
    dueShardCount: positiveIntFromEnv(env, 'DUE_SHARD_COUNT', DEFAULT_DUE_SHARD_COUNT),
  };
}
