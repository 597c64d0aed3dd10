import type { AddressInfo } from 'node:net';
import { request as httpRequest, type Server } from 'node:http';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorizationServer, type AuthorizationServerOptions } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { testHTTPConformance } from '@keyward/core/testing';
import { keyward, requireBearerAuth, sendWebResponse } from '../src/index.js';
import { observeRequests } from '../../core/test/observe-requests.js';

const CLIENT_ID = 'service';
const CLIENT_SECRET = 'service-secret-service-secret-1234';
const basic = `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`;

const running: Server[] = [];

afterEach(async () => {
  await Promise.all(
    running.splice(0).map((server) => {
      const closed = new Promise((resolve) => server.close(resolve));
      // Keep-alive connections would otherwise hold close() open for the keep-alive timeout.
      server.closeAllConnections();
      return closed;
    }),
  );
});

/** A real listening Express server on a free loopback port; the issuer is that very origin. */
async function serve(
  build: (app: Express, server: AuthorizationServer) => void,
  options: Partial<AuthorizationServerOptions> = {},
): Promise<{ base: string; server: AuthorizationServer }> {
  const app = express();
  const http = app.listen(0, '127.0.0.1');
  running.push(http);
  await new Promise((resolve) => http.once('listening', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const server = new AuthorizationServer({
    issuer: base,
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid'],
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] }],
    ...options,
  });
  build(app, server);
  return { base, server };
}

function clientCredentials(base: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${base}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': contentType }, body });
}

function conformance(name: string, prepare: (app: Express) => void = () => {}): void {
  testHTTPConformance({
    name,
    start: async (server) => {
      const app = express();
      prepare(app);
      app.use(keyward(server));
      const http = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => http.once('listening', resolve));
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      return {
        fetch: (path, init) => fetch(base + path, init),
        close: () => new Promise<void>((resolve) => (http.close(() => resolve()), http.closeAllConnections())),
      };
    },
  });
}

conformance('express');
// better-auth's Express guide warns about exactly this order: parsers mounted before the server.
conformance('express (express.urlencoded({ extended: true }) and express.json() before the mount)', (app) => {
  app.use(express.urlencoded({ extended: true }));
  app.use(express.json());
});
conformance('express (express.urlencoded({ extended: false }) before the mount)', (app) => void app.use(express.urlencoded({ extended: false })));

const STATIC_REQUESTS = [
  ['GET', '/.well-known/oauth-authorization-server'],
  ['HEAD', '/.well-known/oauth-authorization-server'],
  ['GET', '/.well-known/openid-configuration'],
  ['GET', '/.well-known/oauth-protected-resource/mcp'],
  ['GET', '/oauth/keys'],
  ['OPTIONS', '/oauth/token'],
] as const;

