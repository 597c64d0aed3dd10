/**
 * One HTTP-level conformance suite for every entry point: core's `server.fetch` and each framework adapter
 * run the same requests and must give the same answers.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.js';
import { calculatePKCECodeChallenge } from '../protocol/pkce.js';
import { randomToken } from '../protocol/crypto.js';
import { AuthorizationServer } from '../server/server.js';
import type { AuthorizationServerOptions } from '../server/options.js';

/**
 * The issuer of the conformance server; requests are routed by path, so it need not match the listener.
 *
 * @example
 * ```ts
 * const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
 * expect(metadata.issuer).toBe(CONFORMANCE_ISSUER);
 * ```
 */
export const CONFORMANCE_ISSUER = 'http://localhost:3009';
const PUBLIC_CLIENT = 'conformance-public';
const CONFIDENTIAL_CLIENT = 'conformance-confidential';
const CONFIDENTIAL_SECRET = 'conformance-secret-value';
const REDIRECT_URI = 'http://127.0.0.1/callback';

/**
 * The options of the server the suite expects: a public and a confidential client, dev login as `alice`,
 * the MCP scopes. Adapters mount a server built from these.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer(conformanceServerOptions());
 * ```
 */
export function conformanceServerOptions(overrides: Partial<AuthorizationServerOptions> = {}): AuthorizationServerOptions {
  return {
    issuer: CONFORMANCE_ISSUER,
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'],
    defaultScopes: ['mcp:tools'],
    clients: [
      { clientId: PUBLIC_CLIENT, redirectUris: [REDIRECT_URI] },
      {
        clientId: CONFIDENTIAL_CLIENT,
        clientSecret: CONFIDENTIAL_SECRET,
        tokenEndpointAuthMethod: ['client_secret_basic', 'client_secret_post'],
        redirectUris: [REDIRECT_URI],
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      },
    ],
    devLogin: { subject: 'alice', claims: { name: 'Alice', email: 'alice@example.com', email_verified: true } },
    introspection: { bearerScope: 'mcp:admin' },
    ...overrides,
  };
}

/** A fetch-like function: a path (with query) relative to the server's root, and request init. */
export type ConformanceFetch = (path: string, init?: RequestInit) => Promise<Response>;

/** Options of {@link testHTTPConformance}. */
export interface TestHTTPConformanceOptions {
  /** Display name, e.g. 'express (bodies pre-parsed)'. */
  name: string;
  /** Mounts `server` in the entry point under test and returns how to reach it. */
  start: (server: AuthorizationServer) => Promise<{ fetch: ConformanceFetch; close?: () => Promise<void> | void }>;
  /** Extra server options (for instance a store). */
  serverOptions?: Partial<AuthorizationServerOptions>;
}

const form = (params: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});

const basic = (id: string, secret: string) => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

/**
 * Registers a vitest suite that drives an entry point over HTTP: discovery, CORS, the authorization
 * endpoint's redirects and error pages, the token endpoint with form and JSON bodies, client
 * authentication, refresh rotation, registration, revocation and introspection.
 *
 * @example
 * ```ts
 * testHTTPConformance({
 *   name: 'express',
 *   start: async (server) => {
 *     const app = express().use(keyward(server));
 *     const listener = app.listen(0, '127.0.0.1');
 *     await once(listener, 'listening');
 *     const base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
 *     return { fetch: (path, init) => fetch(base + path, init), close: () => listener.close() };
 *   },
 * });
 * ```
 * @see [OAuth 2.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1)
 */
