import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { proxyScenarios } from '../../core/test/proxy-scenarios.js';
import { requireBearerAuth, keyward, keywardRoutes } from '../src/index.js';

for (const mount of ['middleware', 'routes'] as const) {
  proxyScenarios(mount === 'middleware' ? 'hono' : 'hono (keywardRoutes)', async (server, guard, trustProxy) => {
    const app = new Hono();
    if (mount === 'middleware') app.use(keyward(server, { trustProxy }));
    else app.route('/', keywardRoutes(server, { trustProxy }));
    app.post('/mcp', requireBearerAuth(guard, { trustProxy }), (c) => c.text('ok'));
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
  });
}
