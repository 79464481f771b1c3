// The attacks of issue 16 against `flowline collect` (a child process, so its RSS is its own) on loopback,
// with kinesis-mock behind it. Each attack runs while a valid Antrea agent stream (simulator, over TCP from
// ::1) exports, and that stream must arrive complete, exactly once, with nothing else in the stream:
// 1. template flood: 5,000 templates x 500 fields from 1,000 UDP source ports (default template budget):
//    RSS growth within 64 MB, /healthz answers within 200 ms throughout;
// 2. 5,000 stalled TCP connections from 127.0.0.1 (half send part of a message, half nothing): refused
//    beyond the per-source limit, the rest closed by the partial-message and idle limits, RSS bounded;
// 3. forged keyless records (a source address only, no destination, no protocol): no record reaches
//    Kinesis (so no row can exist), each counted under its reason.
// The figures (RSS before/after, slowest /healthz) are printed for quoting. Plus: /readyz turns unready
// when deliveries fail (a stream that does not exist) and ready again once they succeed.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { type EncoderTemplate, encodeMessage, field } from '../../collector-edge/ipfix/index.ts';
import { findFreePort } from '../../local/engines/ports.ts';
import { exportSimulation, type SentRecord } from '../../simulator/exporter.ts';
import { ClusterSimulation } from '../../simulator/model.ts';
import { useEngines } from '../support/engines.ts';
import { floodTemplate, templateFloodMessage } from '../support/hostile-ipfix.ts';
import { createStream, expectExactlyOnce, metricValue, readStream, waitFor } from './collector-support.ts';

const engines = useEngines({ dynamodb: false, clickhouse: false });
const tmp = mkdtempSync(join(tmpdir(), 'flowline-hostile-'));
const children: ChildProcess[] = [];
const MB = 1024 * 1024;

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface RunningCollector {
  child: ChildProcess;
  udpPort: number;
  tcpPort: number;
  httpPort: number;
  metrics(): Promise<string>;
  rssBytes(): number;
  /** waitFor that shows the collector's log when it times out. */
  waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs?: number): Promise<void>;
}

async function startCollector(stream: string, env: Record<string, string> = {}): Promise<RunningCollector> {
  const [udpPort, tcpPort, httpPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  const child = spawn(process.execPath, ['bin/flowline.js', 'collect'], {
    env: {
      ...process.env,
      FLOWLINE_STREAM_NAME: stream,
      // Attackers on 127.0.0.1, the valid agent on ::1 (another source address, as another Node would be).
      FLOWLINE_LISTEN: `udp://127.0.0.1:${udpPort},tcp://127.0.0.1:${tcpPort},tcp://[::1]:${tcpPort}`,
      FLOWLINE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      FLOWLINE_SPOOL_DIR: join(tmp, stream),
      FLOWLINE_BATCH_LINGER_MS: '50',
      FLOWLINE_LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL')
      process.stderr.write(`collector exited ${code} ${signal}\n${stderr}\n`);
  });
  children.push(child);
  const running: RunningCollector = {
    child,
    udpPort,
    tcpPort,
    httpPort,
    metrics: async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
    waitFor: async (what, condition, timeoutMs) => {
      try {
        await waitFor(what, condition, timeoutMs);
      } catch (error) {
        process.stderr.write(`collector log (last 20 kB):\n${stderr}\n`);
        throw error;
      }
    },
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
  };
  await waitFor('collector ready', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200;
    } catch {
      return false;
    }
  });
  return running;
}

/** Waits until Kinesis acknowledged `count` flow records (what the agent sent). */
async function deliveredAll(collector: RunningCollector, count: number): Promise<void> {
  await collector.waitFor('agent records delivered', async () => {
    const delivered = metricValue(await collector.metrics(), 'flowline_kinesis_delivered_flow_records_total');
    return delivered >= count;
  });
}

