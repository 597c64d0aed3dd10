import { Hono } from 'hono';
import { expect, it } from 'vitest';
import { adapterDriftScenarios } from '../../core/test/adapter-drift.js';
import * as adapter from '../src/index.js';
import { listen, mountKeyward, MOUNTS } from './serve.js';

for (const mount of MOUNTS) {
  adapterDriftScenarios({
    name: mount === 'middleware' ? 'hono' : 'hono (keywardRoutes)',
    exports: adapter,
    start: async (server, guard, { trustProxy, clientAddress, preParse }) => {
      const app = new Hono();
      // parseBody({ dot: true }) reads the body into nested values before keyward runs.
      if (preParse) app.use(async (c, next) => (await c.req.parseBody({ dot: true, all: true }), next()));
      const address = clientAddress === undefined ? {} : { clientAddress: () => clientAddress };
      mountKeyward(app, server, mount, { trustProxy, ...address });
      app.post('/mcp', adapter.requireBearerAuth(guard, { trustProxy, ...address }), (c) => c.text('ok'));
      return listen(app);
    },
  });
}

it('ADP-DRIFT-06 (hono): the former guard name bearerAuth is the same function as requireBearerAuth', () => {
  expect(adapter.bearerAuth).toBe(adapter.requireBearerAuth);
});
