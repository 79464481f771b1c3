// Adopting a database where Theia (or the Flow Aggregator's Theia install) already created `flows`.
// Theia's chart (build/charts/theia/provisioning/datasources/create_table.sh) lays a database out as
// tables *_local (ReplicatedMergeTree / ReplicatedSummingMergeTree) with materialized views between them, and
// Distributed tables on top under the names Grafana queries (flows, flows_pod_view, flows_node_view,
// flows_policy_view). Antrea's Flow Aggregator inserts into `flows`. Flowline keeps all of it, data included,
// and only adds the columns its exporter writes that the table lacks (Theia's has no egressNodeName and none of
// Flowline's own columns): first to the local table, then to the Distributed table in front of it, each
// with the same type and default as migrations/0001_flows.sql. Theia's views, TTLs and engines stay Theia's.
import type { ClickHouseExecutor } from './client.ts';
import { FLOWLINE_INSERT_COLUMNS, FLOWS_COLUMN_TYPES, FLOWS_TABLE } from './columns.ts';

export interface TheiaAdoption {
  /** The Distributed `flows` and the table under it. */
  distributedTable: string;
  localTable: string;
  /** Columns added, in the order added (the same to both tables). */
  columnsAdded: string[];
}

/** DEFAULT expressions where a column's type default would be wrong (as migrations/0001_flows.sql). */
const COLUMN_DEFAULTS: Partial<Record<string, string>> = { exportedAt: 'now64(3)' };

/**
 * `flows` as Theia made it: a Distributed table; the table it writes to, from its engine arguments
 * (Distributed(cluster, database, table[, sharding key])). Undefined for any other layout.
 */
export async function theiaLayout(
  executor: ClickHouseExecutor,
): Promise<{ distributedTable: string; localTable: string; localDatabase: string } | undefined> {
  const [flows] = await executor.queryRows<{ engine: string; engine_full: string }>(
    'SELECT engine, engine_full FROM system.tables WHERE database = currentDatabase() AND name = {name:String}',
    { name: FLOWS_TABLE },
  );
  if (flows?.engine !== 'Distributed') return undefined;
  const args = /^Distributed\((.*)\)/s.exec(flows.engine_full)?.[1] ?? '';
  const [, database, table] = args.split(',').map((a) =>
    a
      .trim()
      .replace(/^\\?'|\\?'$/g, '')
      .replace(/\\'/g, ''),
  );
  if (!database || !table)
    throw new Error(`cannot read the table under Distributed ${FLOWS_TABLE}: ${flows.engine_full}`);
  return { distributedTable: FLOWS_TABLE, localTable: table, localDatabase: database };
}

/** Adds the columns the exporter writes to Theia's tables; idempotent (ADD COLUMN IF NOT EXISTS). */
export async function adoptTheiaFlows(executor: ClickHouseExecutor): Promise<TheiaAdoption | undefined> {
  const layout = await theiaLayout(executor);
  if (!layout) return undefined;
  const present = await executor.queryRows<{ name: string }>(
    'SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {table:String}',
    { table: layout.distributedTable },
  );
  const have = new Set(present.map((c) => c.name));
  const missing = FLOWLINE_INSERT_COLUMNS.filter((column) => !have.has(column));
  const local = `${quoteIdentifier(layout.localDatabase)}.${quoteIdentifier(layout.localTable)}`;
  for (const table of [local, quoteIdentifier(layout.distributedTable)]) {
    for (const column of missing) {
      const fallback = COLUMN_DEFAULTS[column];
      await executor.command(
        `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} ${FLOWS_COLUMN_TYPES[column]}` +
          (fallback ? ` DEFAULT ${fallback}` : ''),
      );
    }
  }
  return {
    distributedTable: layout.distributedTable,
    localTable: `${layout.localDatabase}.${layout.localTable}`,
    columnsAdded: missing,
  };
}

function quoteIdentifier(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name.replace(/`/g, '\\`')}\``;
}
