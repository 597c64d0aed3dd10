/**
 * Keyward as a user mounts it on one framework: memory store, ES256 access tokens, the development login
 * (every authorization request approved at once, so codes can be minted over HTTP), a public PKCE client,
 * a confidential client_credentials client, open registration without its rate limit (the MCP SDK's is
 * turned off too), and `GET /guarded` behind the adapter's bearer guard answering what the bare hello route
 * answers. `keyward.ts <express|hono|fastify> <port>`.
 */
import { serve } from '@hono/node-server';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { keyward as expressKeyward, requireBearerAuth as expressBearer } from '@keyward/express';
import { keyward as fastifyKeyward, requireBearerAuth as fastifyBearer } from '@keyward/fastify';
import { keywardRoutes as honoKeywardRoutes, requireBearerAuth as honoBearer } from '@keyward/hono';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { announceReady, CC_CLIENT_ID, CC_CLIENT_SECRET, HELLO, PUBLIC_CLIENT_ID, REDIRECT_URI, SCOPE, serverArgs } from './common.js';

const { framework, port, issuer, resource } = serverArgs();

const server = new AuthorizationServer({
  issuer,
  store: new MemoryStore(),
  scopes: [SCOPE],
  defaultScopes: [SCOPE],
  resources: [{ resource, scopes: [SCOPE] }],
  clients: [
    { clientId: PUBLIC_CLIENT_ID, tokenEndpointAuthMethod: 'none', redirectUris: [REDIRECT_URI] },
    { clientId: CC_CLIENT_ID, clientSecret: CC_CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] },
  ],
  devLogin: { subject: 'bench-user' },
  // Codes are minted before the timed phase, which may take longer than the default minute.
  ttl: { authorizationCode: 900 },
  registration: { rateLimit: false },
  // One load generator is one address: per-address limits would answer 429 to almost every request, and
  // the peers run with theirs off too. `pnpm bench ops` measures what counting costs.
  rateLimits: { token: false, authorize: false, register: false, revoke: false, introspect: false, userinfo: false, login: false },
  onError: (error) => console.error('[keyward bench server]', error),
});
await server.ready();
const guard = server.createGuard({ scopes: [SCOPE], rateLimit: false });

if (framework === 'express') {
  const app = express();
  app.use(expressKeyward(server));
  app.get('/guarded', expressBearer(guard), (_req, res) => void res.json(HELLO));
  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', () => resolve()));
} else if (framework === 'fastify') {
  const app = Fastify();
  await app.register(fastifyKeyward, { server });
  app.get('/guarded', { preHandler: fastifyBearer(guard) }, async () => HELLO);
  await app.listen({ port, host: '127.0.0.1' });
} else {
  const app = new Hono();
  app.route('/', honoKeywardRoutes(server));
  app.get('/guarded', honoBearer(guard), (c) => c.json(HELLO));
  await new Promise<void>((resolve) => serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve()));
}
announceReady();
