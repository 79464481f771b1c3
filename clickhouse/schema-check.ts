// Does the `flows` table accept what the exporter writes? Run at the exporter's first insert and by
// `flowline clickhouse-check`, so a schema mismatch is one clear error naming the missing columns instead
// of a failing insert every commit interval.
import type { ClickHouseExecutor } from './client.ts';
import { FLOWLINE_INSERT_COLUMNS, FLOWS_COLUMN_TYPES, FLOWS_TABLE, VIEW_NAMES } from './columns.ts';

export class SchemaMismatchError extends Error {
  constructor(
    message: string,
    readonly missingColumns: string[],
    readonly missingViews: string[],
    /** Columns whose type differs from what the exporter writes (its RowBinary header names the types). */
    readonly mismatchedTypes: Array<{ column: string; expected: string; actual: string }> = [],
  ) {
    super(message);
    this.name = 'SchemaMismatchError';
  }
}

export interface SchemaReport {
  database: string;
  columns: number;
  views: string[];
}

export async function checkFlowsSchema(
  executor: ClickHouseExecutor,
  database: string,
  options: { requireViews?: boolean } = {},
): Promise<SchemaReport> {
  const columns = await executor.queryRows<{ name: string; type: string }>(
    'SELECT name, type FROM system.columns WHERE database = {database:String} AND table = {table:String}',
    { database, table: FLOWS_TABLE },
  );
  if (columns.length === 0) {
    throw new SchemaMismatchError(
      `ClickHouse table ${database}.${FLOWS_TABLE} does not exist: run \`flowline migrate\``,
      [...FLOWLINE_INSERT_COLUMNS],
      [],
    );
  }
  const present = new Map(columns.map((c) => [c.name, c.type]));
  const missing = FLOWLINE_INSERT_COLUMNS.filter((c) => !present.has(c));
  const mismatchedTypes = FLOWLINE_INSERT_COLUMNS.filter(
    (c) => present.has(c) && present.get(c) !== FLOWS_COLUMN_TYPES[c],
  ).map((column) => ({ column, expected: FLOWS_COLUMN_TYPES[column], actual: present.get(column)! }));
  const tables = await executor.queryRows<{ name: string }>(
    'SELECT name FROM system.tables WHERE database = {database:String} AND name IN {names:Array(String)}',
    { database, names: [...VIEW_NAMES] },
  );
  const views = tables.map((t) => t.name).sort();
  const missingViews = options.requireViews ? VIEW_NAMES.filter((v) => !views.includes(v)) : [];
  if (missing.length > 0 || missingViews.length > 0 || mismatchedTypes.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`lacks column(s) ${missing.join(', ')}`);
    if (mismatchedTypes.length > 0)
      parts.push(
        `has column(s) of another type: ${mismatchedTypes.map((m) => `${m.column} is ${m.actual}, the exporter writes ${m.expected}`).join('; ')}`,
      );
    if (missingViews.length > 0) parts.push(`lacks view(s) ${missingViews.join(', ')}`);
    throw new SchemaMismatchError(
      `ClickHouse table ${database}.${FLOWS_TABLE} ${parts.join(' and ')}: run \`flowline migrate\``,
      missing,
      missingViews,
      mismatchedTypes,
    );
  }
  return { database, columns: present.size, views };
}
