/**
 * Security headers on every response, HSTS on https issuers only, enforceHTTPS, the readiness check, the
 * response hook's endpoint names and the Prometheus exposition.
 */
import { describe, expect, it } from 'vitest';
import { AuthorizationServer, createMetrics, KeywardConfigError, type KeywardEvent, type ResponseInfo } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { basicHeader } from './support.js';

const HSTS = 'max-age=31536000; includeSubDomains';
const SECRET = 'machine-secret-0123456789';

class FlakyStore extends MemoryStore {
  failing = false;
  override async getCounter(key: string) {
    if (this.failing) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    return super.getCounter(key);
  }
  override async getClient(clientId: string) {
    if (this.failing) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    return super.getClient(clientId);
  }
}

function makeServer(issuer: string, extra: Partial<ConstructorParameters<typeof AuthorizationServer>[0]> = {}) {
  const store = new FlakyStore();
  const server = new AuthorizationServer({
    issuer,
    store,
    scopes: ['mcp:tools', 'openid'],
    clients: [
      { clientId: 'machine', clientSecret: SECRET, grantTypes: ['client_credentials'] },
      { clientId: 'app', redirectUris: ['https://app.example.com/cb'] },
    ],
    login: { users: { verify: async () => null } },
    rateLimits: { revoke: { windowMs: 60_000, max: 1 } },
    ...extra,
  });
  return { server, store };
}

/** One request per kind of answer: metadata, JWKS, success, OAuth errors, pages, 404, preflight, 405, 429, 503. */
async function everyKindOfResponse(server: AuthorizationServer, store: FlakyStore, base: string): Promise<[string, Response][]> {
  const source = { clientAddress: '203.0.113.5' };
  const form = (path: string, body: string, headers: Record<string, string> = {}) =>
    server.fetch(new Request(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body }), source);
  const get = (path: string, init: RequestInit = {}) => server.fetch(new Request(base + path, init), source);
  const token = await form('/oauth/token', 'grant_type=client_credentials&scope=mcp%3Atools', { authorization: basicHeader('machine', SECRET) });
  const accessToken = ((await token.clone().json()) as { access_token: string }).access_token;
  const responses: [string, Response][] = [
    ['token 200', token],
    ['metadata', await get('/.well-known/oauth-authorization-server')],
    ['resource metadata', await get('/.well-known/oauth-protected-resource')],
    ['jwks', await get('/oauth/keys')],
    ['token 400', await form('/oauth/token', 'grant_type=nope')],
    ['token 401', await form('/oauth/token', 'grant_type=client_credentials', { authorization: basicHeader('machine', 'wrong-secret-123456') })],
    ['token 405', await get('/oauth/token')],
    ['authorize error page', await get('/oauth/authorize?client_id=unknown')],
    ['authorize redirect', await get('/oauth/authorize?client_id=app&response_type=code&code_challenge=x')],
    ['login page error', await get('/oauth/login?interaction=unknown')],
    ['userinfo 401', await get('/oauth/userinfo')],
    ['introspect', await form('/oauth/introspect', `token=${accessToken}`, { authorization: basicHeader('machine', SECRET) })],
    ['revoke 200', await form('/oauth/revoke', 'token=abc', { authorization: basicHeader('machine', SECRET) })],
    ['revoke 429', await form('/oauth/revoke', 'token=abc', { authorization: basicHeader('machine', SECRET) })],
    ['register 400', await server.fetch(new Request(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }), source)],
    ['client configuration 401', await get('/oauth/register/nobody')],
    ['not found', await get('/nothing-here')],
    ['preflight', await get('/oauth/token', { method: 'OPTIONS' })],
    ['authorize preflight', await get('/oauth/authorize', { method: 'OPTIONS' })],
  ];
  store.failing = true;
  responses.push(['token 503', await form('/oauth/token', 'grant_type=client_credentials', { authorization: basicHeader('machine', SECRET) })]);
  store.failing = false;
  return responses;
}

