import { Hono, type MiddlewareHandler } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { testHTTPConformance } from '@keyward/core/testing';
import { requireBearerAuth, keyward, keywardRoutes } from '../src/index.js';
import { observeRequests } from '../../core/test/observe-requests.js';
import { listen, type Mount, mountKeyward } from './serve.js';

/** A middleware that reads every body before the routes, as validators and body-logging middleware do. */
const parseBodiesFirst: MiddlewareHandler = async (c, next) => {
  const type = c.req.header('content-type') ?? '';
  if (type.startsWith('application/x-www-form-urlencoded')) await c.req.parseBody();
  else if (type.startsWith('application/json')) await c.req.json().catch(() => undefined);
  await next();
};

/** Reads forms with c.req.formData(), which caches only a FormData, the one cache that is not the bytes sent. */
const readFormDataFirst: MiddlewareHandler = async (c, next) => {
  if (c.req.header('content-type')?.startsWith('application/x-www-form-urlencoded')) await c.req.formData();
  await next();
};

function conformance(name: string, before?: MiddlewareHandler, mount: Mount = 'middleware'): void {
  testHTTPConformance({
    name,
    start: async (server) => {
      const app = new Hono();
      if (before) app.use(before);
      mountKeyward(app, server, mount);
      const { base, close } = await listen(app);
      return { fetch: (path, init) => fetch(base + path, init), close };
    },
  });
}

conformance('hono on @hono/node-server');
conformance('hono (bodies read by c.req.parseBody() and c.req.json() first)', parseBodiesFirst);
conformance('hono (forms read by c.req.formData() first)', readFormDataFirst);
conformance('hono, mounted as routes (keywardRoutes)', undefined, 'routes');
conformance('hono, mounted as routes, bodies read first', parseBodiesFirst, 'routes');

const CLIENT_ID = 'service';
const CLIENT_SECRET = 'service-secret-service-secret-1234';
const basic = `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`;

const running: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((close) => close()));
});

/** A listening Hono app; routes are looked up per request, so the issuer can be its origin. */
async function serveApp(build: (app: Hono, server: AuthorizationServer) => void): Promise<{ base: string; server: AuthorizationServer }> {
  const app = new Hono();
  const { base, close } = await listen(app);
  running.push(close);
  const server = new AuthorizationServer({
    issuer: base,
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid'],
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] }],
  });
  build(app, server);
  return { base, server };
}

