import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { testHTTPConformance } from '@keyward/core/testing';
import { keyward, requireBearerAuth, sendWebResponse } from '../src/index.js';
import { observeRequests } from '../../core/test/observe-requests.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A real Fastify server listening on a free loopback port. */
async function listen(fastify: FastifyInstance): Promise<string> {
  return fastify.listen({ port: 0, host: '127.0.0.1' });
}

/** Stands in for a parent-scope hook that hands on bodies as objects, the way @fastify/formbody parses forms. */
function parseBodiesInParentScope(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', async (request) => {
    if (!Buffer.isBuffer(request.body)) return;
    const text = request.body.toString();
    const type = request.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) request.body = JSON.parse(text);
    else if (type.startsWith('application/x-www-form-urlencoded')) {
      const parsed: Record<string, string | string[]> = {};
      for (const [name, value] of new URLSearchParams(text)) {
        const seen = parsed[name];
        parsed[name] = seen === undefined ? value : [seen, value].flat();
      }
      request.body = parsed;
    }
  });
}

function conformance(name: string, prepare: (fastify: FastifyInstance) => unknown = () => {}): void {
  testHTTPConformance({
    name,
    start: async (server) => {
      const fastify = Fastify();
      await prepare(fastify);
      await fastify.register(keyward, { server });
      const base = await listen(fastify);
      return { fetch: (path, init) => fetch(base + path, init), close: () => fastify.close() };
    },
  });
}

conformance('fastify');
// @fastify/formbody at the root, registered before the plugin: its parser must not reach Keyward's routes.
conformance('fastify (@fastify/formbody at the root)', (fastify) => fastify.register(formbody));
conformance('fastify (bodies turned into objects by a parent-scope hook)', parseBodiesInParentScope);

const CLIENT_ID = 'service';
const CLIENT_SECRET = 'service-secret-service-secret-1234';
const basic = `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`;

const running: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((fastify) => fastify.close()));
});

/** A listening Fastify app whose issuer is its own origin, built by `build` before it starts. */
async function serve(
  build: (fastify: FastifyInstance, server: AuthorizationServer) => unknown,
  options: FastifyServerOptions = {},
): Promise<{ base: string; server: AuthorizationServer }> {
  const fastify = Fastify(options);
  running.push(fastify);
  // The issuer must be known before the routes exist, and Fastify takes no routes once listening.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = new AuthorizationServer({
    issuer: base,
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid'],
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] }],
  });
  await build(fastify, server);
  await fastify.listen({ port, host: '127.0.0.1' });
  return { base, server };
}

