// Through Express, core's 413 (over 64 KiB) comes after the adapter has read the whole body; over 1 MiB the
// adapter's own 413 goes to the app's error handler.
// Fifty 2 MiB requests per case make this a heavy file: it runs in the full suite (the `heavy` project), and
// the fast lane keeps ADP-DRIFT-01's single oversized request per adapter. The race is in
// core/test/oversized-bodies.ts.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { describeOversizedBodies } from '../../core/test/oversized-bodies.js';
import { keyward } from '../src/index.js';

const running: Server[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => new Promise((resolve) => (server.close(resolve), server.closeAllConnections()))));
});

async function serve(): Promise<string> {
  const app = express();
  const http = app.listen(0, '127.0.0.1');
  running.push(http);
  await new Promise((resolve) => http.once('listening', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  app.use(keyward(new AuthorizationServer({ issuer: base, store: new MemoryStore(), clients: [{ clientId: 'service', clientSecret: 'service-secret-service-secret-1234', grantTypes: ['client_credentials'] }] })));
  // Answers the adapter's own 413 (over 1 MiB) quietly instead of Express's default handler, which logs it.
  app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(error.status ?? 500).json({ error: 'invalid_request' }));
  return base;
}

describeOversizedBodies('express', "the adapter's 1 MiB", serve);
