// The exporter's settings, from its environment (README "Configuration"): the flow table (its intents live
// there) and ClickHouse (functions/exporter/clickhouse-target.ts clickHouseTargetFromEnv).
import { DEFAULT_TABLE_NAME } from '../flow-store/schema.ts';
import { type ClickHouseTarget, clickHouseTargetFromEnv } from './clickhouse-target.ts';

export interface ExporterConfig extends ClickHouseTarget {
  tableName: string;
}

export function exporterConfigFromEnv(env: Record<string, string | undefined> = process.env): ExporterConfig {
  return { ...clickHouseTargetFromEnv(env), tableName: env.TABLE_NAME?.trim() || DEFAULT_TABLE_NAME };
}
