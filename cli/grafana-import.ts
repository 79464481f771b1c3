// Loads Flowline's dashboards (deploy/grafana/dashboards/*.json) into a running Grafana through its HTTP
// API: finds or creates the folder (GET/POST /api/folders), then posts each dashboard
// (POST /api/dashboards/db, overwrite: true, so a re-run updates in place). For Grafanas whose dashboards
// cannot be provisioned from files, Theia's among them (docs/grafana.md). Node's fetch; no Grafana client
// library is maintained for this API surface.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARDS_DIR = fileURLToPath(new URL('../deploy/grafana/dashboards/', import.meta.url));

export interface GrafanaImportOptions {
  url: string;
  /** Basic auth (an admin or Editor login) or a service-account token. */
  auth: { user: string; password: string } | { token: string };
  folderTitle: string;
  folderUid: string;
  dir?: string;
  /** Preselect this ClickHouse data source uid in the dashboards' `datasource` variable. */
  datasourceUid?: string;
  fetch?: typeof fetch;
}

export interface ImportedDashboard {
  file: string;
  uid: string;
  version: number;
}

export class GrafanaApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrafanaApiError';
  }
}

export async function importDashboards(options: GrafanaImportOptions): Promise<ImportedDashboard[]> {
  const call = apiCaller(options);
  const folders = await call<Array<{ uid: string; title: string }>>('GET', '/api/folders');
  const existing = folders.find((f) => f.uid === options.folderUid || f.title === options.folderTitle);
  const folderUid =
    existing?.uid ??
    (
      await call<{ uid: string }>('POST', '/api/folders', {
        uid: options.folderUid,
        title: options.folderTitle,
      })
    ).uid;
  const dir = options.dir ?? DASHBOARDS_DIR;
  const imported: ImportedDashboard[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    if (options.datasourceUid) preselectDatasource(dashboard, options.datasourceUid);
    const result = await call<{ uid: string; version: number }>('POST', '/api/dashboards/db', {
      dashboard: { ...dashboard, id: null },
      folderUid,
      overwrite: true,
      message: 'flowline grafana-import',
    });
    imported.push({ file, uid: result.uid, version: result.version });
  }
  return imported;
}

function preselectDatasource(dashboard: Record<string, unknown>, uid: string): void {
  const list = (dashboard.templating as { list?: Array<Record<string, unknown>> } | undefined)?.list ?? [];
  const variable = list.find((v) => v.name === 'datasource' && v.type === 'datasource');
  if (variable) variable.current = { selected: true, text: uid, value: uid };
}

function apiCaller(options: GrafanaImportOptions) {
  const doFetch = options.fetch ?? fetch;
  const base = options.url.replace(/\/+$/, '');
  const authorization =
    'token' in options.auth
      ? `Bearer ${options.auth.token}`
      : `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`;
  return async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const response = await doFetch(`${base}${path}`, {
      method,
      headers: { authorization, accept: 'application/json', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {}
      throw new GrafanaApiError(response.status, `${method} ${path}: HTTP ${response.status}: ${message}`);
    }
    return JSON.parse(text) as T;
  };
}
