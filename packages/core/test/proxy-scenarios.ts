/**
 * The trusted-proxy behaviour every adapter must show over real HTTP: forwarded headers count only from a
 * trusted peer, X-Forwarded-For is read right to left, a plain-http request through a trusted proxy is
 * refused under enforceHTTPS, and the guard's rate limit counts the forwarded client. Each adapter's test
 * calls {@link proxyScenarios} with a function that mounts the server and a guarded `POST /mcp`.
 *
 * The context the adapter computed is observed on `server.fetch`, through the userinfo endpoint: adapters
 * answer the metadata documents from `staticResponse` without calling `fetch`, so a metadata GET shows
 * only whether the static answer was (rightly) withheld.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorizationServer, type RequestContext, type ResourceServerGuard, type ResponseInfo } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { observeRequests } from './observe-requests.js';

export interface ProxyApp {
  base: string;
  close(): Promise<void>;
}

/** Mounts `server` with `trustProxy`, and `guard` on `POST /mcp` answering 200 when it lets a request through. */
export type StartProxyApp = (server: AuthorizationServer, guard: ResourceServerGuard, trustProxy: string[]) => Promise<ProxyApp>;

export function proxyScenarios(adapter: string, start: StartProxyApp): void {
  describe(`${adapter}: trustProxy over real HTTP`, () => {
    const open: ProxyApp[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((app) => app.close()));
    });

    async function launch(trustProxy: string[]) {
      // openid turns the userinfo endpoint on: a GET that always reaches fetch (401 without a token).
      const reported: ResponseInfo[] = [];
      const server = new AuthorizationServer({
        issuer: 'https://auth.example.com',
        store: new MemoryStore(),
        scopes: ['mcp:tools', 'openid'],
        enforceHTTPS: true,
        onResponse: (info) => reported.push(info),
      });
      const seen: RequestContext[] = [];
      observeRequests(server, (_request, context) => seen.push(context));
      const guard = server.createGuard({ rateLimit: { windowMs: 60_000, max: 1 } });
      const app = await start(server, guard, trustProxy);
      open.push(app);
      const userinfo = (headers: Record<string, string>) => fetch(`${app.base}/oauth/userinfo`, { headers });
      const metadata = (headers: Record<string, string>) => fetch(`${app.base}/.well-known/oauth-authorization-server`, { headers });
      const mcp = (headers: Record<string, string>) => fetch(`${app.base}/mcp`, { method: 'POST', headers });
      return { seen, reported, userinfo, metadata, mcp };
    }

    it(`OPS-PRX-01 (${adapter}): from an untrusted peer, a spoofed X-Forwarded-For and X-Forwarded-Proto are ignored`, async () => {
      const { seen, userinfo, metadata } = await launch(['10.0.0.0/8']);
      const spoofed = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' };
      const response = await userinfo(spoofed);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.clientAddress).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      expect(seen[0]!.protocol).toBe('http');
      // The socket is plain http, so enforceHTTPS refuses it.
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request' });
      // The precomputed metadata is not served past that refusal on the strength of a spoofed header.
      const document = await metadata(spoofed);
      expect(document.status).toBe(400);
      expect(await document.json()).toMatchObject({ error: 'invalid_request' });
    });

    it(`OPS-PRX-02 (${adapter}): from a trusted proxy, the client is the first untrusted hop from the right, and https is believed`, async () => {
      const { seen, reported, userinfo, metadata } = await launch(['loopback', '10.0.0.0/8']);
      const forwarded = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3', 'x-forwarded-proto': 'https' };
      const response = await userinfo(forwarded);
      expect(seen).toEqual([expect.objectContaining({ clientAddress: '203.0.113.9', protocol: 'https' })]);
      // Not refused as plain http: the userinfo endpoint's own answer to a request without a token.
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      // The metadata is served as https too (precomputed, so fetch is not called again).
      const document = await metadata(forwarded);
      expect(document.status).toBe(200);
      expect(await document.json()).toMatchObject({ issuer: 'https://auth.example.com' });
      expect(document.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(seen).toHaveLength(1);
      // Each answer reaches onResponse once, the one the adapter wrote without fetch included.
      expect(reported.map(({ endpoint, method, status }) => ({ endpoint, method, status }))).toEqual([
        { endpoint: 'userinfo', method: 'GET', status: 401 },
        { endpoint: 'metadata', method: 'GET', status: 200 },
      ]);
    });

    it(`OPS-HTTPS-02 (${adapter}): enforceHTTPS refuses plain http reported by a trusted proxy, RFC-shaped with the security headers`, async () => {
      const { seen, userinfo, metadata } = await launch(['loopback']);
      const plain = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http' };
      // The static metadata GET as well as a request that goes to fetch: neither is answered over plain http.
      for (const response of [await userinfo(plain), await metadata(plain)]) {
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toBe('application/json');
        expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('https') });
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('strict-transport-security')).toContain('max-age=31536000');
      }
      expect(seen).toEqual([expect.objectContaining({ clientAddress: '203.0.113.9', protocol: 'http' }), expect.objectContaining({ clientAddress: '203.0.113.9', protocol: 'http' })]);
    });

    it(`OPS-PRX-03 (${adapter}): the guard counts its rate limit per forwarded client behind a trusted proxy, per peer otherwise`, async () => {
      const trusted = await launch(['loopback']);
      const statuses = [];
      for (const client of ['203.0.113.1', '203.0.113.1', '203.0.113.2']) statuses.push((await trusted.mcp({ 'x-forwarded-for': client })).status);
      expect(statuses).toEqual([401, 429, 401]);
      const untrusted = await launch(['10.0.0.0/8']);
      const spoofed = [];
      for (const client of ['203.0.113.1', '203.0.113.2']) spoofed.push(await untrusted.mcp({ 'x-forwarded-for': client }));
      expect(spoofed.map((response) => response.status)).toEqual([401, 429]);
      expect(spoofed[1]!.headers.get('retry-after')).toBe('60');
      expect(spoofed[1]!.headers.get('ratelimit-policy')).toBe('"default";q=1;w=60');
      expect(spoofed[1]!.headers.get('x-content-type-options')).toBe('nosniff');
    });
  });
}
