// Every `flowline` command's error paths, run as a user runs them (a child process): a bad flag or value, an
// unreachable endpoint, a missing table, a busy port. Each must end with exactly one line on stderr, no stack
// trace, and the documented exit code (2 usage, 1 run time; docs/cli.md). `flowline flows` finding its table
// from a running local mode (the endpoints file) is checked against DynamoDB Local.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wellKnownEndpointsFile } from '../../cli/local-endpoints.ts';
import { createTableInput } from '../../functions/flow-store/schema.ts';
import { useEngines } from '../support/engines.ts';

const engines = useEngines({ kinesis: false, clickhouse: false });
const ROOT = join(import.meta.dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let sandbox: string;
let busy: Server;
let busyPort: number;
let closedPort: number;

/** An environment with no AWS settings, no ClickHouse settings and its own TMPDIR and HOME. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(AWS_|CLICKHOUSE_|TABLE_NAME|FLOWLINE_)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, TMPDIR: sandbox, HOME: sandbox, ...extra };
}

function flowline(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/flowline.js', ...args],
      { cwd, env, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

/** Exactly one line on stderr, prefixed with the command, no stack frame. */
function expectOneLine(run: Run, command: string, code: number, text?: RegExp): void {
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^flowline${command ? ` ${command}` : ''}: `));
  expect(run.stderr).not.toMatch(/\n\s+at /);
  if (text) expect(lines[0]).toMatch(text);
  expect(run.code, run.stderr).toBe(code);
}

beforeAll(async () => {
  sandbox = mkdtempSync(join(tmpdir(), 'flowline-cli-'));
  busy = await listen();
  busyPort = portOf(busy);
  const probe = await listen();
  closedPort = portOf(probe);
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve));
  rmSync(sandbox, { recursive: true, force: true });
});

const COMMANDS = [
  'bench',
  'clickhouse-check',
  'collect',
  'cost',
  'decode',
  'engines',
  'flows',
  'local',
  'migrate',
  'simulate',
];

describe('flowline: usage errors exit 2 with one line', () => {
  it.each(COMMANDS)('%s --no-such-flag', async (command) => {
    expectOneLine(await flowline([command, '--no-such-flag']), command, 2, /unknown option '--no-such-flag'/);
  });

  it.each([
    ['flows', ['--output', 'yaml'], /--output must be table or json/],
    ['flows', ['--srcport', '99999'], /--srcport must be a whole number from 0 to 65535/],
    ['flows', ['--srcip', 'not-an-ip'], /--srcip must be an IPv4 or IPv6 address/],
    ['cost', ['--nodes', 'many'], /expected a positive number/],
    ['cost', ['--flow-layout', 'rows'], /expected per-flow or buckets/],
    ['bench', ['--only', 'nosuch'], /--only nosuch: no benchmark module's name contains it \(.*collector/],
    ['local', ['--port', '70000'], /--port: must be a whole number from 1 to 65535/],
    ['local', ['--print-rows'], /--print-rows needs --replay/],
    ['local', ['--tickers', '17'], /--tickers: must be a whole number from 1 to 16/],
    ['local', ['--flow-log-filters', '[]'], /--flow-log-filters needs --flow-log FILE/],
    [
      'local',
      ['--flow-log', 'f.log', '--flow-log-filters', '[{"ingressNetworkPolicyRuleActions":["Deny"]}]'],
      /--flow-log-filters: filter 0: ingressNetworkPolicyRuleActions: "Deny" is not one of None, Allow, Drop, Reject/,
    ],
    ['local', ['--correlator-window', '121'], /--correlator-window: must be a whole number from 0 to 120/],
    ['local', ['--flow-layout', 'rows'], /--flow-layout: must be per-flow or buckets, got "rows"/],
    [
      'local',
      ['--archive', '--archive-format', 'orc'],
      /--archive-format: must be parquet or csv, got "orc"/,
    ],
    [
      'local',
      ['--ipfix-export', 'tcp://127.0.0.1:4740', '--ipfix-export-tls-ca', 'ca.crt'],
      /--ipfix-export-tls-\*: only with --ipfix-export tls:\/\//,
    ],
    [
      'local',
      ['--ipfix-export', 'tls://127.0.0.1:4740', '--ipfix-export-tls-cert', 'tls.crt'],
      /--ipfix-export-tls-cert and --ipfix-export-tls-key go together/,
    ],
    ['engines', ['--dynamodb-port', 'x'], /--dynamodb-port must be a port/],
    ['simulate', ['--nodes', '0'], /--nodes: must be a whole number >= 1/],
    ['simulate', ['--ipv6-share', '2'], /--ipv6-share: must be between 0 and 1/],
    ['migrate', [], /--url \(or CLICKHOUSE_URL\) is required/],
    ['migrate', ['--url', 'not a url'], /--url must be an http\(s\) URL/],
    ['collect', [], /--stream \/ FLOWLINE_STREAM_NAME/],
    ['collect', ['--stream', 's', '--flow-buckets', '-1'], /flow-buckets/],
    ['decode', [], /missing required argument 'files'/],
  ] as const)('%s %j', async (command, args, text) => {
    expectOneLine(await flowline([command, ...args]), command, 2, text);
  });

  it('an unknown command', async () => {
    expectOneLine(await flowline(['nosuch']), '', 2, /unknown command 'nosuch'/);
  });
});

describe('flowline: run-time errors exit 1 with one line', () => {
  it('flows: unreachable DynamoDB endpoint', async () => {
    const env = cleanEnv({
      TABLE_NAME: 'flows',
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${closedPort}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    expectOneLine(
      await flowline(['flows'], env),
      'flows',
      1,
      /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('flows: no table given, no local mode running, no AWS credentials', async () => {
    expectOneLine(await flowline(['flows']), 'flows', 1, /no flows table: no local mode is running/);
  });

  it('flows: --data-dir of a local mode that is not running', async () => {
    expectOneLine(
      await flowline(['flows', '--data-dir', join(sandbox, 'none')]),
      'flows',
      1,
      /no local mode is running with --data-dir/,
    );
  });

  it.each(['local', 'engines'])('%s: a --data-dir that cannot be a directory', async (command) => {
    const file = join(sandbox, 'a-file');
    writeFileSync(file, 'not a directory');
    expectOneLine(
      await flowline([command, '--data-dir', join(file, 'data')]),
      command,
      1,
      /--data-dir .*: cannot use it as a data directory \(ENOTDIR\): choose a writable one/,
    );
    // Under /proc, Node's recursive mkdir never returns: this one must fail at once as well.
    expectOneLine(
      await flowline([command, '--data-dir', '/proc/flowline-data']),
      command,
      1,
      /--data-dir \/proc\/flowline-data: cannot use it as a data directory \(ENOENT\)/,
    );
  });

  it('local: a --flow-log file it cannot append to', async () => {
    expectOneLine(
      await flowline(['local', '--flow-log', join(sandbox, 'no-such-dir', 'flows.log')]),
      'local',
      1,
      /--flow-log .*flows\.log: cannot append to it \(ENOENT\): choose a writable file/,
    );
  });

  it('flows: a table that does not exist', async () => {
    const local = engines().local;
    if (!local) return; // against LocalStack the endpoint comes from its own environment
    const env = cleanEnv({ ...local.env(), TABLE_NAME: `missing-${process.pid}` });
    expectOneLine(await flowline(['flows'], env), 'flows', 1, /table missing-\d+ does not exist at http:/);
  });

  it.each([
    ['migrate', ['--url']],
    ['clickhouse-check', ['--url']],
  ])('%s: unreachable ClickHouse', async (command, args) => {
    const run = await flowline([command, ...args, `http://127.0.0.1:${closedPort}`]);
    expectOneLine(run, command, 1, /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('simulate: unreachable collector', async () => {
    const run = await flowline(['simulate', '--collector', `127.0.0.1:${closedPort}:tcp`]);
    expectOneLine(run, 'simulate', 1, /ECONNREFUSED/);
  });

  it('collect: busy port', async () => {
    const run = await flowline([
      'collect',
      '--stream',
      'flows',
      '--region',
      'us-east-1',
      '--listen',
      `tcp://127.0.0.1:${busyPort}`,
      '--http-listen',
      '127.0.0.1:0',
      '--spool-dir',
      join(sandbox, 'spool'),
    ]);
    expectOneLine(
      run,
      'collect',
      1,
      new RegExp(`tcp://127\\.0\\.0\\.1:${busyPort} is already in use.*--listen`),
    );
  });

  it('local: busy collector port, before any engine starts', async () => {
    const run = await flowline([
      'local',
      '--port',
      String(busyPort),
      '--clickhouse-port',
      String(closedPort),
    ]);
    expectOneLine(run, 'local', 1, /is already in use.*--port/);
  });

  it('engines: busy engine port', async () => {
    const run = await flowline([
      'engines',
      '--no-kinesis',
      '--no-clickhouse',
      '--dynamodb-port',
      String(busyPort),
    ]);
    expectOneLine(
      run,
      'engines',
      1,
      new RegExp(`127\\.0\\.0\\.1:${busyPort} is already in use.*--dynamodb-port`),
    );
  });

  it.each([
    ['decode', ['/no/such/capture.pcap'], /cannot read \/no\/such\/capture\.pcap \(ENOENT\)/],
    ['cost', ['--from', '/no/such/results.json'], /not found: run `npm run bench` first/],
  ] as const)('%s: missing input file', async (command, args, text) => {
    expectOneLine(await flowline([command, ...args]), command, 1, text);
  });

  it('--verbose adds the stack trace', async () => {
    const run = await flowline(['decode', '--verbose', '/no/such/capture.pcap']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^flowline decode: cannot read/);
    expect(run.stderr).toMatch(/\n\s+at /);
  });
});

describe('flowline in a checkout without its dependencies', () => {
  it('says to run npm ci, in one line, exit 2', async () => {
    // bin/flowline.js alone, as in a clone before `npm ci`: no node_modules beside it, so no tsx.
    const checkout = mkdtempSync(join(sandbox, 'checkout-'));
    mkdirSync(join(checkout, 'bin'));
    copyFileSync(join(ROOT, 'bin/flowline.js'), join(checkout, 'bin/flowline.js'));
    const run = await flowline(['cost'], cleanEnv(), checkout);
    expectOneLine(run, '', 2, /dependencies are not installed; run `npm ci` in /);
  });
});

describe('flowline flows finds the table of a running local mode', () => {
  it('from the well-known endpoints file, and ignores one whose process is gone', async () => {
    const local = engines().local;
    if (!local) return;
    const table = `local-mode-${process.pid}`;
    await engines().dynamodb.send(new CreateTableCommand(createTableInput(table)));
    const endpoints = {
      // This test process stands in for local mode: the file counts while its pid is alive.
      pid: process.pid,
      startedAt: new Date().toISOString(),
      region: 'us-east-1',
      dynamodb: local.endpoints.dynamodb,
      kinesis: 'http://127.0.0.1:1',
      table,
      stream: 'flowline-ingest',
      clickhouse: { url: 'http://127.0.0.1:1', user: 'default', password: '', database: 'default' },
      collector: { udp: 'udp://127.0.0.1:4739', tcp: 'tcp://127.0.0.1:4739' },
      metrics: 'http://127.0.0.1:1/metrics',
    };
    const file = wellKnownEndpointsFile().replace(tmpdir(), sandbox);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify(endpoints));
    const found = await flowline(['flows', '-o', 'json']);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toEqual([]);

    writeFileSync(file, JSON.stringify({ ...endpoints, pid: 2 ** 22 + 1 })); // above Linux's pid_max
    expectOneLine(await flowline(['flows']), 'flows', 1, /no local mode is running/);
  });
});
