/**
 * The bare framework, the floor every Keyward row is held against: `GET /hello` answers a small JSON body,
 * and `GET /jose` does the same after verifying the bearer token with jose, the way a hand-written resource
 * server would (ES256 key imported once; issuer, audience, type and algorithm checked).
 * `bare.ts <express|hono|fastify> <port>`, with the public JWK, issuer and audience in BENCH_JWK,
 * BENCH_ISSUER and BENCH_AUDIENCE.
 */
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { announceReady, HELLO, serverArgs } from './common.js';

const { framework, port } = serverArgs();
const publicKey = await importJWK(JSON.parse(process.env.BENCH_JWK ?? 'null') as JWK, 'ES256');
const options = { issuer: process.env.BENCH_ISSUER!, audience: process.env.BENCH_AUDIENCE!, algorithms: ['ES256'], typ: 'at+jwt' };

async function verified(authorization: string | undefined): Promise<boolean> {
  const match = authorization ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization) : null;
  if (!match) return false;
  try {
    await jwtVerify(match[1]!, publicKey, options);
    return true;
  } catch {
    return false;
  }
}
const UNAUTHORIZED = { error: 'invalid_token' };

if (framework === 'express') {
  const app = express();
  app.get('/hello', (_req, res) => void res.json(HELLO));
  app.get('/jose', async (req, res) => void ((await verified(req.headers.authorization)) ? res.json(HELLO) : res.status(401).json(UNAUTHORIZED)));
  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', () => resolve()));
} else if (framework === 'fastify') {
  const app = Fastify();
  app.get('/hello', async () => HELLO);
  app.get('/jose', async (request, reply) => ((await verified(request.headers.authorization)) ? HELLO : reply.code(401).send(UNAUTHORIZED)));
  await app.listen({ port, host: '127.0.0.1' });
} else {
  const app = new Hono();
  app.get('/hello', (c) => c.json(HELLO));
  app.get('/jose', async (c) => ((await verified(c.req.header('authorization'))) ? c.json(HELLO) : c.json(UNAUTHORIZED, 401)));
  await new Promise<void>((resolve) => serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve()));
}
announceReady();
