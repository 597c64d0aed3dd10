// Through @hono/node-server, core answers 413 on the Content-Length alone, before reading the body; the
// server must still let the client finish sending.
// Fifty 2 MiB requests per case make this a heavy file: it runs in the full suite (the `heavy` project), and
// the fast lane keeps ADP-DRIFT-01's single oversized request per adapter. The race is in
// core/test/oversized-bodies.ts.
import type { AddressInfo } from 'node:net';
import { serve as serveNode, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { describeOversizedBodies } from '../../core/test/oversized-bodies.js';
import { keyward } from '../src/index.js';

const running: ServerType[] = [];

afterEach(async () => {
  await Promise.all(
    running.splice(0).map(
      (http) =>
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          if ('closeAllConnections' in http) http.closeAllConnections();
        }),
    ),
  );
});

/** Keyward on Hono, served by @hono/node-server on a free loopback port (the issuer is set once it is known). */
async function serve(): Promise<string> {
  let handler: Hono | undefined;
  const port = await new Promise<number>((resolve) => {
    running.push(serveNode({ fetch: (request) => handler!.fetch(request), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port)));
  });
  const base = `http://127.0.0.1:${port}`;
  const app = new Hono();
  app.use(keyward(new AuthorizationServer({ issuer: base, store: new MemoryStore(), clients: [{ clientId: 'service', clientSecret: 'service-secret-service-secret-1234', grantTypes: ['client_credentials'] }] })));
  handler = app;
  return base;
}

describeOversizedBodies('hono (@hono/node-server)', "core's MAX_BODY_BYTES by 2 MiB", serve);
