import express from 'express';
import type { AddressInfo } from 'node:net';
import { adapterDriftScenarios } from '../../core/test/adapter-drift.js';
import * as adapter from '../src/index.js';

adapterDriftScenarios({
  name: 'express',
  exports: adapter,
  start: async (server, guard, { trustProxy, clientAddress, preParse }) => {
    const app = express();
    // qs turns `grant_type[x]=…` into { grant_type: { x: … } }.
    if (preParse) app.use(express.urlencoded({ extended: true }));
    const address = clientAddress === undefined ? {} : { clientAddress: () => clientAddress };
    app.use(adapter.keyward(server, { trustProxy, ...address }));
    app.post('/mcp', adapter.requireBearerAuth(guard, { trustProxy, ...address }), (_req, res) => void res.status(200).end());
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
  },
});
