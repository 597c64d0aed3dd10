import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { expect, it } from 'vitest';
import { adapterDriftScenarios } from '../../core/test/adapter-drift.js';
import * as adapter from '../src/index.js';

for (const mount of ['middleware', 'routes'] as const) {
  adapterDriftScenarios({
    name: mount === 'middleware' ? 'hono' : 'hono (keywardRoutes)',
    exports: adapter,
    start: async (server, guard, { trustProxy, clientAddress, preParse }) => {
      const app = new Hono();
      // parseBody({ dot: true }) reads the body into nested values before keyward runs.
      if (preParse) app.use(async (c, next) => (await c.req.parseBody({ dot: true, all: true }), next()));
      const address = clientAddress === undefined ? {} : { clientAddress: () => clientAddress };
      if (mount === 'middleware') app.use(adapter.keyward(server, { trustProxy, ...address }));
      else app.route('/', adapter.keywardRoutes(server, { trustProxy, ...address }));
      app.post('/mcp', adapter.requireBearerAuth(guard, { trustProxy, ...address }), (c) => c.text('ok'));
      let http!: ServerType;
      const port = await new Promise<number>((resolve) => {
        http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
      });
      return {
        base: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((resolve) => {
            http.close(() => resolve());
            if ('closeAllConnections' in http) http.closeAllConnections();
          }),
      };
    },
  });
}

it('ADP-DRIFT-06 (hono): the former guard name bearerAuth is the same function as requireBearerAuth', () => {
  expect(adapter.bearerAuth).toBe(adapter.requireBearerAuth);
});