/** The fields an HTTP server adds itself, which a Web Response does not carry. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'x-powered-by']);

function responseFields(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => !TRANSPORT_HEADERS.has(name)));
}

describe('keyward(server)', () => {
  it('PERF-STATIC-04: metadata, JWKS and preflights are written from precomputed bytes, never via fetch, exactly as server.fetch answers them', async () => {
    const seen: string[] = [];
    let direct: AuthorizationServer['fetch'] = () => Promise.reject(new Error('not built'));
    const { base, server } = await serve((app, server) => {
      direct = server.fetch.bind(server);
      observeRequests(server, (request) => seen.push(request.url));
      app.use(keyward(server));
    });
    await server.ready();
    for (const [method, path] of STATIC_REQUESTS) {
      const overHTTP = await fetch(base + path, { method });
      const expected = await direct(new Request(base + path, { method }));
      expect(overHTTP.status, `${method} ${path}`).toBe(expected.status);
      expect(responseFields(overHTTP), `${method} ${path}`).toEqual(responseFields(expected));
      expect(await overHTTP.text()).toBe(method === 'HEAD' ? '' : await expected.text());
    }
    expect(seen).toEqual([]);
  });
  it('serves the authorization server metadata', async () => {
    const { base } = await serve((app, server) => app.use(keyward(server)));
    const response = await fetch(`${base}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const metadata = await response.json();
    expect(metadata.issuer).toBe(base);
    expect(metadata.token_endpoint).toBe(`${base}/oauth/token`);
    const resource = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    expect((await resource.json()).resource).toBe(`${base}/mcp`);
  });

  it('reads an unparsed form body from the stream', async () => {
    const { base } = await serve((app, server) => app.use(keyward(server)));
    const response = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Aadmin');
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.scope).toBe('mcp:admin');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('re-encodes a form body that express.urlencoded() and express.json() parsed before the mount', async () => {
    const { base } = await serve((app, server) => {
      app.use(express.urlencoded({ extended: true }));
      app.use(express.json());
      app.use(keyward(server));
    });
    const form = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools+mcp%3Aadmin');
    expect(form.status).toBe(200);
    expect((await form.json()).scope).toBe('mcp:tools mcp:admin');
    const json = await clientCredentials(base, JSON.stringify({ grant_type: 'client_credentials', scope: 'mcp:tools' }), 'application/json');
    expect(json.status).toBe(200);
    expect((await json.json()).scope).toBe('mcp:tools');
  });

  it('keeps a repeated form parameter repeated after a parser read it (OAuth 2.1 §3.1)', async () => {
    for (const extended of [false, true]) {
      const { base } = await serve((app, server) => {
        app.use(express.urlencoded({ extended }));
        app.use(keyward(server));
      });
      const response = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools&scope=mcp%3Aadmin');
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('refuses an unread body over 1 MiB with 413 instead of buffering it', async () => {
    const { base } = await serve((app, server) => {
      app.use(keyward(server));
      // Express's default handler would log the error to stderr; this app answers it quietly.
      app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(error.status ?? 500).end());
    });
    const response = await clientCredentials(base, `grant_type=client_credentials&padding=${'x'.repeat(2 * 1024 * 1024)}`);
    expect(response.status).toBe(413);
  });

  it('builds the request URL from req.protocol and the forwarded host under trust proxy', async () => {
    const seen: string[] = [];
    const { base } = await serve((app, server) => {
      app.set('trust proxy', 'loopback');
      observeRequests(server, (request) => seen.push(request.url));
      app.use(keyward(server));
    });
    // POSTs: a GET of metadata is answered from precomputed bytes without a Web Request at all.
    await fetch(`${base}/.well-known/oauth-authorization-server?x=1`, { method: 'POST', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com' } });
    await fetch(`${base}/oauth/keys`, { method: 'POST' });
    expect(seen).toEqual(['https://auth.example.com/.well-known/oauth-authorization-server?x=1', `${base}/oauth/keys`]);
  });

  it('passes req.ip as clientAddress: the socket address, or X-Forwarded-For only when trust proxy trusts the peer', async () => {
    const seen: (string | undefined)[] = [];
    const spy = (server: AuthorizationServer) => {
      observeRequests(server, (_request, context) => seen.push(context.clientAddress));
    };
    const direct = await serve((app, server) => (spy(server), app.use(keyward(server))));
    const proxied = await serve((app, server) => (app.set('trust proxy', 'loopback'), spy(server), app.use(keyward(server))));
    const forwarded = { 'x-forwarded-for': '203.0.113.7' };
    await fetch(`${direct.base}/oauth/token`, { method: 'POST', headers: forwarded });
    await fetch(`${proxied.base}/oauth/token`, { method: 'POST', headers: forwarded });
    await fetch(`${proxied.base}/oauth/token`, { method: 'POST' });
    expect(seen).toEqual(['127.0.0.1', '203.0.113.7', '127.0.0.1']);
  });

  // The adapter reads the socket directly when Express does not trust the peer, and Express's getters when
  // it does: either way the server must see exactly what req.ip, req.protocol and req.host say.
  const TRUST_SETTINGS: [string, unknown][] = [
    ['off', false],
    ['on', true],
    ['loopback', 'loopback'],
    ['another network', '10.0.0.0/8'],
    ['one hop', 1],
    ['a function', (address: string) => address === '127.0.0.1'],
  ];
  const FORWARDED_HEADERS: Record<string, string>[] = [
    {},
    { 'x-forwarded-for': '203.0.113.7' },
    { 'x-forwarded-for': '198.51.100.2, 203.0.113.7' },
    { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com, inner.example' },
    { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com:8443' },
  ];
  it.each(TRUST_SETTINGS)('passes the client address, scheme and host Express itself reports, trust proxy %s', async (_name, setting) => {
    const seen: { clientAddress?: string | undefined; protocol?: string | undefined; url: string }[] = [];
    const { base } = await serve((app, server) => {
      app.set('trust proxy', setting);
      observeRequests(server, (request, context) => seen.push({ clientAddress: context.clientAddress, protocol: context.protocol, url: request.url }));
      app.use(keyward(server));
      app.post('/express-view', (req, res) => void res.json({ ip: req.ip, protocol: req.protocol, host: req.host, url: req.originalUrl }));
    });
    for (const headers of FORWARDED_HEADERS) {
      const express = (await (await fetch(`${base}/express-view`, { method: 'POST', headers })).json()) as { ip: string; protocol: string; host: string };
      seen.length = 0;
      await fetch(`${base}/oauth/token?probe=1`, { method: 'POST', headers });
      expect(seen, JSON.stringify(headers)).toEqual([{ clientAddress: express.ip, protocol: express.protocol, url: `${express.protocol}://${express.host}/oauth/token?probe=1` }]);
    }
  });

  it.each(TRUST_SETTINGS)('rate-limits the bearer guard per the address Express reports, trust proxy %s', async (_name, setting) => {
    const ips: string[] = [];
    const { base } = await serve((app, server) => {
      app.set('trust proxy', setting);
      const guard = server.createGuard({ rateLimit: { windowMs: 60_000, max: 1 } });
      app.get('/express-view', (req, res) => void (ips.push(req.ip!), res.end()));
      app.get('/mcp', requireBearerAuth(guard), (_req, res) => void res.end());
    });
    const first = { 'x-forwarded-for': '203.0.113.1' };
    const second = { 'x-forwarded-for': '203.0.113.2' };
    await fetch(`${base}/express-view`, { headers: first });
    await fetch(`${base}/express-view`, { headers: second });
    // One request per window: the second from the same address is refused; one from another address is not.
    expect((await fetch(`${base}/mcp`, { headers: first })).status).toBe(401);
    expect((await fetch(`${base}/mcp`, { headers: first })).status).toBe(429);
    expect((await fetch(`${base}/mcp`, { headers: second })).status).toBe(ips[0] === ips[1] ? 429 : 401);
  });

  it('AUTHZ-DCR-08: registration rate limits count per client address, as trust proxy decides it', async () => {
    const register = (base: string, address: string) =>
      fetch(`${base}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ client_name: 'rate', redirect_uris: ['http://127.0.0.1/callback'] }),
      });
    const limited = { registration: { rateLimit: { max: 1, windowSeconds: 60 } } };
    const proxied = await serve((app, server) => (app.set('trust proxy', 'loopback'), app.use(keyward(server))), limited);
    expect((await register(proxied.base, '203.0.113.1')).status).toBe(201);
    const refused = await register(proxied.base, '203.0.113.1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await register(proxied.base, '203.0.113.2')).status).toBe(201);
    // Without trust proxy the header is anybody's to write, so it is ignored: both count for 127.0.0.1.
    const direct = await serve((app, server) => app.use(keyward(server)), limited);
    expect((await register(direct.base, '203.0.113.1')).status).toBe(201);
    expect((await register(direct.base, '203.0.113.2')).status).toBe(429);
  });

  it('lets other routes fall through, and answers CORS preflights only for its own endpoints', async () => {
    const { base } = await serve((app, server) => {
      app.use(keyward(server));
      app.get('/hello', (_req, res) => void res.send('hello'));
    });
    expect(await (await fetch(`${base}/hello`)).text()).toBe('hello');
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    const preflight = await fetch(`${base}/oauth/token`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    // AUTHZ-AZ-03: the authorization endpoint is a top-level navigation, never CORS.
    const authorize = await fetch(`${base}/oauth/authorize`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    expect(authorize.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('sendWebResponse(res, response)', () => {
  it('writes status, every header value and the body bytes', async () => {
    const { base } = await serve((app) =>
      app.get('/web', (_req, res) => {
        const headers = new Headers([['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Path=/'], ['x-list', 'one'], ['x-list', 'two']]);
        void sendWebResponse(res, new Response(new Uint8Array([0, 1, 2, 255]), { status: 201, headers }));
      }),
    );
    const response = await fetch(`${base}/web`);
    expect(response.status).toBe(201);
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(response.headers.get('x-list')).toBe('one, two');
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });
});

/** A POST with the Authorization field sent twice, as two header lines (fetch would join them into one). */
function postWithTwoAuthorizations(url: string, value: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.setHeader('authorization', [value, value]);
    request.on('error', reject);
    request.end('{}');
  });
}