/** One labelled sample, e.g. labelled(text, 'flowline_collector_limit_trips_total', 'limit', 'udp-sessions'). */
function labelled(text: string, name: string, label: string, value: string): number {
  const prefix = `${name}{`;
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(prefix) && line.includes(`${label}="${value}"`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

// The /healthz prober runs in a process of its own, so the flood this test sends cannot delay its timing.
const PROBER = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let slowest = 0, probes = 0, failures = 0, stopping = false, over = [];
const t0 = performance.now();
process.stdin.on('data', () => { stopping = true; });
function probe() {
  if (stopping) { process.stdout.write(JSON.stringify({ slowest, probes, failures, over })); agent.destroy(); return; }
  const started = performance.now();
  http.get({ host: '127.0.0.1', port: Number(process.argv[1]), path: '/healthz', agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode !== 200) failures++;
      const ms = performance.now() - started;
      // The first answer includes connecting (and this process starting): not the collector's latency.
      if (probes > 0) {
        if (ms > 100) over.push([Math.round(started - t0), Math.round(ms)]);
        slowest = Math.max(slowest, ms);
      }
      probes++;
      setTimeout(probe, 25);
    });
  }).on('error', () => { failures++; setTimeout(probe, 25); });
}
probe();
`;

/** Polls /healthz every 25 ms (from another process) until stopped: the slowest answer, ms. */
function watchHealth(httpPort: number): {
  stop(): Promise<{ slowestMs: number; probes: number; failures: number }>;
} {
  const prober = spawn(process.execPath, ['-e', PROBER, String(httpPort)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(prober);
  let output = '';
  prober.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => prober.once('exit', () => resolve()));
  return {
    stop: async () => {
      prober.stdin!.end('stop\n');
      await exited;
      const { slowest, probes, failures, over } = JSON.parse(output) as Record<string, number>;
      process.stdout.write(
        `[hostile-input] /healthz answers over 100 ms (at ms, took ms): ${JSON.stringify(over)}\n`,
      );
      return { slowestMs: slowest!, probes: probes!, failures: failures! };
    },
  };
}

/** The valid agent: 3 Nodes over TCP from ::1; resolves with every record sent. */
async function agentStream(tcpPort: number, seed: number): Promise<SentRecord[]> {
  const report = await exportSimulation(
    new ClusterSimulation({
      seed,
      nodes: 3,
      connections: 100,
      polls: 4,
      startTimeSeconds: 1_767_225_600 + seed,
    }),
    { collector: { host: '::1', port: tcpPort, protocol: 'tcp' }, keepSent: true },
  );
  return report.sent!;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

test('template flood: 5,000 templates x 500 fields from 1,000 UDP ports; RSS and /healthz bounded, agent data complete', async () => {
  const stream = 'hostile-flood';
  await createStream(engines().kinesis, stream);
  const collector = await startCollector(stream); // every limit at its default
  // Baseline in the same run: /healthz while only the agent exports (the machine's own latency).
  const quiet = watchHealth(collector.httpPort);
  const warmup = await agentStream(collector.tcpPort, 5);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const baseline = await quiet.stop();
  const rssBefore = collector.rssBytes();
  const health = watchHealth(collector.httpPort);
  const agent = agentStream(collector.tcpPort, 1);

  // 1,000 source ports, 5 templates of 500 fields each (one ~10 KB datagram per port), all distinct.
  const sockets = await Promise.all(
    Array.from({ length: 1000 }, async () => {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      return socket;
    }),
  );
  let peakRss = rssBefore;
  for (let port = 0; port < sockets.length; port++) {
    const templates = Array.from({ length: 5 }, (_, j) => floodTemplate(256 + j, 500, port * 5 + j));
    const datagram = templateFloodMessage(templates, port);
    await new Promise<void>((resolve) =>
      sockets[port]!.send(datagram, collector.udpPort, '127.0.0.1', () => resolve()),
    );
    if (port % 2 === 1) await yieldToLoop(); // paced: the kernel's receive buffer is not the test
    if (port % 100 === 99) peakRss = Math.max(peakRss, collector.rssBytes());
  }
  for (const socket of sockets) socket.close();
  await collector.waitFor('the flood processed', async () => {
    const text = await collector.metrics();
    return metricValue(text, 'flowline_collector_ipfix_messages_total') >= 900;
  });
  peakRss = Math.max(peakRss, collector.rssBytes());
  const sent = await agent;
  const { slowestMs, probes, failures } = await health.stop();
  const text = await collector.metrics();
  const rssAfter = collector.rssBytes();
  const templates = metricValue(text, 'flowline_collector_templates_total');
  const templateBytes = metricValue(text, 'flowline_collector_template_bytes');
  const loopLagMaxMs = metricValue(text, 'nodejs_eventloop_lag_max_seconds') * 1000;
  process.stdout.write(
    `[hostile-input] template flood: ${templates} template records received from 1,000 ports; ` +
      `RSS before ${(rssBefore / MB).toFixed(1)} MB, peak ${(peakRss / MB).toFixed(1)} MB, after ` +
      `${(rssAfter / MB).toFixed(1)} MB (growth ${((peakRss - rssBefore) / MB).toFixed(1)} MB, budget 64 MB); ` +
      `templates kept ${metricValue(text, 'flowline_collector_templates_active')} ` +
      `(${(templateBytes / MB).toFixed(1)} MB est.), evicted ` +
      `${labelled(text, 'flowline_collector_limit_trips_total', 'limit', 'template-bytes') + labelled(text, 'flowline_collector_limit_trips_total', 'limit', 'template-count')}, ` +
      `/healthz slowest ${slowestMs.toFixed(1)} ms over ${probes} probes (quiet baseline: ` +
      `${baseline.slowestMs.toFixed(1)} ms over ${baseline.probes}); collector event loop lag max ` +
      `${loopLagMaxMs.toFixed(1)} ms\n`,
  );
  expect(templates).toBeGreaterThanOrEqual(4000); // the flood did land (the kernel may drop some datagrams)
  expect(peakRss - rssBefore).toBeLessThanOrEqual(64 * MB);
  expect(metricValue(text, 'flowline_collector_templates_active')).toBeLessThanOrEqual(4096);
  expect(templateBytes).toBeLessThanOrEqual(32 * MB);
  expect(failures).toBe(0);
  // Within 200 ms of what the machine gives a quiet collector (on an idle machine: within 200 ms).
  expect(slowestMs).toBeLessThan(Math.max(200, baseline.slowestMs + 200));

  await deliveredAll(collector, warmup.length + sent.length);
  expectExactlyOnce((await readStream(engines().kinesis, stream)).records, [...warmup, ...sent]);
  collector.child.kill('SIGKILL');
}, 180_000);

test('5,000 stalled TCP connections: refused or closed by the limits, RSS bounded, agent data complete', async () => {
  const stream = 'hostile-slowloris';
  await createStream(engines().kinesis, stream);
  const collector = await startCollector(stream, {
    FLOWLINE_MAX_CONNECTIONS: '1024',
    FLOWLINE_MAX_CONNECTIONS_PER_SOURCE: '200',
    FLOWLINE_CONNECTION_IDLE_MS: '3000',
    FLOWLINE_PARTIAL_MESSAGE_MS: '2000',
  });
  const rssBefore = collector.rssBytes();
  let peakRss = rssBefore;
  const agent = agentStream(collector.tcpPort, 2);
  // Half send the first 10 bytes of a message header (then stall), half send nothing.
  const partialHeader = Uint8Array.from([0, 10, 0x04, 0x00, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const stalled: Socket[] = [];
  let closedByServer = 0;
  // Open TCP sessions in the collector (stalled ones from 127.0.0.1 plus the agent's 3 from ::1).
  let peakOpen = 0;
  const openTcpSessions = async () =>
    labelled(await collector.metrics(), 'flowline_collector_sessions', 'transport', 'tcp');
  for (let i = 0; i < 5000; i++) {
    const socket = connect({ host: '127.0.0.1', port: collector.tcpPort });
    socket.on('error', () => {});
    socket.on('close', () => closedByServer++);
    if (i % 2 === 0) socket.on('connect', () => socket.write(partialHeader));
    stalled.push(socket);
    if (i % 250 === 249) {
      await yieldToLoop();
      peakRss = Math.max(peakRss, collector.rssBytes());
      peakOpen = Math.max(peakOpen, await openTcpSessions());
    }
  }
  await waitFor(
    'every stalled connection refused or closed',
    async () => {
      peakRss = Math.max(peakRss, collector.rssBytes());
      peakOpen = Math.max(peakOpen, await openTcpSessions());
      return closedByServer === 5000;
    },
    60_000,
  );
  const sent = await agent;
  const text = await collector.metrics();
  const trips = (limit: string) => labelled(text, 'flowline_collector_limit_trips_total', 'limit', limit);
  process.stdout.write(
    `[hostile-input] 5,000 stalled TCP connections: refused per source ${trips('connections-per-source')}, ` +
      `total ${trips('connections')}; closed for a partial message ${trips('partial-message-age')}, idle ` +
      `${trips('connection-idle')}; most open at once ${peakOpen}; RSS before ${(rssBefore / MB).toFixed(1)} MB, ` +
      `peak ${(peakRss / MB).toFixed(1)} MB\n`,
  );
  // Slots freed by the partial-message and idle limits are reused, so the split varies with the machine's speed.
  expect(peakOpen).toBeLessThanOrEqual(200 + 3);
  expect(trips('connections-per-source')).toBeGreaterThan(4000);
  expect(trips('connections-per-source') + trips('partial-message-age') + trips('connection-idle')).toBe(
    5000,
  );
  expect(trips('partial-message-age')).toBeGreaterThan(0);
  expect(trips('connection-idle')).toBeGreaterThan(0);
  expect(peakRss - rssBefore).toBeLessThanOrEqual(64 * MB);
  for (const socket of stalled) socket.destroy();

  await deliveredAll(collector, sent.length);
  expectExactlyOnce((await readStream(engines().kinesis, stream)).records, sent);
  collector.child.kill('SIGKILL');
}, 180_000);

test('forged keyless records: none reaches Kinesis, each reason counted; valid records still flow', async () => {
  const stream = 'hostile-keyless';
  await createStream(engines().kinesis, stream);
  const collector = await startCollector(stream, { FLOWLINE_MAX_UDP_SESSIONS: '64' });
  const header = { exportTime: 1_767_225_600, sequenceNumber: 0, observationDomainId: 4242 };
  const forged: Array<[EncoderTemplate, Record<string, string | number>, string]> = [
    [
      { templateId: 256, fields: [field('sourceIPv4Address')] },
      { sourceIPv4Address: '10.9.9.9' },
      'no-destination-address',
    ],
    [
      { templateId: 257, fields: [field('destinationIPv4Address'), field('protocolIdentifier')] },
      { destinationIPv4Address: '10.9.9.9', protocolIdentifier: 6 },
      'no-source-address',
    ],
    [
      { templateId: 258, fields: [field('sourceIPv4Address'), field('destinationIPv4Address')] },
      { sourceIPv4Address: '10.9.9.8', destinationIPv4Address: '10.9.9.9' },
      'no-protocol',
    ],
  ];
  const socket = createSocket('udp4');
  for (const [template, record] of forged) {
    const message = encodeMessage(header, [
      { kind: 'templates', templates: [template] },
      { kind: 'data', template, records: [record, record, record] },
    ]);
    await new Promise<void>((resolve) =>
      socket.send(message, collector.udpPort, '127.0.0.1', () => resolve()),
    );
  }
  socket.close();
  // 100 more source ports over the 64-session cap: the least recently seen sessions are replaced.
  for (let i = 0; i < 100; i++) {
    const port = createSocket('udp4');
    const message = templateFloodMessage([floodTemplate(256, 4, i)], 9000 + i);
    await new Promise<void>((resolve) => port.send(message, collector.udpPort, '127.0.0.1', () => resolve()));
    port.close();
  }
  await collector.waitFor('UDP sessions replaced at the cap', async () => {
    const text = await collector.metrics();
    return (
      // 101 source ports (an ephemeral port may be reused by the kernel: then it is the same session).
      labelled(text, 'flowline_collector_limit_trips_total', 'limit', 'udp-sessions') >= 30 &&
      labelled(text, 'flowline_collector_sessions', 'transport', 'udp') <= 64
    );
  });
  const rejected = (text: string, reason: string) =>
    labelled(text, 'flowline_collector_rejected_records_total', 'reason', reason);
  await waitFor('forged records rejected', async () => {
    const text = await collector.metrics();
    return forged.every(([, , reason]) => rejected(text, reason) === 3);
  });
  const sent = await agentStream(collector.tcpPort, 3);
  await deliveredAll(collector, sent.length);
  const text = await collector.metrics();
  process.stdout.write(
    `[hostile-input] forged keyless records: rejected ${forged.map(([, , r]) => `${r} ${rejected(text, r)}`).join(', ')}; ` +
      `flow records accepted ${metricValue(text, 'flowline_collector_flow_records_total')} (the agent's ${sent.length})\n`,
  );
  // Only the agent's records: a forged one would fail "received a record that was never sent".
  expectExactlyOnce((await readStream(engines().kinesis, stream)).records, sent);
  collector.child.kill('SIGKILL');
}, 120_000);

