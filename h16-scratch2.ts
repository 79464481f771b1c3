import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { floodTemplate, templateFloodMessage } from './test/support/hostile-ipfix.ts';
const child = spawn(process.execPath, ['bin/flowline.js', 'collect'], { env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:1', FLOWLINE_STREAM_NAME: 's', FLOWLINE_LISTEN: 'udp://127.0.0.1:47391', FLOWLINE_HTTP_LISTEN: '127.0.0.1:47392', FLOWLINE_SPOOL_DIR: '/tmp/h16-spool-scratch', FLOWLINE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
child.on('exit', (c, s) => console.log('EXIT', c, s));
await new Promise((r) => setTimeout(r, 4000));
const sockets = await Promise.all(Array.from({ length: 1000 }, async () => { const s = createSocket('udp4'); await new Promise<void>((r) => s.bind(0, '127.0.0.1', r)); return s; }));
for (let port = 0; port < 1000; port++) {
  const m = templateFloodMessage(Array.from({ length: 5 }, (_, j) => floodTemplate(256 + j, 500, port * 5 + j)), port);
  await new Promise<void>((r) => sockets[port]!.send(m, 47391, '127.0.0.1', () => r()));
  if (port % 2) await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 3000));
const text = await (await fetch('http://127.0.0.1:47392/metrics')).text();
console.log(text.split('\n').filter((l) => /^flowline_collector_(ipfix_messages|templates|template_bytes|limit|sessions)/.test(l)).join('\n'));
child.kill('SIGKILL'); process.exit(0);
