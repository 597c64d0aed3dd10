/**
 * Several ways of answering one request, in one server process, each on its own loopback port, so that
 * `pnpm bench alternate` can load them in alternating rounds: the machine's drift then falls on every
 * variant alike, and differences of a few microseconds per response show. Prints one JSON line, the port of
 * each variant and a bearer token the guarded variants accept, then serves until stdin closes.
 *
 * - `node-static`: a bare Node handler writing the discovery document's precomputed bytes, the floor of
 *   any server; `node-glue`: the same handler answering every endpoint through core's Node glue.
 * - `express-static`: an Express app whose only middleware is `node-glue`'s handler: Express's floor.
 * - `express-keyward`: `app.use(keyward(server))`, as the Express guide mounts it.
 * - `express-hello`, `express-second-handler`, `express-guard`: `GET /guarded` answering `res.json()`
 *   alone, after a handler that only calls `next()`, and after `requireBearerAuth`.
 * - `hono-hello`, `hono-noop`, `hono-guard`: the same three on Hono (`@hono/node-server`).
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { serve } from '@hono/node-server';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { answerNodeRequest, readNodeBody, requestPathname, writeAnswer, writeStaticResponse } from '@keyward/core/node';
import { keyward as expressKeyward, requireBearerAuth as expressBearer } from '@keyward/express';
import { requireBearerAuth as honoBearer } from '@keyward/hono';
import express from 'express';
import { Hono } from 'hono';
import { CC_CLIENT_ID, CC_CLIENT_SECRET, HELLO, SCOPE, VARIANTS_ISSUER } from './common.js';

const server = new AuthorizationServer({
  issuer: VARIANTS_ISSUER,
  store: new MemoryStore(),
  scopes: [SCOPE],
  defaultScopes: [SCOPE],
  resources: [{ resource: `${VARIANTS_ISSUER}/mcp`, scopes: [SCOPE] }],
  clients: [{ clientId: CC_CLIENT_ID, clientSecret: CC_CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }],
  rateLimits: { token: false, authorize: false, register: false, revoke: false, introspect: false, userinfo: false, login: false },
});
await server.ready();
const guard = server.createGuard({ scopes: [SCOPE], rateLimit: false });
const issued = await server.request('/oauth/token', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CC_CLIENT_ID, client_secret: CC_CLIENT_SECRET, resource: `${VARIANTS_ISSUER}/mcp` }),
});
const { access_token: token } = (await issued.json()) as { access_token: string };

const context = { clientAddress: '127.0.0.1', protocol: 'http' as const };
/** Core's Node glue with a fixed context and no framework: what every adapter does at the least. */
function nodeGlue(req: IncomingMessage, res: ServerResponse): void {
  const pathname = requestPathname(req.url ?? '/') ?? '/';
  const answer = server.staticResponse(req.method ?? 'GET', pathname, context);
  if (answer) return writeStaticResponse(res, answer);
  const url = new URL(`http://${req.headers.host}${req.url}`);
  void (req.method === 'GET' ? Promise.resolve(null) : readNodeBody(req))
    .then((body) => answerNodeRequest(server, req, url, body, context))
    .then((answer) => writeAnswer(res, answer));
}

const discovery = server.staticResponse('GET', '/.well-known/oauth-authorization-server', context)!;
const json = (_req: unknown, res: express.Response) => void res.json(HELLO);
const variants: Record<string, RequestListener | Hono> = {
  'node-static': (_req, res) => writeStaticResponse(res, discovery),
  'node-glue': nodeGlue,
  'express-static': express().use(nodeGlue),
  'express-keyward': express().use(expressKeyward(server)),
  'express-hello': express().get('/guarded', json),
  'express-second-handler': express().get('/guarded', (_req, _res, next) => next(), json),
  'express-guard': express().get('/guarded', expressBearer(guard), json),
  'hono-hello': new Hono().get('/guarded', (c) => c.json(HELLO)),
  'hono-noop': new Hono().get('/guarded', async (_c, next) => void (await next()), (c) => c.json(HELLO)),
  'hono-guard': new Hono().get('/guarded', honoBearer(guard), (c) => c.json(HELLO)),
};

const ports: Record<string, number> = {};
for (const [name, variant] of Object.entries(variants)) {
  ports[name] = await new Promise<number>((resolve) => {
    if (variant instanceof Hono) serve({ fetch: variant.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    else {
      const http = createServer(variant).listen(0, '127.0.0.1', () => resolve((http.address() as { port: number }).port));
    }
  });
}
console.log(JSON.stringify({ ports, token }));
process.once('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
