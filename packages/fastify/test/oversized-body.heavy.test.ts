// Through Fastify, core's 413 (over 64 KiB) comes after the plugin's parser has read the whole body; over
// 1 MiB Fastify's bodyLimit answers.
// Fifty 2 MiB requests per case make this a heavy file: it runs in the full suite (the `heavy` project), and
// the fast lane keeps ADP-DRIFT-01's single oversized request per adapter. The race is in
// core/test/oversized-bodies.ts.
import { createServer, type AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { describeOversizedBodies } from '../../core/test/oversized-bodies.js';
import { keyward } from '../src/index.js';

const running: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((fastify) => fastify.close()));
});

async function serve(): Promise<string> {
  const fastify = Fastify();
  running.push(fastify);
  // The issuer must be known before the routes exist, and Fastify takes no routes once listening.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const base = `http://127.0.0.1:${port}`;
  await fastify.register(keyward, { server: new AuthorizationServer({ issuer: base, store: new MemoryStore(), clients: [{ clientId: 'service', clientSecret: 'service-secret-service-secret-1234', grantTypes: ['client_credentials'] }] }) });
  await fastify.listen({ port, host: '127.0.0.1' });
  return base;
}

describeOversizedBodies('fastify', "Fastify's bodyLimit (1 MiB)", serve);