function clientCredentials(base: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${base}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': contentType }, body });
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

describe('keyward plugin', () => {
  it('PERF-STATIC-04: metadata, JWKS and preflights are written from precomputed bytes, never via fetch, exactly as server.fetch answers them', async () => {
    const seen: string[] = [];
    let direct: AuthorizationServer['fetch'] = () => Promise.reject(new Error('not built'));
    const { base, server } = await serve((fastify, server) => {
      direct = server.fetch.bind(server);
      observeRequests(server, (request) => seen.push(request.url));
      return fastify.register(keyward, { server });
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
  it('leaves other routes to the app, and unknown paths to its 404 handler', async () => {
    const { base } = await serve(async (fastify, server) => {
      await fastify.register(keyward, { server });
      fastify.get('/hello', async () => 'hello');
      fastify.post('/echo', async (request) => request.body);
    });
    expect(await (await fetch(`${base}/hello`)).text()).toBe('hello');
    // The app's own JSON parser still serves its routes.
    const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await echo.json()).toEqual({ a: 1 });
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    // Matched by the client-configuration route pattern, but not a path the server answers.
    expect((await fetch(`${base}/oauth/register/a%2Fb`)).status).toBe(404);
  });

  it('serves metadata whose URLs are the issuer', async () => {
    const { base } = await serve((fastify, server) => fastify.register(keyward, { server }));
    const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
    expect(metadata.issuer).toBe(base);
    expect(metadata.token_endpoint).toBe(`${base}/oauth/token`);
    expect((await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()).resource).toBe(`${base}/mcp`);
    const head = await fetch(`${base}/.well-known/oauth-authorization-server`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('answers RFC 7592 client configuration requests under the registration endpoint', async () => {
    const { base } = await serve((fastify, server) => fastify.register(keyward, { server }));
    const registered = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }),
    });
    const { registration_client_uri: uri, registration_access_token: token } = await registered.json();
    expect(uri).toMatch(new RegExp(`^${base}/oauth/register/`));
    const read = await fetch(uri, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
  });

  it('refuses a prefix, since the paths come from the issuer', async () => {
    const fastify = Fastify();
    const server = new AuthorizationServer({ issuer: 'http://localhost:3010', store: new MemoryStore() });
    await expect(fastify.register(keyward, { server, prefix: '/auth' })).rejects.toThrow(TypeError);
  });

  it('passes request.ip as the client address, and the URL under trustProxy', async () => {
    const seen: { url: string; context: Parameters<AuthorizationServer['fetch']>[1] }[] = [];
    const { base } = await serve(
      (fastify, server) => {
        observeRequests(server, (request, context) => seen.push({ url: request.url, context }));
        return fastify.register(keyward, { server });
      },
      { trustProxy: '127.0.0.1' },
    );
    // POSTs: a GET of metadata is answered from precomputed bytes without a Web Request at all.
    await fetch(`${base}/.well-known/oauth-authorization-server?x=1`, {
      method: 'POST',
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com', 'x-forwarded-for': '203.0.113.9' },
    });
    await fetch(`${base}/oauth/keys`, { method: 'POST' });
    expect(seen).toEqual([
      { url: 'https://auth.example.com/.well-known/oauth-authorization-server?x=1', context: { clientAddress: '203.0.113.9', protocol: 'https' } },
      { url: `${base}/oauth/keys`, context: { clientAddress: '127.0.0.1', protocol: 'http' } },
    ]);
  });

  it('keeps a repeated form parameter repeated (OAuth 2.1 §3.1)', async () => {
    const { base } = await serve(async (fastify, server) => {
      await fastify.register(formbody);
      await fastify.register(keyward, { server });
    });
    const response = await clientCredentials(base, 'grant_type=client_credentials&scope=mcp%3Atools&scope=mcp%3Aadmin');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a body over Fastify\'s bodyLimit (1 MiB) with 413', async () => {
    const { base } = await serve((fastify, server) => fastify.register(keyward, { server }));
    const response = await clientCredentials(base, `grant_type=client_credentials&padding=${'x'.repeat(2 * 1024 * 1024)}`);
    expect(response.status).toBe(413);
  });
});

describe('sendWebResponse(reply, response)', () => {
  it('writes status, every header value and the body bytes', async () => {
    const { base } = await serve((fastify) => {
      fastify.get('/web', (_request, reply) => {
        const headers = new Headers([['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Path=/'], ['x-list', 'one'], ['x-list', 'two'], ['content-type', 'application/octet-stream']]);
        return sendWebResponse(reply, new Response(new Uint8Array([0, 1, 2, 255]), { status: 201, headers }));
      });
    });
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
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
  const adminCall = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } });

  /** /mcp guarded for mcp:tools; calling the admin_stats tool needs mcp:admin as well. */
  async function protectedApp() {
    return serve(async (fastify, server) => {
      await fastify.register(keyward, { server });
      await fastify.register(formbody);
      const preHandler = requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), {
        scopesFor: (request) => ((request.body as { params?: { name?: string } } | undefined)?.params?.name === 'admin_stats' ? ['mcp:admin'] : []),
      });
      fastify.post('/mcp', { preHandler }, async (request) => {
        const raw = request.raw as typeof request.raw & { auth?: unknown };
        return { auth: { clientId: request.auth?.clientId, scopes: request.auth?.scopes, subject: request.auth?.extra?.subject }, sameOnRaw: raw.auth === request.auth, body: request.body };
      });
    });
  }

  it('AUTHZ-RS-01: sets request.auth (and request.raw.auth for the MCP SDK) and leaves the body to the route', async () => {
    const { base } = await protectedApp();
    const token = await accessToken(base, 'mcp:tools');
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: ping });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ auth: { clientId: CLIENT_ID, scopes: ['mcp:tools'], subject: CLIENT_ID }, sameOnRaw: true, body: JSON.parse(ping) });
  });

  it('AUTHZ-RS-01: a valid token in two Authorization fields is refused (401), as the Web Request path refuses it', async () => {
    const { base } = await protectedApp();
    const token = await accessToken(base, 'mcp:tools');
    expect(await postWithTwoAuthorizations(`${base}/mcp`, `Bearer ${token}`)).toBe(401);
    const once = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: ping });
    expect(once.status).toBe(200);
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
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not.a.jwt', 'content-type': 'application/json' }, body: ping });
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

  it('AUTHZ-RS-01: a token in both the header and a parsed form body → 400 invalid_request', async () => {
    const { base } = await protectedApp();
    const token = await accessToken(base, 'mcp:tools');
    const response = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: token }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
  });
});
