// Versioned SQL migrations (clickhouse/migrations/NNNN_name.sql), applied in order and idempotently:
// applied versions are tracked in `flowline_schema_migrations`, every statement is idempotent (CREATE ...
// IF NOT EXISTS, ALTER ... MODIFY QUERY), so a run interrupted half-way can simply be repeated, and the
// retention TTL is a parameter that can be changed later by re-running with another --ttl.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseExecutor } from './client.ts';
import { adoptTheiaFlows, type TheiaAdoption } from './theia.ts';

export const MIGRATIONS_TABLE = 'flowline_schema_migrations';
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Theia's default retention (values.yaml clickhouse.ttl). */
export const DEFAULT_TTL = '12 HOUR';
/**
 * Migrations whose tables and views Theia's schema already provides under the same names (the flows table
 * and the pod/node/policy views): on a database Theia laid out they are recorded, not run (clickhouse/theia.ts).
 */
export const PROVIDED_BY_THEIA = [1, 2, 3] as const;
/** The tables the retention TTL applies to (the flows table and the views' target tables). */
export const TTL_TABLES = ['flows', 'pod_view_table', 'node_view_table', 'policy_view_table'] as const;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const UNIT_SECONDS: Record<string, number> = {
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86_400,
  WEEK: 604_800,
  MONTH: 2_592_000,
};

export interface Retention {
  /** SQL interval body, e.g. "12 HOUR". */
  interval: string;
  seconds: number;
  /** How ClickHouse prints it back in engine_full, e.g. "toIntervalHour(12)". */
  normalized: string;
  /** Theia: merge_with_ttl_timeout = min(ttl, 4 h). */
  mergeWithTtlTimeout: number;
}

export function parseRetention(text: string): Retention {
  const match = /^\s*(\d+)\s+(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH)S?\s*$/i.exec(text);
  const amount = match ? Number(match[1]) : 0;
  if (!match || amount <= 0) {
    throw new Error(
      `invalid TTL "${text}": expected "<n> SECOND|MINUTE|HOUR|DAY|WEEK|MONTH", e.g. "12 HOUR"`,
    );
  }
  const unit = match[2]!.toUpperCase();
  const seconds = amount * UNIT_SECONDS[unit]!;
  const fn = `toInterval${unit[0]}${unit.slice(1).toLowerCase()}`;
  return {
    interval: `${amount} ${unit}`,
    seconds,
    normalized: `${fn}(${amount})`,
    mergeWithTtlTimeout: Math.min(seconds, 14_400),
  };
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file name ${file} is not NNNN_name.sql`);
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
  migrations.forEach((m, i) => {
    if (i > 0 && m.version === migrations[i - 1]!.version)
      throw new Error(`duplicate migration version ${m.version}`);
  });
  return migrations;
}

/** Substitutes {{ttl}} / {{mergeWithTtlTimeout}}; any other placeholder is an error. */
export function renderMigration(sql: string, retention: Retention): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (name === 'ttl') return retention.interval;
    if (name === 'mergeWithTtlTimeout') return String(retention.mergeWithTtlTimeout);
    throw new Error(`unknown migration placeholder {{${name}}}`);
  });
}

/** Statements of a migration: `--` comment lines dropped, split at a `;` that ends a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;[ \t]*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

export interface MigrationReport {
  applied: Migration[];
  alreadyApplied: Migration[];
  /** Tables whose retention TTL was changed by this run. */
  retentionChanged: string[];
  /** Migrations recorded as provided by Theia's schema (first run on a Theia database only). */
  providedByTheia: Migration[];
  /** Set when `flows` is Theia's: the columns added to it. */
  theia?: TheiaAdoption;
}

export async function applyMigrations(
  executor: ClickHouseExecutor,
  options: { ttl?: string; migrations?: Migration[] } = {},
): Promise<MigrationReport> {
  const retention = parseRetention(options.ttl ?? DEFAULT_TTL);
  const migrations = options.migrations ?? loadMigrations();
  await executor.command(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
       version UInt32, name String, checksum String, ttl String, appliedAt DateTime DEFAULT now()
     ) ENGINE = MergeTree ORDER BY version`,
  );
  const rows = await executor.queryRows<{ version: number; name: string; checksum: string }>(
    `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version`,
  );
  const done = new Map(rows.map((row) => [Number(row.version), row]));
  const report: MigrationReport = {
    applied: [],
    alreadyApplied: [],
    retentionChanged: [],
    providedByTheia: [],
  };
  const theia = await adoptTheiaFlows(executor);
  if (theia) report.theia = theia;
  for (const migration of migrations) {
    const previous = done.get(migration.version);
    if (previous) {
      if (previous.checksum !== migration.checksum) {
        throw new Error(
          `migration ${migration.version}_${migration.name} was changed after it was applied ` +
            '(checksum differs): add a new migration instead of editing an applied one',
        );
      }
      report.alreadyApplied.push(migration);
      continue;
    }
    const providedByTheia =
      theia !== undefined && (PROVIDED_BY_THEIA as readonly number[]).includes(migration.version);
    if (providedByTheia) {
      await recordMigration(executor, migration, 'theia');
      report.providedByTheia.push(migration);
      continue;
    }
    for (const statement of splitStatements(renderMigration(migration.sql, retention))) {
      await executor.command(statement);
    }
    await recordMigration(executor, migration, retention.interval);
    report.applied.push(migration);
  }
  report.retentionChanged = await applyRetention(executor, retention);
  return report;
}

/** `ttl` is the retention it was applied with, or "theia" when Theia's schema provided it. */
async function recordMigration(
  executor: ClickHouseExecutor,
  migration: Migration,
  ttl: string,
): Promise<void> {
  await executor.command(
    `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, ttl) VALUES (${migration.version}, ` +
      `'${migration.name}', '${migration.checksum}', '${ttl}')`,
  );
}

/** Brings every TTL table to the requested retention; untouched when already there (no part rewrite). */
async function applyRetention(executor: ClickHouseExecutor, retention: Retention): Promise<string[]> {
  // MergeTree tables only: a Distributed `flows` (Theia's) has no TTL; Theia's *_local tables keep Theia's.
  const tables = await executor.queryRows<{ name: string; engine_full: string }>(
    "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)} AND engine LIKE '%MergeTree'",
    { names: [...TTL_TABLES] },
  );
  const changed: string[] = [];
  for (const table of tables) {
    if (table.engine_full.includes(`TTL timeInserted + ${retention.normalized}`)) continue;
    await executor.command(
      `ALTER TABLE ${table.name} MODIFY TTL timeInserted + INTERVAL ${retention.interval}`,
    );
    await executor.command(
      `ALTER TABLE ${table.name} MODIFY SETTING merge_with_ttl_timeout = ${retention.mergeWithTtlTimeout}`,
    );
    changed.push(table.name);
  }
  return changed.sort();
}
