import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { AuthorizationServer } from '@keyward/core';
import type { Hono } from 'hono';
import { keyward, keywardRoutes, type KeywardOptions } from '../src/index.js';

/** Serves `app` with @hono/node-server on a free loopback port. */
export async function listen(app: Hono): Promise<{ base: string; close: () => Promise<void> }> {
  let http!: ServerType;
  const port = await new Promise<number>((resolve) => {
    http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
  });
  const close = () =>
    new Promise<void>((resolve) => {
      http.close(() => resolve());
      // Keep-alive connections would otherwise hold close() open for the keep-alive timeout.
      if ('closeAllConnections' in http) http.closeAllConnections();
    });
  return { base: `http://127.0.0.1:${port}`, close };
}

/** The two ways to mount Keyward on a Hono app: one middleware before every route, or routes of its own. */
export type Mount = 'middleware' | 'routes';
export const MOUNTS: readonly Mount[] = ['middleware', 'routes'];

export function mountKeyward(app: Hono, server: AuthorizationServer, mount: Mount, options: KeywardOptions = {}): void {
  if (mount === 'middleware') app.use(keyward(server, options));
  else app.route('/', keywardRoutes(server, options));
}