export function testHTTPConformance(options: TestHTTPConformanceOptions): void {
  describe(`HTTP conformance: ${options.name}`, () => {
    let call: ConformanceFetch;
    let close: (() => Promise<void> | void) | undefined;

    beforeAll(async () => {
      const server = new AuthorizationServer(conformanceServerOptions(options.serverOptions));
      ({ fetch: call, close } = await options.start(server));
    });
    afterAll(async () => {
      await close?.();
    });

    async function authorize(clientId: string, extra: Record<string, string> = {}) {
      const verifier = randomToken();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        code_challenge: await calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st-1',
        ...extra,
      });
      const response = await call(`/oauth/authorize?${query}`, { redirect: 'manual' });
      return { response, verifier, location: response.headers.get('location') };
    }

    async function codeFor(clientId: string, extra: Record<string, string> = {}) {
      const { location, verifier } = await authorize(clientId, extra);
      const code = new URL(location!).searchParams.get('code')!;
      return { code, verifier };
    }

    it('AUTHZ-DISC-01/02/03: serves RFC 8414 metadata with the exact issuer and S256', async () => {
      const response = await call('/.well-known/oauth-authorization-server');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      const metadata = await response.json();
      expect(metadata.issuer).toBe(CONFORMANCE_ISSUER);
      expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
      expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    });

    it('AUTHZ-DISC-05: serves OpenID discovery and its underscore alias', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/openid_configuration']) {
        const response = await call(path);
        expect(response.status).toBe(200);
        expect((await response.json()).id_token_signing_alg_values_supported).toContain('RS256');
      }
    });

    it('AUTHZ-RS-04: serves protected-resource metadata at the root and path-inserted', async () => {
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
        const response = await call(path);
        expect(response.status).toBe(200);
        const metadata = await response.json();
        expect(metadata.resource).toBe(`${CONFORMANCE_ISSUER}/mcp`);
        expect(metadata.authorization_servers).toEqual([CONFORMANCE_ISSUER]);
      }
    });

    it('answers CORS preflights for the token endpoint, never for the authorization endpoint (AUTHZ-AZ-03)', async () => {
      const preflight = { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } };
      const token = await call('/oauth/token', preflight);
      expect(token.status).toBe(204);
      expect(token.headers.get('access-control-allow-origin')).toBe('*');
      expect(token.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const authorizeEndpoint = await call('/oauth/authorize', preflight);
      expect(authorizeEndpoint.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('serves the JWK Set without private members', async () => {
      const response = await call('/oauth/keys');
      expect(response.status).toBe(200);
      const { keys } = await response.json();
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key).not.toHaveProperty('d');
    });

    it('AUTHZ-ARESP-01/02: redirects with code, the exact state and iss', async () => {
      const { response, location } = await authorize(PUBLIC_CLIENT, { state: 'a+b c' });
      expect(response.status).toBe(302);
      const url = new URL(location!);
      expect(url.origin + url.pathname).toBe(REDIRECT_URI);
      expect(url.searchParams.get('state')).toBe('a+b c');
      expect(url.searchParams.get('iss')).toBe(CONFORMANCE_ISSUER);
      expect(url.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('AUTHZ-RURI-06: an unregistered redirect URI gets an error page, never a redirect', async () => {
      const { response, location } = await authorize(PUBLIC_CLIENT, { redirect_uri: 'https://evil.example/cb' });
      expect(response.status).toBe(400);
      expect(location).toBeNull();
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    });

    it('AUTHZ-PKCE-04: a challenge without a method is refused at the redirect URI', async () => {
      const query = new URLSearchParams({ response_type: 'code', client_id: PUBLIC_CLIENT, redirect_uri: REDIRECT_URI, code_challenge: randomToken(), state: 's' });
      const response = await call(`/oauth/authorize?${query}`, { redirect: 'manual' });
      const url = new URL(response.headers.get('location')!);
      expect(url.searchParams.get('error')).toBe('invalid_request');
      expect(url.searchParams.get('iss')).toBe(CONFORMANCE_ISSUER);
    });

    it('AUTHZ-TOK-02/03/04: redeems a code with a form body and answers no-store JSON', async () => {
      const { code, verifier } = await codeFor(PUBLIC_CLIENT, { scope: 'mcp:tools openid' });
      const response = await call('/oauth/token', form({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: PUBLIC_CLIENT }));
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(body.token_type).toBe('Bearer');
      expect(body.scope).toBe('mcp:tools openid');
      expect(body.id_token).toBeTypeOf('string');
      expect(body.refresh_token).toBeTypeOf('string');
    });

    it('AUTHZ-TOK-02: redeems a code with a JSON body (documented extension)', async () => {
      const { code, verifier } = await codeFor(PUBLIC_CLIENT);
      const response = await call('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: PUBLIC_CLIENT }),
      });
      expect(response.status).toBe(200);
    });

    it('AUTHZ-TOK-02: a repeated parameter is invalid_request', async () => {
      const response = await call('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&grant_type=client_credentials',
      });
      expect(response.status).toBe(400);
      expect((await response.json()).error).toBe('invalid_request');
    });

    it('AUTHZ-TOK-05: an unknown grant type is unsupported_grant_type with error_uri', async () => {
      const response = await call('/oauth/token', form({ grant_type: 'password', username: 'a', password: 'b' }));
      expect(response.status).toBe(400);
      const body = await response.json();
      expect(body.error).toBe('unsupported_grant_type');
      expect(body.error_uri).toMatch(/^https:\/\//);
    });

    it('AUTHZ-CAUTH-05: failed Basic authentication is 401 with a Basic challenge', async () => {
      const response = await call('/oauth/token', {
        ...form({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CONFIDENTIAL_CLIENT, 'wrong') },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect((await response.json()).error).toBe('invalid_client');
    });

    it('client_credentials with Basic and with client_secret_post', async () => {
      const viaBasic = await call('/oauth/token', {
        ...form({ grant_type: 'client_credentials', scope: 'mcp:admin' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET) },
      });
      expect(viaBasic.status).toBe(200);
      expect((await viaBasic.json()).refresh_token).toBeUndefined();
      const viaPost = await call('/oauth/token', form({ grant_type: 'client_credentials', client_id: CONFIDENTIAL_CLIENT, client_secret: CONFIDENTIAL_SECRET }));
      expect(viaPost.status).toBe(200);
    });

    it('AUTHZ-CODE-01 / AUTHZ-RT-02: a code works once; refresh rotates the refresh token', async () => {
      const { code, verifier } = await codeFor(CONFIDENTIAL_CLIENT);
      const auth = { authorization: basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET), 'content-type': 'application/x-www-form-urlencoded' };
      const first = await call('/oauth/token', { ...form({ grant_type: 'authorization_code', code, code_verifier: verifier }), headers: auth });
      expect(first.status).toBe(200);
      const tokens = await first.json();
      const second = await call('/oauth/token', { ...form({ grant_type: 'authorization_code', code, code_verifier: verifier }), headers: auth });
      expect(second.status).toBe(400);
      expect((await second.json()).error).toBe('invalid_grant');
      // The replay revoked the grant, so its refresh token is dead too (AUTHZ-CODE-02).
      const refresh = await call('/oauth/token', { ...form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }), headers: auth });
      expect(refresh.status).toBe(400);

      const fresh = await codeFor(CONFIDENTIAL_CLIENT);
      const issued = await (await call('/oauth/token', { ...form({ grant_type: 'authorization_code', code: fresh.code, code_verifier: fresh.verifier }), headers: auth })).json();
      const rotated = await call('/oauth/token', { ...form({ grant_type: 'refresh_token', refresh_token: issued.refresh_token }), headers: auth });
      expect(rotated.status).toBe(200);
      const next = await rotated.json();
      expect(next.refresh_token).toBeTypeOf('string');
      expect(next.refresh_token).not.toBe(issued.refresh_token);
    });

    it('AUTHZ-DCR-01: registers a public client over HTTP', async () => {
      const response = await call('/oauth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'conformance', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }),
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(body.client_id).toBeTypeOf('string');
      expect(body.client_secret).toBeUndefined();
    });

    it('AUTHZ-REV-02 / AUTHZ-INTR-03: revocation answers 200 for unknown tokens; introspection says inactive', async () => {
      const revoke = await call('/oauth/revoke', form({ token: 'garbage', client_id: PUBLIC_CLIENT }));
      expect(revoke.status).toBe(200);
      const introspect = await call('/oauth/introspect', form({ token: 'garbage', client_id: CONFIDENTIAL_CLIENT, client_secret: CONFIDENTIAL_SECRET }));
      expect(introspect.status).toBe(200);
      expect(await introspect.text()).toBe('{"active":false}');
    });

    it('AUTHZ-INTR-02: introspects an active access token; revocation makes it inactive', async () => {
      const issued = await (await call('/oauth/token', form({ grant_type: 'client_credentials', client_id: CONFIDENTIAL_CLIENT, client_secret: CONFIDENTIAL_SECRET, scope: 'mcp:tools' }))).json();
      const credentials = { client_id: CONFIDENTIAL_CLIENT, client_secret: CONFIDENTIAL_SECRET };
      const active = await (await call('/oauth/introspect', form({ token: issued.access_token, ...credentials }))).json();
      expect(active).toMatchObject({ active: true, client_id: CONFIDENTIAL_CLIENT, scope: 'mcp:tools', aud: `${CONFORMANCE_ISSUER}/mcp` });
      expect((await call('/oauth/revoke', form({ token: issued.access_token, ...credentials }))).status).toBe(200);
      expect(await (await call('/oauth/introspect', form({ token: issued.access_token, ...credentials }))).json()).toEqual({ active: false });
    });

    it('AUTHZ-TOK-02: an unsupported media type is invalid_request, never a stack trace', async () => {
      const response = await call('/oauth/token', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.text()).not.toMatch(/at .*\.ts:\d+/);
    });
  });
}
