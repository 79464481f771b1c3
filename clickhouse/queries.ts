// The dashboards' queries (clickhouse/queries/<dashboard>.sql), loaded by name. Each file holds one or
// more statements, each introduced by a `-- name: <query>` line; parameters use ClickHouse's
// {name:Type} syntax ({from:DateTime}, {to:DateTime}, {intervalSeconds:UInt32}).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const QUERIES_DIR = fileURLToPath(new URL('./queries/', import.meta.url));

export interface DashboardQuery {
  dashboard: string;
  name: string;
  sql: string;
}

export function loadDashboardQueries(dir: string = QUERIES_DIR): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    const dashboard = file.replace(/\.sql$/, '');
    const text = readFileSync(`${dir}/${file}`, 'utf8');
    for (const chunk of text.split(/^-- name:\s*/m).slice(1)) {
      const newline = chunk.indexOf('\n');
      const name = chunk.slice(0, newline).trim();
      const sql = chunk
        .slice(newline + 1)
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('--'))
        .join('\n')
        .trim()
        .replace(/;$/, '');
      queries.push({ dashboard, name, sql });
    }
  }
  return queries;
}

export function dashboardQuery(dashboard: string, name: string, dir?: string): DashboardQuery {
  const query = loadDashboardQueries(dir).find((q) => q.dashboard === dashboard && q.name === name);
  if (!query) throw new Error(`no dashboard query ${dashboard}/${name}`);
  return query;
}