function clientCredentials(base: string, body: string): Promise<Response> {
  return fetch(`${base}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body });
}

async function accessToken(base: string, scope: string): Promise<string> {
  const response = await clientCredentials(base, new URLSearchParams({ grant_type: 'client_credentials', scope }).toString());
  return (await response.json()).access_token;
}

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
    const { base, server } = await serveApp((app, server) => {
      direct = server.fetch.bind(server);
      observeRequests(server, (request) => seen.push(request.url));
      app.use(keyward(server));
    });
    await server.ready();
    for (const [method, path] of STATIC_REQUESTS) {
      const overHTTP = await fetch(base + path, { method });
      const expected = await direct(new Request(base + path, { method }));
      expect(overHTTP.status, `${method} ${path}`).toBe(expected.status);
      const fields = responseFields(overHTTP);
      // @hono/node-server labels every body-less answer text/plain, through fetch as much as here.
      if (expected.status === 204 && !expected.headers.has('content-type')) delete fields['content-type'];
      expect(fields, `${method} ${path}`).toEqual(responseFields(expected));
      expect(await overHTTP.text()).toBe(method === 'HEAD' ? '' : await expected.text());
    }
    expect(seen).toEqual([]);
  });
  it('lets other routes through, and leaves unknown paths to the app', async () => {
    const { base } = await serveApp((app, server) => {
      app.use(keyward(server));
      app.get('/hello', (c) => c.text('hello'));
      app.post('/echo', async (c) => c.json(await c.req.json()));
    });
    expect(await (await fetch(`${base}/hello`)).text()).toBe('hello');
    const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await echo.json()).toEqual({ a: 1 });
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
  });

  it('serves metadata whose URLs are the issuer, mounted with app.route() as well', async () => {
    const { base } = await serveApp((app, server) => app.route('/', new Hono().use(keyward(server))));
    const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
    expect(metadata.issuer).toBe(base);
    expect(metadata.token_endpoint).toBe(`${base}/oauth/token`);
  });

  it('passes the socket address under @hono/node-server, or what options.clientAddress says', async () => {
    const seen: (string | undefined)[] = [];
    const { base } = await serveApp((app, server) => {
      observeRequests(server, (_request, context) => seen.push(context.clientAddress));
      app.use('/oauth/*', keyward(server, { clientAddress: (c) => c.req.header('x-real-ip') }));
      app.use(keyward(server));
    });
    // POSTs: a GET of metadata is answered from precomputed bytes without calling fetch at all.
    await fetch(`${base}/.well-known/oauth-authorization-server`, { method: 'POST' });
    await fetch(`${base}/oauth/keys`, { method: 'POST', headers: { 'x-real-ip': '203.0.113.9' } });
    expect(seen).toEqual(['127.0.0.1', '203.0.113.9']);
  });

  it('keeps a repeated form parameter repeated after c.req.parseBody() (OAuth 2.1 §3.1)', async () => {
    const { base } = await serveApp((app, server) => {
      app.use(parseBodiesFirst);
      app.use(keyward(server));
    });
    const response = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools&scope=mcp%3Aadmin');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('keywardRoutes(server)', () => {
  /** What a request gets back, without the fields that differ per answer (token values, dates). */
  async function outcome(response: Response): Promise<{ status: number; type: string | null; body: unknown }> {
    const text = await response.text();
    let body: unknown = text;
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      // Refusals whole; issued tokens, clients and keys differ per server, so those by their fields.
      body = 'error' in json ? json : Object.keys(json).sort();
    } catch {
      // Not JSON: compared as text.
    }
    return { status: response.status, type: response.headers.get('content-type'), body };
  }

  it('PERF-ROUTES-01: answers every endpoint, preflight and refusal exactly as the middleware does', async () => {
    const [asMiddleware, asRoutes] = await Promise.all([
      serveApp((app, server) => mountKeyward(app, server, 'middleware')),
      serveApp((app, server) => mountKeyward(app, server, 'routes')),
    ]);
    const requests: [string, RequestInit][] = [
      ...STATIC_REQUESTS.map(([method, path]): [string, RequestInit] => [path, { method }]),
      ['/oauth/token', { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=mcp%3Atools' }],
      ['/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' }],
      ['/oauth/token', { method: 'GET' }],
      ['/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":["http://127.0.0.1/cb"]}' }],
      ['/oauth/register/unknown-client', { method: 'GET', headers: { authorization: 'Bearer nothing' } }],
      ['/oauth/register/a%2Fb', { method: 'GET' }],
      ['/oauth/authorize?client_id=nobody', { method: 'GET' }],
      ['/oauth/tokens', { method: 'POST' }],
      ['/nowhere', { method: 'GET' }],
    ];
    for (const [path, init] of requests) {
      const [expected, actual] = await Promise.all([fetch(asMiddleware.base + path, init), fetch(asRoutes.base + path, init)]);
      // Metadata names the server's own URLs; the two servers differ in their port alone.
      const want = JSON.stringify(await outcome(expected)).replaceAll(asMiddleware.base, 'BASE');
      expect(JSON.stringify(await outcome(actual)).replaceAll(asRoutes.base, 'BASE'), `${init.method} ${path}`).toBe(want);
    }
  });

  it('PERF-ROUTES-02: a request for another route never passes through Keyward; with the middleware every one does', async () => {
    const passes = async (mount: Mount): Promise<number> => {
      let consulted = 0;
      const { base } = await serveApp((app, server) => {
        const handles = server.handles.bind(server);
        server.handles = (pathname) => (consulted++, handles(pathname));
        mountKeyward(app, server, mount);
        app.get('/hello', (c) => c.text('hello'));
        app.post('/mcp', requireBearerAuth(server.createGuard()), (c) => c.text('ok'));
      });
      expect(await (await fetch(`${base}/hello`)).text()).toBe('hello');
      const token = await accessToken(base, 'mcp:tools');
      const before = consulted;
      const mcp = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(await mcp.text()).toBe('ok');
      expect((await fetch(`${base}/nowhere`)).status).toBe(404);
      return consulted - before;
    };
    expect(await passes('middleware')).toBe(2);
    expect(await passes('routes')).toBe(0);
  });

  it('PERF-ROUTES-03: serves an issuer whose path Hono would read as a pattern or decode, and nothing beside it', async () => {
    const app = new Hono();
    const { base, close } = await listen(app);
    running.push(close);
    const issuer = `${base}/t%C3%A9nant:1`;
    const server = new AuthorizationServer({
      issuer,
      store: new MemoryStore(),
      scopes: ['mcp:tools'],
      clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] }],
    });
    app.route('/', keywardRoutes(server));
    app.notFound((c) => c.text('app 404', 404));
    const metadata = await fetch(`${base}/.well-known/oauth-authorization-server/t%C3%A9nant:1`);
    expect(metadata.status).toBe(200);
    expect((await metadata.json()).token_endpoint).toBe(`${issuer}/oauth/token`);
    const token = await fetch(`${issuer}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(token.status).toBe(200);
    expect(await token.json()).toHaveProperty('access_token');
    // The widened routes bring these to Keyward, which leaves them to the app.
    for (const path of ['/other:1/oauth/token', '/.well-known/oauth-authorization-server/other']) {
      const response = await fetch(base + path, { method: 'POST' });
      expect(await response.text(), path).toBe('app 404');
    }
  });
});

