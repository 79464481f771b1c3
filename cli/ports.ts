// Fail fast on a busy port: `flowline collect` and `flowline local` bind their listeners only after slower
// work (a Kinesis shard listing, starting the engines), so they try each port here first and stop with one
// clear line instead of logs followed by a bind error.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { CliError } from './errors.ts';

export interface PortSpec {
  protocol: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
}

function tryBind(spec: PortSpec): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    if (spec.protocol === 'udp') {
      const socket = createSocket(spec.host.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', (error) => {
        socket.close();
        resolve(error);
      });
      socket.bind(spec.port, spec.host, () => socket.close(() => resolve(undefined)));
    } else {
      const server = createServer();
      server.once('error', (error) => resolve(error));
      server.listen(spec.port, spec.host, () => server.close(() => resolve(undefined)));
    }
  });
}

/** Throws a one-line CliError naming the first listener that cannot bind, and the flag that moves it. */
export async function assertBindable(specs: PortSpec[], flag: string): Promise<void> {
  for (const spec of specs) {
    if (spec.port === 0) continue;
    const error = await tryBind(spec);
    if (!error) continue;
    const where = `${spec.protocol}://${spec.host}:${spec.port}`;
    if (error.code === 'EADDRINUSE') {
      throw new CliError(
        `${where} is already in use: stop what listens there or choose another port with ${flag}`,
      );
    }
    throw new CliError(
      `cannot listen on ${where} (${error.code}): choose another address or port with ${flag}`,
    );
  }
}