describe('requireBearerAuth(guard)', () => {
  async function protectedApp(parseFirst: boolean) {
    const { base, server } = await serve((app, server) => {
      app.use(keyward(server));
      if (parseFirst) app.use(express.urlencoded({ extended: false }));
      app.post('/mcp', requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] })), express.json(), (req, res) => {
        res.json({ auth: { clientId: req.auth?.clientId, scopes: req.auth?.scopes, subject: req.auth?.extra?.subject }, body: req.body });
      });
    });
    const token = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools');
    return { base, server, accessToken: (await token.json()).access_token as string };
  }

  it('AUTHZ-RS-01: sets req.auth and leaves the body for the route', async () => {
    const { base, accessToken } = await protectedApp(false);
    const response = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      auth: { clientId: CLIENT_ID, scopes: ['mcp:tools'], subject: CLIENT_ID },
      body: { jsonrpc: '2.0', id: 1, method: 'ping' },
    });
  });

  it('AUTHZ-RS-02, AUTHZ-RS-05: no token → 401 with a resource_metadata challenge and no error', async () => {
    const { base } = await protectedApp(false);
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
    expect(response.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate');
  });

  it('AUTHZ-RS-01: a valid token in two Authorization fields is refused (401), as the Web Request path refuses it', async () => {
    const { base, accessToken } = await protectedApp(false);
    expect(await postWithTwoAuthorizations(`${base}/mcp`, `Bearer ${accessToken}`)).toBe(401);
    const once = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: '{}' });
    expect(once.status).toBe(200);
  });

  it('AUTHZ-RS-02: an invalid token → 401 invalid_token', async () => {
    const { base } = await protectedApp(false);
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not.a.jwt' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
  });

  it('AUTHZ-RS-02: options.scopes adds to the guard\'s scopes → 403 insufficient_scope naming all of them', async () => {
    const { base } = await serve((app, server) => {
      app.use(keyward(server));
      app.post('/admin', requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), { scopes: ['mcp:admin'] }), (_req, res) => void res.send('ok'));
    });
    const { access_token: accessToken } = await (await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools')).json();
    const response = await fetch(`${base}/admin`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp:tools mcp:admin"`,
    );
  });

  it('AUTHZ-RS-01: a token in both the header and an already parsed form body → 400', async () => {
    const { base, accessToken } = await protectedApp(true);
    const response = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: accessToken }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
  });

  describe('scopesFor: per-request step-up', () => {
    /** tools/call of admin_stats needs mcp:admin; anything else only the guard's mcp:tools. */
    const adminTool = (req: express.Request): string[] => {
      const body = req.body as { method?: string; params?: { name?: string } } | undefined;
      return body?.method === 'tools/call' && body.params?.name === 'admin_stats' ? ['mcp:admin'] : [];
    };

    async function stepUpApp(scopesFor: (req: express.Request) => readonly string[] | Promise<readonly string[]>) {
      const { base } = await serve((app, server) => {
        app.use(keyward(server));
        app.post('/mcp', express.json(), requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), { scopesFor }), (req, res) => void res.json({ scopes: req.auth?.scopes }));
        app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ error: error.message }));
      });
      const token = async (scope: string) => (await (await clientCredentials(base, `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`)).json()).access_token as string;
      const call = (accessToken: string, body: unknown) =>
        fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { base, token, call };
    }

    const adminCall = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } };

    it('AUTHZ-RS-02: a call that needs more → 403 insufficient_scope naming every scope needed', async () => {
      const { base, token, call } = await stepUpApp(adminTool);
      const response = await call(await token('mcp:tools'), adminCall);
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp:tools mcp:admin"`,
      );
      expect(await response.json()).toEqual({ error: 'insufficient_scope', error_description: 'the access token lacks a required scope' });
    });

    it('lets other calls through with the guard\'s scopes, and the call itself once the token carries the scope', async () => {
      const { token, call } = await stepUpApp(adminTool);
      const tools = await token('mcp:tools');
      const other = await call(tools, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      expect(other.status).toBe(200);
      const admin = await call(await token('mcp:tools mcp:admin'), adminCall);
      expect(admin.status).toBe(200);
      expect(await admin.json()).toEqual({ scopes: ['mcp:tools', 'mcp:admin'] });
    });

    it('still answers 401 (not 403) without a token, so a client first authorizes', async () => {
      const { base } = await stepUpApp(adminTool);
      const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(adminCall) });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).not.toMatch(/error=/);
    });

    it('awaits an async scopesFor, and hands its failure to the Express error handler', async () => {
      const asyncApp = await stepUpApp(async (req) => adminTool(req));
      expect((await asyncApp.call(await asyncApp.token('mcp:tools'), adminCall)).status).toBe(403);
      const failing = await stepUpApp(() => {
        throw new Error('cannot decide');
      });
      const response = await failing.call(await failing.token('mcp:tools mcp:admin'), adminCall);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'cannot decide' });
    });
  });
});