describe('requireBearerAuth(guard)', () => {
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
  const adminCall = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } });

  /** /mcp guarded for mcp:tools; calling the admin_stats tool needs mcp:admin as well. */
  async function protectedApp(before?: MiddlewareHandler) {
    return serveApp((app, server) => {
      app.use(keyward(server));
      if (before) app.use(before);
      const guard = requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), {
        scopesFor: async (c) => {
          const message = c.req.header('content-type')?.startsWith('application/json') ? await c.req.json().catch(() => undefined) : undefined;
          return message?.params?.name === 'admin_stats' ? ['mcp:admin'] : [];
        },
      });
      app.post('/mcp', guard, async (c) => {
        const auth = c.get('auth');
        return c.json({ auth: { clientId: auth.clientId, scopes: auth.scopes, subject: auth.extra?.subject }, body: await c.req.json() });
      });
    });
  }

  it('AUTHZ-RS-01: sets c.get("auth") and leaves the body to the route', async () => {
    const { base } = await protectedApp();
    const token = await accessToken(base, 'mcp:tools');
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: ping });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ auth: { clientId: CLIENT_ID, scopes: ['mcp:tools'], subject: CLIENT_ID }, body: JSON.parse(ping) });
  });

  it('AUTHZ-RS-02, AUTHZ-RS-05: no token → 401 with a resource_metadata challenge, no error, exposed to browsers', async () => {
    const { base } = await protectedApp();
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ping });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
    expect(response.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate');
  });

  it('AUTHZ-RS-02: an invalid token → 401 invalid_token', async () => {
    const { base } = await protectedApp();
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not.a.jwt' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
  });

  it('AUTHZ-RS-02: scopesFor demands more → 403 insufficient_scope naming every scope needed', async () => {
    const { base } = await protectedApp();
    const token = await accessToken(base, 'mcp:tools');
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: adminCall });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp:tools mcp:admin"`,
    );
    expect(response.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate');
    const admin = await accessToken(base, 'mcp:tools mcp:admin');
    const allowed = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: adminCall });
    expect(allowed.status).toBe(200);
  });

  for (const [when, before] of [['unread', undefined], ['already parsed', parseBodiesFirst]] as const) {
    it(`AUTHZ-RS-01: a token in both the header and an ${when} form body → 400 invalid_request`, async () => {
      const { base } = await protectedApp(before);
      const token = await accessToken(base, 'mcp:tools');
      const response = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: token }),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
    });
  }
});
