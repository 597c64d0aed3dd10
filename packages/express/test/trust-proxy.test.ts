import express from 'express';
import type { AddressInfo } from 'node:net';
import { proxyScenarios } from '../../core/test/proxy-scenarios.js';
import { keyward, requireBearerAuth } from '../src/index.js';

proxyScenarios('express', async (server, guard, trustProxy) => {
  const app = express();
  app.use(keyward(server, { trustProxy }));
  app.post('/mcp', requireBearerAuth(guard, { trustProxy }), (_req, res) => void res.status(200).end());
  const http = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () => {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      return closed;
    },
  };
});