describe('security headers', () => {
  it('OPS-HDR-01: every response of an http (loopback) server has nosniff and no-referrer, and no HSTS', async () => {
    const base = 'http://localhost:3009';
    const { server, store } = makeServer(base);
    const responses = await everyKindOfResponse(server, store, base);
    const statuses = new Set(responses.map(([, response]) => response.status));
    for (const status of [200, 204, 302, 400, 401, 404, 405, 429, 503]) expect(statuses, `status ${status}`).toContain(status);
    for (const [name, response] of responses) {
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), name).toBe('no-referrer');
      expect(response.headers.get('strict-transport-security'), name).toBeNull();
    }
  });

  it('OPS-HDR-02: every response of an https server carries HSTS for a year with subdomains, errors included', async () => {
    const base = 'https://auth.example.com';
    const { server, store } = makeServer(base);
    for (const [name, response] of await everyKindOfResponse(server, store, base)) {
      expect(response.headers.get('strict-transport-security'), name).toBe(HSTS);
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
    }
  });

  it("OPS-HDR-03: the guard's 401, 403 and 429 carry the headers, HSTS when the resource is https", async () => {
    const { server } = makeServer('https://auth.example.com', { resources: ['https://auth.example.com/mcp'] });
    const guard = server.createGuard({ scopes: ['mcp:admin'], rateLimit: { windowMs: 60_000, max: 2 } });
    const token = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('machine', SECRET) },
      body: 'grant_type=client_credentials&scope=mcp%3Atools',
    });
    const accessToken = ((await token.json()) as { access_token: string }).access_token;
    const call = (authorization?: string) =>
      guard.authenticate(new Request('https://auth.example.com/mcp', { headers: authorization ? { authorization } : {} }), { clientAddress: '203.0.113.5' });
    const results = [await call(), await call(`Bearer ${accessToken}`), await call()];
    expect(results.map((result) => (result.ok ? 200 : result.response.status))).toEqual([401, 403, 429]);
    for (const result of results) {
      if (result.ok) continue;
      expect(result.response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(result.response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(result.response.headers.get('strict-transport-security')).toBe(HSTS);
    }
    const { server: local } = makeServer('http://localhost:3009');
    const plain = await local.createGuard().authenticate(new Request('http://localhost:3009/mcp'));
    expect(!plain.ok && plain.response.headers.get('strict-transport-security')).toBeNull();
    expect(!plain.ok && plain.response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('OPS-HDR-04: pages keep their CSP and framing rules', async () => {
    const { server } = makeServer('https://auth.example.com');
    const page = await server.request('/oauth/authorize?client_id=unknown');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('enforceHTTPS', () => {
  it('OPS-HTTPS-01: refuses to construct on a non-https issuer other than loopback http, with a code', () => {
    let error: unknown;
    try {
      makeServer('http://auth.example.com', { enforceHTTPS: true });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeywardConfigError);
    expect((error as KeywardConfigError).code).toBe('ERR_KEYWARD_INSECURE_ISSUER');
    expect((error as Error).message).toContain('enforceHTTPS');
    expect(() => makeServer('http://localhost:3009', { enforceHTTPS: true })).not.toThrow();
    expect(() => makeServer('https://auth.example.com', { enforceHTTPS: true })).not.toThrow();
  });

  it('OPS-HTTPS-03: on an https issuer, plain http is refused with invalid_request; https and unknown schemes are served; loopback development is untouched', async () => {
    const { server } = makeServer('https://auth.example.com', { enforceHTTPS: true });
    const metadata = (protocol?: 'http' | 'https') => server.request('/.well-known/oauth-authorization-server', {}, { clientAddress: '203.0.113.5', protocol });
    const refused = await metadata('http');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    expect(refused.headers.get('strict-transport-security')).toBe(HSTS);
    expect((await metadata('https')).status).toBe(200);
    expect((await metadata()).status).toBe(200);
    const { server: local } = makeServer('http://localhost:3009', { enforceHTTPS: true });
    expect((await local.request('/.well-known/oauth-authorization-server', {}, { protocol: 'http' })).status).toBe(200);
  });
});

describe('readiness and response reports', () => {
  it('OPS-READY-01: checkReady answers whether the store answers, reporting an outage as an event', async () => {
    const events: KeywardEvent[] = [];
    const { server, store } = makeServer('http://localhost:3009', { onEvent: (event) => events.push(event) });
    expect(await server.checkReady()).toBe(true);
    store.failing = true;
    expect(await server.checkReady()).toBe(false);
    expect(events).toEqual([expect.objectContaining({ type: 'store.unavailable', endpoint: 'ready', operation: 'getCounter' })]);
    store.failing = false;
    expect(await server.checkReady()).toBe(true);
  });

  it('OPS-MET-01: onResponse names every endpoint stably, with method, status and duration', async () => {
    const seen: ResponseInfo[] = [];
    const base = 'http://localhost:3009';
    const { server, store } = makeServer(base, { onResponse: (info) => seen.push(info) });
    await everyKindOfResponse(server, store, base);
    const names = new Set(seen.map((info) => info.endpoint));
    expect([...names].sort()).toEqual(['authorize', 'introspect', 'jwks', 'login', 'metadata', 'not_found', 'register', 'revoke', 'token', 'userinfo']);
    expect(seen.find((info) => info.endpoint === 'revoke' && info.status === 429)).toMatchObject({ method: 'POST' });
    for (const info of seen) expect(info.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('createMetrics', () => {
  const LINE = /^[a-z_]+(\{[a-z_]+="[^"\\\n]*"(,[a-z_]+="[^"\\\n]*")*\})? [0-9.e+-]+$/;

  it('OPS-MET-02: renders valid Prometheus text with requests, latency histograms, security events and store errors', async () => {
    const metrics = createMetrics();
    const base = 'http://localhost:3009';
    const { server, store } = makeServer(base, { onEvent: metrics.onEvent, onResponse: metrics.onResponse });
    await everyKindOfResponse(server, store, base);
    const guard = server.createGuard({ onResponse: metrics.onResponse });
    await guard.authenticate(new Request(`${base}/mcp`), { clientAddress: '203.0.113.5' });
    const text = metrics.render();
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) keyward_[a-z_]+ .+$/);
      else expect(line).toMatch(LINE);
    }
    expect(text).toContain('# TYPE keyward_requests_total counter');
    expect(text).toContain('# TYPE keyward_request_duration_seconds histogram');
    // The token request and its CORS preflight.
    expect(text).toMatch(/^keyward_requests_total\{endpoint="token",status_class="2xx"\} 2$/m);
    expect(text).toMatch(/^keyward_requests_total\{endpoint="token",status_class="5xx"\} 1$/m);
    expect(text).toMatch(/^keyward_requests_total\{endpoint="revoke",status_class="4xx"\} 1$/m);
    expect(text).toMatch(/^keyward_requests_total\{endpoint="mcp",status_class="4xx"\} 1$/m);
    expect(text).toMatch(/^keyward_security_events_total\{type="rate_limited"\} 1$/m);
    expect(text).toMatch(/^keyward_security_events_total\{type="token.issued"\} 1$/m);
    expect(text).toMatch(/^keyward_store_errors_total 1$/m);
    // Buckets are cumulative and end at the count.
    const buckets = [...text.matchAll(/^keyward_request_duration_seconds_bucket\{endpoint="token",le="([^"]+)"\} (\d+)$/gm)].map((match) => Number(match[2]));
    expect(buckets.length).toBe(14);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(Number(/^keyward_request_duration_seconds_count\{endpoint="token"\} (\d+)$/m.exec(text)![1]));
  });

  it('OPS-MET-03: label values are escaped, and a fresh registry renders only the store error counter', () => {
    const metrics = createMetrics();
    expect(metrics.render()).toMatch(/^keyward_store_errors_total 0$/m);
    metrics.onResponse({ endpoint: 'odd"name\\x\ny', method: 'GET', status: 200, durationMs: 1.5 });
    metrics.onStoreError();
    const text = metrics.render();
    expect(text).toContain('keyward_requests_total{endpoint="odd\\"name\\\\x\\ny",status_class="2xx"} 1');
    expect(text).toMatch(/^keyward_request_duration_seconds_sum\{endpoint="odd.*"\} 0\.0015$/m);
    expect(text).toMatch(/^keyward_store_errors_total 1$/m);
  });
});
