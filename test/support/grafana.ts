// Grafana's side of a ClickHouse panel query, for tests: the dashboard JSON's panels and variables, and the
// expansion Grafana and the grafana-clickhouse-datasource plugin do before the SQL reaches ClickHouse:
// - Grafana: template variables (${name}, $name, ${name:singlequote}; "All" = every value) and the global
//   $__interval / $__interval_ms;
// - the plugin's macros (grafana/clickhouse-datasource pkg/macros/macros.go): $__timeFilter(c) ->
//   c >= toDateTime(from) AND c <= toDateTime(to); $__timeFilter_ms(c) with fromUnixTimestamp64Milli;
//   $__timeInterval(c) -> toStartOfInterval(toDateTime(c), INTERVAL <s> second); $__interval_s;
//   $__fromTime / $__toTime (and _ms); $__dateFilter(c).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'dashboards');

export interface GrafanaTarget {
  refId: string;
  rawSql?: string;
  expr?: string;
  queryType?: string;
  datasource?: { type: string; uid: string };
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  interval?: string;
  datasource?: { type: string; uid: string };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}

export interface GrafanaVariable {
  name: string;
  type: string;
  query?: unknown;
  includeAll?: boolean;
  allValue?: string;
}

export interface Dashboard {
  file: string;
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
}

export function loadDashboards(dir = DASHBOARDS_DIR): Dashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<Dashboard, 'file'>),
    }));
}

/** Every panel, those inside rows included. */
export function allPanels(dashboard: Dashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface ExpansionContext {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  /** Values of template variables (every value when "All" is selected). */
  variables: Record<string, string[]>;
}

/** Grafana's interval text for a number of milliseconds ("1s", "5m", "500ms"). */
function intervalText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The panel's minimum interval ("1s", "30s", "1m") in ms, 0 when unset. */
export function minIntervalMs(panel: GrafanaPanel): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(panel.interval ?? '');
  if (!match) return 0;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Grafana variable interpolation, then the plugin's macros. */
export function expandSql(sql: string, context: ExpansionContext): string {
  const seconds = (ms: number) => Math.floor(ms / 1000);
  const intervalSeconds = Math.max(Math.floor(context.intervalMs / 1000), 1);
  let text = sql
    .replace(/\$__interval_ms\b/g, String(context.intervalMs))
    .replace(/\$__interval\b(?!_)/g, intervalText(context.intervalMs))
    .replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g, (whole, braced: string, format: string, bare: string) => {
      const name = braced ?? bare;
      if (name.startsWith('__')) return whole; // a macro, expanded below
      const values = context.variables[name];
      if (values === undefined) throw new Error(`unknown template variable ${whole}`);
      if (format === 'singlequote' || format === 'sqlstring') return values.map(quote).join(',');
      if (format === undefined || format === 'csv') return values.join(',');
      throw new Error(`variable format ${format} not handled`);
    });
  const macro = (name: string, fn: (arg: string) => string) => {
    text = text.replace(new RegExp(`\\$__${name}\\(([^()]*)\\)`, 'g'), (_, arg: string) => fn(arg.trim()));
  };
  const dateTime = (ms: number) => `toDateTime(${seconds(ms)})`;
  const dateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${ms})`;
  const date = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
  macro(
    'timeFilter_ms',
    (c) => `${c} >= ${dateTime64(context.fromMs)} AND ${c} <= ${dateTime64(context.toMs)}`,
  );
  macro('timeFilter', (c) => `${c} >= ${dateTime(context.fromMs)} AND ${c} <= ${dateTime(context.toMs)}`);
  macro('dateFilter', (c) => `${c} >= ${date(context.fromMs)} AND ${c} <= ${date(context.toMs)}`);
  macro(
    'timeInterval_ms',
    (c) => `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${context.intervalMs} millisecond)`,
  );
  macro('timeInterval', (c) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${intervalSeconds} second)`);
  text = text
    .replace(/\$__fromTime_ms\b/g, dateTime64(context.fromMs))
    .replace(/\$__toTime_ms\b/g, dateTime64(context.toMs))
    .replace(/\$__fromTime\b/g, dateTime(context.fromMs))
    .replace(/\$__toTime\b/g, dateTime(context.toMs))
    .replace(/\$__interval_s\b/g, String(intervalSeconds));
  const left = /\$__\w+|\$\{\w+/.exec(text);
  if (left) throw new Error(`unexpanded ${left[0]} in: ${text}`);
  return text;
}
