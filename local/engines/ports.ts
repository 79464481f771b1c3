// Loopback ports for the engines: a free one chosen by the kernel, or a requested one checked up front.
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port that was free a moment ago (bind port 0, read it, release it). */
export function findFreePort(host = LOOPBACK): Promise<number> {
  return listenOnce(0, host);
}

export class PortInUseError extends Error {
  constructor(
    readonly engine: string,
    readonly port: number,
  ) {
    super(
      `${engine}: port ${port} is already in use. Stop the process that holds it (e.g. \`lsof -i :${port}\` or \`ss -ltnp 'sport = :${port}'\`) or choose another port; leave the port unset to get a free one.`,
    );
    this.name = 'PortInUseError';
  }
}

/** Throws PortInUseError when the requested port cannot be bound on any interface. */
export async function assertPortFree(engine: string, port: number): Promise<void> {
  // Engines that do not bind loopback only (DynamoDB Local, kinesis-mock) listen on every interface.
  for (const host of [LOOPBACK, '0.0.0.0']) {
    try {
      await listenOnce(port, host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(engine, port);
      throw error;
    }
  }
}

/** Chooses the port (requested or free) and retries start-up on a fresh port if a free one was taken meanwhile. */
export async function withPort<T>(
  engine: string,
  requested: number | undefined,
  start: (port: number) => Promise<T>,
  portWasTaken: (error: unknown) => boolean,
): Promise<T> {
  if (requested !== undefined) {
    await assertPortFree(engine, requested);
    try {
      return await start(requested);
    } catch (error) {
      if (portWasTaken(error)) throw new PortInUseError(engine, requested);
      throw error;
    }
  }
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    try {
      return await start(port);
    } catch (error) {
      if (attempt >= 3 || !portWasTaken(error)) throw error;
    }
  }
}
