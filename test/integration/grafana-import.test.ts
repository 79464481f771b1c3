// `flowline grafana-import` against a loopback HTTP server answering the three Grafana API calls it makes
// (GET/POST /api/folders, POST /api/dashboards/db) as Grafana documents them, with basic auth: the folder is
// made once, every dashboard is posted into it with overwrite, a re-run updates in place, a wrong password
// is one line on stderr and exit code 1.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDashboards } from '../../cli/grafana-import.ts';
import { loadDashboards } from '../support/grafana.ts';

const AUTH = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
let server: Server;
let url: string;
const folders: Array<{ uid: string; title: string }> = [];
const dashboards = new Map<string, { version: number; folderUid: string; body: Record<string, unknown> }>();
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.headers.authorization !== AUTH) return reply(401, { message: 'invalid username or password' });
      if (req.method === 'GET' && req.url === '/api/folders') return reply(200, folders);
      if (req.method === 'POST' && req.url === '/api/folders') {
        const folder = JSON.parse(body) as { uid: string; title: string };
        if (folders.some((f) => f.uid === folder.uid)) return reply(409, { message: 'folder exists' });
        folders.push(folder);
        return reply(200, { id: folders.length, ...folder });
      }
      if (req.method === 'POST' && req.url === '/api/dashboards/db') {
        const post = JSON.parse(body) as {
          dashboard: Record<string, unknown>;
          folderUid: string;
          overwrite: boolean;
        };
        const uid = String(post.dashboard.uid);
        const previous = dashboards.get(uid);
        if (previous && !post.overwrite)
          return reply(412, { message: 'version-mismatch', status: 'version-mismatch' });
        dashboards.set(uid, {
          version: (previous?.version ?? 0) + 1,
          folderUid: post.folderUid,
          body: post.dashboard,
        });
        return reply(200, {
          status: 'success',
          uid,
          version: dashboards.get(uid)!.version,
          url: `/d/${uid}`,
        });
      }
      reply(404, { message: 'Not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('flowline grafana-import', () => {
  it('creates the folder once and posts every dashboard into it, updating in place on a re-run', async () => {
    const options = {
      url,
      auth: { user: 'admin', password: 's3cret' },
      folderTitle: 'Flowline',
      folderUid: 'flowline',
      datasourceUid: 'theia-clickhouse',
    };
    const first = await importDashboards(options);
    const expected = loadDashboards()
      .map((d) => d.uid)
      .sort();
    expect(first.map((d) => d.uid).sort()).toEqual(expected);
    expect(first.every((d) => d.version === 1)).toBe(true);
    const second = await importDashboards(options);
    expect(second.every((d) => d.version === 2)).toBe(true);
    expect(folders).toEqual([{ uid: 'flowline', title: 'Flowline' }]);
    expect(requests.filter((r) => r === 'POST /api/folders')).toHaveLength(1);
    for (const d of dashboards.values()) {
      expect(d.folderUid).toBe('flowline');
      expect(d.body.id).toBeNull();
    }
    const podToPod = dashboards.get('flowline-pod-to-pod')!.body as {
      templating: { list: Array<Record<string, unknown>> };
    };
    expect(podToPod.templating.list.find((v) => v.name === 'datasource')?.current).toMatchObject({
      value: 'theia-clickhouse',
    });
  });

  it('a wrong password: one line on stderr, exit code 1', async () => {
    // Asynchronously: the API server answers from this process.
    const result = await promisify(execFile)(
      process.execPath,
      ['bin/flowline.js', 'grafana-import', '--url', url],
      {
        encoding: 'utf8',
        env: { ...process.env, GRAFANA_PASSWORD: 'wrong', GRAFANA_TOKEN: '' },
        timeout: 60_000,
      },
    ).then(
      () => ({ status: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ status: error.code, stderr: error.stderr }),
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'grafana-import failed: GET /api/folders: HTTP 401: invalid username or password',
    ]);
  }, 60_000);
});
