// The TCP/TLS connection limits (collector-edge/connection-guard.ts) on real loopback sockets, with an
// injected clock for the partial-message age; and the delivery watch behind /readyz.
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ConnectionGuard, type ConnectionLimits } from '../../../collector-edge/connection-guard.ts';
import { DeliveryWatch } from '../../../collector-edge/delivery-watch.ts';
import { createLogger, LogThrottle } from '../../../collector-edge/log.ts';
import { CollectorMetrics } from '../../../collector-edge/metrics.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

async function guardedServer(limits: Partial<ConnectionLimits>, now: () => number = Date.now) {
  const metrics = new CollectorMetrics();
  const guard = new ConnectionGuard(
    {
      maxConnections: 100,
      maxConnectionsPerSource: 100,
      idleMs: 60_000,
      partialMessageMs: 60_000,
      ...limits,
    },
    metrics,
    createLogger('silent'),
    new LogThrottle(),
    now,
  );
  const admitted: Socket[] = [];
  const server: Server = createServer((socket) => {
    if (guard.admit(socket, 'tcp')) admitted.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const clients: Socket[] = [];
  cleanup.push(() => {
    for (const c of clients) c.destroy();
    guard.stop();
    server.close();
  });
  /** Opens a client; resolves true when the server closed it (refused), false while it stays open. */
  const open = async (localAddress = '127.0.0.1') => {
    const client = connect({ host: '127.0.0.1', port, localAddress });
    client.on('error', () => {});
    clients.push(client);
    await once(client, 'connect');
    return client;
  };
  const trips = async (limit: string) => metrics.total('flowline_collector_limit_trips_total', { limit });
  return { guard, open, trips, admitted };
}

/** Waits for a condition (no fixed sleeps). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

describe('connection guard', () => {
  test('refuses beyond the total and the per-source limits; a closed connection frees its slot', async () => {
    const { guard, open, trips, admitted } = await guardedServer({
      maxConnections: 3,
      maxConnectionsPerSource: 2,
    });
    const a = await open('127.0.0.1');
    await open('127.0.0.1');
    const third = await open('127.0.0.1'); // a third from the same source
    await closed(third);
    expect(await trips('connections-per-source')).toBe(1);
    await open('127.0.0.2'); // another source: admitted (3 open)
    const fourth = await open('127.0.0.3');
    await closed(fourth);
    expect(await trips('connections')).toBe(1);
    await until(() => admitted.length === 3);
    expect(guard.openConnections).toBe(3);
    admitted[0]!.destroy();
    await closed(a);
    await until(() => guard.openConnections === 2);
    await open('127.0.0.1'); // the freed slot: admitted, not refused
    await until(() => admitted.length === 4);
    expect(guard.openConnections).toBe(3);
    expect(await trips('connections-per-source')).toBe(1);
  });

  test('closes a connection whose partial message is older than the limit; complete messages reset it', async () => {
    let now = 1_000_000;
    const { guard, open, trips, admitted } = await guardedServer({ partialMessageMs: 1000 }, () => now);
    const slow = await open();
    const steady = await open();
    await until(() => admitted.length === 2);
    const [slowServer, steadyServer] = admitted as [Socket, Socket];
    guard.noteProgress(slowServer, 10); // 10 bytes of a message, then nothing
    guard.noteProgress(steadyServer, 10);
    now += 600;
    guard.noteProgress(steadyServer, 0); // its message completed
    guard.noteProgress(steadyServer, 5); // a new one started
    now += 600;
    guard.sweep();
    await closed(slow);
    expect(await trips('partial-message-age')).toBe(1);
    expect(steady.closed).toBe(false);
  });

  test('closes a connection idle longer than the idle timeout', async () => {
    const { open, trips } = await guardedServer({ idleMs: 100 });
    const idle = await open();
    await closed(idle);
    expect(await trips('connection-idle')).toBe(1);
  });
});

describe('delivery watch', () => {
  test('stalled only while records wait longer than the threshold without a delivery', () => {
    const watch = new DeliveryWatch(1000, 0);
    expect(watch.stalled(0, 5000)).toBe(false); // nothing waits
    expect(watch.stalled(3, 5500)).toBe(false); // waiting 500 ms since the last check with nothing pending
    expect(watch.stalled(3, 6001)).toBe(true);
    expect(watch.waitingMs(3, 6001)).toBe(1001);
    watch.delivered(6100);
    expect(watch.stalled(3, 7000)).toBe(false);
    expect(watch.stalled(3, 7101)).toBe(true);
    expect(watch.stalled(0, 7200)).toBe(false);
  });
});
