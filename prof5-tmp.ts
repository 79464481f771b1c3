import { connect, createServer } from 'node:net';
const server = createServer((s) => { let n = 0; s.on('data', (c) => { n += c.length; }); });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const sock = connect((server.address() as any).port, '127.0.0.1'); await new Promise(r => sock.once('connect', r));
const m = Buffer.alloc(60000, 1);
const t0 = performance.now();
for (let i = 0; i < 2000; i++) if (!sock.write(m)) await new Promise(res => sock.once('drain', res));
console.log('120MB', performance.now() - t0, 'ms');
sock.destroy(); server.close();