test('/readyz turns unready while every delivery fails, and ready again once one succeeds', async () => {
  const stream = 'hostile-missing-stream';
  const collector = await startCollector(stream, {
    FLOWLINE_DELIVERY_STALL_MS: '1500',
    FLOWLINE_BACKOFF_CAP_MS: '300',
    FLOWLINE_SHARD_REFRESH_MS: '1000',
  });
  const sent = await agentStream(collector.tcpPort, 4);
  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${collector.httpPort}/readyz`);
    return { status: response.status, reason: await response.text() };
  };
  await waitFor(
    'unready, and the stall metric set',
    async () =>
      (await readyz()).status === 503 &&
      metricValue(await collector.metrics(), 'flowline_kinesis_delivery_stalled') === 1,
    30_000,
  );
  expect((await readyz()).reason).toMatch(/^no Kinesis delivery for \d+ s while \d+ Kinesis records wait/);
  await createStream(engines().kinesis, stream);
  await waitFor('ready again', async () => (await readyz()).status === 200, 60_000);
  await waitFor(
    'the stall metric cleared',
    async () => metricValue(await collector.metrics(), 'flowline_kinesis_delivery_stalled') === 0,
  );
  await deliveredAll(collector, sent.length);
  expectExactlyOnce((await readStream(engines().kinesis, stream)).records, sent);
  collector.child.kill('SIGKILL');
}, 120_000);
