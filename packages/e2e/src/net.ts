import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on 127.0.0.1, on `preferredPort` when it is free (so screenshots that show a port come out the same
 * from run to run) and on an ephemeral port otherwise. Resolves with the port.
 */
export async function listenOnLoopback(server: Server, preferredPort = 0): Promise<number> {
  const attempt = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await attempt(preferredPort);
  } catch (error) {
    if (preferredPort === 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await attempt(0);
  }
  return (server.address() as AddressInfo).port;
}

/** A port that was free a moment ago (for a child process that must be told its port). */
export async function freePort(preferredPort = 0): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  const port = await new Promise<number>((resolve, reject) => {
    const tryListen = (candidate: number) => {
      probe.once('error', (error: NodeJS.ErrnoException) => {
        if (candidate !== 0 && error.code === 'EADDRINUSE') tryListen(0);
        else reject(error);
      });
      probe.listen(candidate, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port));
    };
    tryListen(preferredPort);
  });
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Closes a server and every connection it still holds (keep-alive sockets of a browser included). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections();
    server.close((error) => (error ? reject(error) : resolve()));
  });
}
