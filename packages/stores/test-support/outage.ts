/**
 * Ways to make a store's server unreachable in tests without touching the shared server.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A local port with nothing listening on it (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy to a real server that a test can take down and bring back on the same port, to see a store
 * fail while its database is gone and recover once it returns, without touching the shared server.
 */
export interface OutageProxy {
  readonly port: number;
  /** Stops listening and cuts every open connection, like a database that went away. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function outageProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<OutageProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };

  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  await start();
  return {
    get port() {
      return port;
    },
    start,
    stop,
  };
}
