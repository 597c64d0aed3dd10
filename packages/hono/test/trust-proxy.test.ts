import { Hono } from 'hono';
import { proxyScenarios } from '../../core/test/proxy-scenarios.js';
import { requireBearerAuth } from '../src/index.js';
import { listen, mountKeyward, MOUNTS } from './serve.js';

for (const mount of MOUNTS) {
  proxyScenarios(mount === 'middleware' ? 'hono' : 'hono (keywardRoutes)', async (server, guard, trustProxy) => {
    const app = new Hono();
    mountKeyward(app, server, mount, { trustProxy });
    app.post('/mcp', requireBearerAuth(guard, { trustProxy }), (c) => c.text('ok'));
    return listen(app);
  });
}
