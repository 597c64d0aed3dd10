import { describe, expect, it } from 'vitest';
import { OAuthError } from '@keyward/core';
import { randomToken } from '../src/protocol/crypto.js';
import {
  authOf,
  CLIENTS,
  expectErrorPage,
  ISSUER,
  locationOf,
  PATHS,
  pkcePair,
  setup,
  type ClientName,
} from './support.js';

/** Asserts a redirect to `base` (scheme, host, path) carrying `error`, `state` and `iss`. */
function expectRedirectError(response: Response, error: string, base: string, state: string | null = 'st-1'): URL {
  const location = locationOf(response);
  expect(`${location.protocol}//${location.host}${location.pathname}`).toBe(base);
  expect(location.searchParams.get('error')).toBe(error);
  expect(location.searchParams.get('state')).toBe(state);
  expect(location.searchParams.get('iss')).toBe(ISSUER);
  expect(location.searchParams.has('code')).toBe(false);
  return location;
}

const PUBLIC_RU = CLIENTS.public.redirectUris[0]!;

describe('A2 authorization endpoint: general behaviour', () => {
  it('AUTHZ-AZ-01: a valid GET redirects with a code (devLogin)', async () => {
    const { server } = setup();
    const { challenge } = pkcePair();
    const response = await server.request(
      `${PATHS.authorize}?response_type=code&client_id=public-app&code_challenge=${challenge}&code_challenge_method=S256&state=s`,
    );
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(PUBLIC_RU);
    expect(location.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('AUTHZ-AZ-01: with an interaction hook, a valid GET reaches the login UI and completing it redirects with a code', async () => {
    const h = setup({ interactive: true });
    const { response, verifier } = await h.authorize({ scope: 'mcp:tools openid' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('login');
    expect(h.pending).toHaveLength(1);
    const pending = h.pending[0]!;
    expect(pending.client).toEqual({ clientId: 'public-app', clientName: undefined, redirectUri: PUBLIC_RU });
    expect(pending.scopes).toEqual(['mcp:tools', 'openid']);
    const done = await h.server.completeInteraction(pending.interactionId, { subject: 'alice' });
    const location = locationOf(done);
    expect(location.searchParams.get('state')).toBe('st-1');
    const token = await h.redeem(location.searchParams.get('code')!, verifier, authOf('public'));
    expect(token.status).toBe(200);
  });

  it('AUTHZ-AZ-01: POST with a form body is supported too', async () => {
    const h = setup();
    const { response } = await h.authorize({ method: 'POST' });
    expect(locationOf(response).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-AZ-01: other methods are refused without a redirect', async () => {
    const { server } = setup();
    const response = await server.request(`${PATHS.authorize}?client_id=public-app`, { method: 'PUT' });
    expect(response.status).toBe(405);
    expect(response.headers.get('location')).toBeNull();
  });

  it('AUTHZ-AZ-02: unknown parameters are ignored', async () => {
    const h = setup();
    const { response } = await h.authorize({ extra: { foo: 'bar', unknown_param: ['1', '2'] } });
    expect(locationOf(response).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-AZ-02: a repeated parameter is invalid_request, redirected once the client is known', async () => {
    const h = setup();
    const repeated = await h.authorize({ extra: { state: ['a', 'b'] } });
    // The state is ambiguous, so none is echoed.
    expectRedirectError(repeated.response, 'invalid_request', PUBLIC_RU, null);
    for (const name of ['response_type', 'code_challenge', 'code_challenge_method', 'scope']) {
      const h2 = setup();
      const { response, challenge } = await h2.authorize();
      expect(response.status).toBe(302);
      const value = name === 'response_type' ? 'code' : name === 'code_challenge' ? challenge : name === 'scope' ? 'mcp:tools' : 'S256';
      const again = await h2.authorize({ extra: { [name]: [value, value] } });
      expectRedirectError(again.response, 'invalid_request', PUBLIC_RU);
    }
  });

  it('AUTHZ-AZ-02: a repeated client_id or redirect_uri gets the error page (nothing to redirect to)', async () => {
    const h = setup();
    await expectErrorPage((await h.authorize({ extra: { client_id: ['public-app', 'public-app'] } })).response);
    await expectErrorPage((await h.authorize({ redirectUri: undefined, extra: { redirect_uri: [PUBLIC_RU, PUBLIC_RU] } })).response);
  });

  it('AUTHZ-AZ-02: an empty value counts as absent (scope= is no scope, state= echoes nothing)', async () => {
    const h = setup({ defaultScopes: ['mcp:tools'] });
    const { code, verifier, location } = await h.code({ scope: '', state: '' });
    expect(location.searchParams.has('state')).toBe(false);
    const body = await (await h.redeem(code, verifier, authOf('public'))).json();
    // No scope requested → the documented default scopes.
    expect(body.scope).toBe('mcp:tools');
    // An empty code_challenge is a missing one.
    const empty = await h.authorize({ extra: { code_challenge: '' } });
    expectRedirectError(empty.response, 'invalid_request', PUBLIC_RU);
  });

  it('AUTHZ-AZ-03: no CORS at the authorization endpoint, on preflight or on the response', async () => {
    const h = setup();
    const preflight = await h.server.request(PATHS.authorize, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    for (const [name] of preflight.headers) expect(name).not.toMatch(/^access-control-/);
    const { response } = await h.authorize({ extra: {} });
    for (const [name] of response.headers) expect(name).not.toMatch(/^access-control-/);
    const page = await h.authorizeRaw({ client_id: 'nobody' });
    for (const [name] of page.headers) expect(name).not.toMatch(/^access-control-/);
    // The token endpoint, by contrast, answers browser clients.
    const tokenPreflight = await h.server.request(PATHS.token, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    expect(tokenPreflight.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('AUTHZ-AZ-04: response_type=token (implicit) → unsupported_response_type', async () => {
    const h = setup();
    expectRedirectError((await h.authorize({ extra: { response_type: 'token' } })).response, 'unsupported_response_type', PUBLIC_RU);
  });

  it('AUTHZ-AZ-04: missing or unknown response_type → unsupported_response_type', async () => {
    const h = setup();
    for (const responseType of [undefined, 'id_token', 'code id_token', 'code token', 'none']) {
      const { response } = await h.authorize({ extra: { response_type: responseType } });
      expectRedirectError(response, 'unsupported_response_type', PUBLIC_RU);
    }
  });

  it('AUTHZ-AZ-04: a client not allowed the code grant → unauthorized_client', async () => {
    const h = setup({
      clients: [{ clientId: 'cc-only', clientSecret: 'cc-only-secret-0123456789', grantTypes: ['client_credentials'], redirectUris: ['https://cc.example.com/cb'] }],
    });
    const { challenge } = pkcePair();
    const response = await h.authorizeRaw({
      response_type: 'code',
      client_id: 'cc-only',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
    });
    expectRedirectError(response, 'unauthorized_client', 'https://cc.example.com/cb');
  });

  it('AUTHZ-AZ-05: an unknown scope → invalid_scope', async () => {
    const h = setup();
    expectRedirectError((await h.authorize({ scope: 'mcp:tools bogus' })).response, 'invalid_scope', PUBLIC_RU);
  });

  it('AUTHZ-AZ-05: a scope the client is not allowed → invalid_scope', async () => {
    const h = setup();
    const { response } = await h.authorize({ client: 'limited', scope: 'mcp:tools mcp:admin' });
    expectRedirectError(response, 'invalid_scope', CLIENTS.limited.redirectUris[0]!);
    const ok = await h.authorize({ client: 'limited', scope: 'mcp:tools' });
    expect(locationOf(ok.response).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-AZ-05: a malformed scope (outside the RFC 6749 grammar) → invalid_scope', async () => {
    const h = setup();
    expectRedirectError((await h.authorize({ scope: 'mcp:tools "quoted"' })).response, 'invalid_scope', PUBLIC_RU);
  });

  it('AUTHZ-AZ-06: a POST to the authorization endpoint is answered with 303, never 307', async () => {
    const h = setup();
    const { response } = await h.authorize({ method: 'POST' });
    expect(response.status).toBe(303);
    const error = await h.authorize({ method: 'POST', scope: 'bogus' });
    expect(error.response.status).toBe(303);
  });

  it('AUTHZ-AZ-06: completing or denying an interaction after a login POST answers 303', async () => {
    const h = setup({ interactive: true });
    await h.authorize();
    await h.authorize();
    const [first, second] = h.pending;
    expect((await h.server.completeInteraction(first!.interactionId, { subject: 'alice' })).status).toBe(303);
    expect((await h.server.denyInteraction(second!.interactionId)).status).toBe(303);
  });
});

describe('A3 redirect URIs and open-redirect prevention', () => {
  it('AUTHZ-RURI-01: the redirect URI query component is kept when parameters are added', async () => {
    const h = setup();
    const { location } = await h.code({ client: 'query' });
    expect(location.href).toMatch(/^https:\/\/query\.example\.com\/cb\?x=1&code=/);
    expect(location.searchParams.get('x')).toBe('1');
  });

  it('AUTHZ-RURI-01: a redirect URI with a fragment cannot be registered', () => {
    expect(() => setup({ clients: [{ clientId: 'frag', redirectUris: ['https://a.example/cb#x'] }] })).toThrow(/fragment/);
    expect(() => setup({ clients: [{ clientId: 'rel', redirectUris: ['/cb'] }] })).toThrow(/absolute/);
  });

  it('AUTHZ-RURI-02: exact string comparison: near misses get the error page, never a redirect', async () => {
    const h = setup();
    const registered = CLIENTS.basic.redirectUris[0]!; // https://app.example.com/cb
    for (const candidate of [
      `${registered}/x`,
      `${registered}?a=1`,
      `${registered}/`,
      'https://APP.example.com/cb',
      'HTTPS://app.example.com/cb',
      'https://app.example.com/CB',
      'https://app.example.com:443/cb',
      'https://app.example.com/cb#',
      'https://app.example.com/./cb',
      'https://app.example.com/c%62',
      'https://app.example.com.evil.io/cb',
      'https://evil.io/https://app.example.com/cb',
      'http://app.example.com/cb',
      ' https://app.example.com/cb',
    ]) {
      const { response } = await h.authorize({ client: 'basic', redirectUri: candidate });
      await expectErrorPage(response);
    }
    const exact = await h.authorize({ client: 'basic', redirectUri: registered });
    expect(locationOf(exact.response).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-RURI-03: a registered http://127.0.0.1/cb matches any port at request time', async () => {
    const h = setup();
    for (const redirectUri of ['http://127.0.0.1:51004/cb', 'http://127.0.0.1:1/cb', 'http://127.0.0.1/cb']) {
      const { code, verifier, location } = await h.code({ client: 'loopback', redirectUri });
      expect(location.href.startsWith(`${redirectUri}?`)).toBe(true);
      expect((await h.redeem(code, verifier, authOf('loopback'))).status).toBe(200);
    }
  });

  it('AUTHZ-RURI-03: a registered http://[::1]/cb matches any port at request time', async () => {
    const h = setup();
    const { location } = await h.code({ client: 'loopback6', redirectUri: 'http://[::1]:61000/cb' });
    expect(location.host).toBe('[::1]:61000');
  });

  it('AUTHZ-RURI-03: project decision: the port rule also covers http://localhost, host kept exact', async () => {
    const h = setup();
    const { location } = await h.code({ client: 'localhost', redirectUri: 'http://localhost:6274/oauth/callback' });
    expect(location.host).toBe('localhost:6274');
    for (const redirectUri of ['http://127.0.0.1:6274/oauth/callback', 'http://localhost:6274/oauth/callback/debug']) {
      await expectErrorPage((await h.authorize({ client: 'localhost', redirectUri })).response);
    }
  });

  it('AUTHZ-RURI-04: the loopback exception covers the port only', async () => {
    const h = setup();
    const cases: [ClientName, string][] = [
      ['loopback', 'http://127.0.0.1:5000/cb2'],
      ['loopback', 'http://127.0.0.1:5000/cb/'],
      ['loopback', 'http://127.0.0.1:5000/cb?x=1'],
      ['loopback', 'http://127.0.0.1:5000/CB'],
      ['loopback', 'https://127.0.0.1:5000/cb'],
      ['loopback', 'http://localhost:5000/cb'],
      ['loopback', 'http://[::1]:5000/cb'],
      ['loopback', 'http://127.0.0.2:5000/cb'],
      ['loopback', 'http://127.0.0.1.evil.io:5000/cb'],
      ['loopback', 'http://127.0.0.1:5000@evil.io/cb'],
      ['loopback', 'http://evil.io:5000/cb'],
      ['loopback6', 'http://127.0.0.1:5000/cb'],
      ['basic', 'https://app.example.com:8443/cb'],
      ['query', 'https://query.example.com:8443/cb?x=1'],
    ];
    for (const [client, redirectUri] of cases) {
      const { response } = await h.authorize({ client, redirectUri });
      await expectErrorPage(response);
    }
  });

  it('AUTHZ-RURI-04: a loopback port outside 1-65535 is not a port', async () => {
    const h = setup();
    for (const redirectUri of ['http://127.0.0.1:65536/cb', 'http://127.0.0.1:99999/cb']) {
      await expectErrorPage((await h.authorize({ client: 'loopback', redirectUri })).response);
    }
  });

  it('AUTHZ-RURI-05: several registered redirect URIs → redirect_uri is required (error page)', async () => {
    const h = setup();
    await expectErrorPage((await h.authorize({ client: 'multi' })).response);
    const { location } = await h.code({ client: 'multi', redirectUri: 'https://multi.example.com/b' });
    expect(location.pathname).toBe('/b');
  });

  it('AUTHZ-RURI-05: one registered redirect URI → redirect_uri is optional', async () => {
    const h = setup();
    const { location } = await h.code({ client: 'basic' });
    expect(`${location.origin}${location.pathname}`).toBe(CLIENTS.basic.redirectUris[0]);
  });

  it('AUTHZ-RURI-06: unknown or missing client_id, or an unregistered redirect_uri, never redirect', async () => {
    const h = setup();
    const { challenge } = pkcePair();
    const base = { response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 's' };
    await expectErrorPage(await h.authorizeRaw({ ...base, client_id: 'unknown', redirect_uri: 'https://evil.example/cb' }));
    await expectErrorPage(await h.authorizeRaw({ ...base, redirect_uri: 'https://evil.example/cb' }));
    await expectErrorPage(await h.authorizeRaw({ ...base, client_id: 'public-app', redirect_uri: 'https://evil.example/cb' }));
    // A client with no redirect URI at all has nothing to redirect to.
    await expectErrorPage(await h.authorizeRaw({ ...base, client_id: 'machine' }));
    await expectErrorPage(await h.authorizeRaw({}));
  });

  it('AUTHZ-RURI-06: the error page is served with anti-framing headers and explains the problem', async () => {
    const h = setup();
    const response = await h.authorizeRaw({ client_id: 'unknown', redirect_uri: 'https://evil.example/cb' });
    const html = await expectErrorPage(response);
    expect(html).toContain('invalid_request');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('AUTHZ-RURI-07: client and redirect URI are validated before anything that would redirect', async () => {
    const h = setup();
    const bad = 'https://evil.example/cb';
    // Bad redirect URI plus each redirectable error: the page wins every time.
    await expectErrorPage((await h.authorize({ redirectUri: bad, scope: 'bogus' })).response);
    await expectErrorPage((await h.authorize({ redirectUri: bad, extra: { response_type: 'token' } })).response);
    await expectErrorPage((await h.authorize({ redirectUri: bad, extra: { code_challenge: undefined } })).response);
    await expectErrorPage((await h.authorize({ redirectUri: bad, extra: { code_challenge_method: 'plain' } })).response);
    await expectErrorPage((await h.authorize({ redirectUri: bad, resource: 'https://unknown.example/mcp' })).response);
    await expectErrorPage((await h.authorize({ redirectUri: bad, extra: { state: ['a', 'b'] } })).response);
    await expectErrorPage((await h.authorize({ client: 'multi', scope: 'bogus' })).response);
  });

  it('AUTHZ-RURI-07: documented policy: prompt=none never shows UI; with no session it is login_required', async () => {
    const h = setup({ interactive: true });
    const { response } = await h.authorize({ extra: { prompt: 'none' } });
    expectRedirectError(response, 'login_required', PUBLIC_RU);
    expect(h.pending).toHaveLength(0);
  });

  it('AUTHZ-RURI-08: http redirect URIs other than loopback cannot be registered', () => {
    expect(() => setup({ clients: [{ clientId: 'web', redirectUris: ['http://evil.example/cb'] }] })).toThrow(/loopback/);
    expect(() => setup({ clients: [{ clientId: 'native', redirectUris: ['http://127.0.0.1:8080/cb', 'http://localhost/cb', 'http://[::1]/cb'] }] })).not.toThrow();
  });

  it('AUTHZ-RURI-09: private-use schemes need a dot unless allow-listed', async () => {
    expect(() => setup({ clients: [{ clientId: 'myapp', redirectUris: ['myapp:/cb'] }] })).toThrow(/reverse-DNS/);
    expect(() => setup({ clients: [{ clientId: 'myapp', redirectUris: ['myapp:/cb'] }], redirectUriSchemes: ['myapp'] })).not.toThrow();
    const h = setup();
    const reverseDNS = await h.code({ client: 'privateUse', redirectUri: 'com.example.app:/cb' });
    expect(reverseDNS.location.protocol).toBe('com.example.app:');
    const cursor = await h.authorize({ client: 'privateUse', redirectUri: 'cursor://anysphere.cursor-mcp/oauth/callback' });
    expect(cursor.response.headers.get('location')).toMatch(/^cursor:\/\/anysphere\.cursor-mcp\/oauth\/callback\?code=/);
  });

  it('AUTHZ-RURI-10: dangerous schemes cannot be registered', () => {
    for (const uri of ['javascript:alert(1)', 'JavaScript://x/%0aalert(1)', 'data:text/html,x', 'file:///etc/passwd', 'vbscript:x', 'blob:https://a/x']) {
      expect(() => setup({ clients: [{ clientId: 'x', redirectUris: [uri] }] }), uri).toThrow();
    }
  });

  it('AUTHZ-RURI-10: a hostile state comes back percent-encoded, never raw', async () => {
    const h = setup();
    const state = '<script>alert(1)</script>"&code=forged#x';
    const { response } = await h.authorize({ state });
    const raw = response.headers.get('location')!;
    expect(raw).not.toContain('<');
    expect(raw).not.toContain('"');
    expect(raw).not.toContain('#');
    expect(raw).not.toContain('&code=forged');
    const location = new URL(raw);
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.getAll('code')).toHaveLength(1);
  });

  it('AUTHZ-RURI-10: hostile input is never rendered raw on the error page', async () => {
    const h = setup();
    const html = await expectErrorPage(await h.authorizeRaw({ client_id: '<script>x</script>', redirect_uri: 'javascript:alert(1)', state: '<img src=x>' }));
    expect(html).not.toContain('<script>x');
    expect(html).not.toContain('<img');
  });
});

describe('A5 authorization response', () => {
  it('AUTHZ-ARESP-01: state is echoed exactly, on success and on error', async () => {
    const h = setup();
    const response = await h.server.request(
      `${PATHS.authorize}?response_type=code&client_id=public-app&code_challenge=${pkcePair().challenge}&code_challenge_method=S256&state=a%2Bb%20c`,
    );
    expect(locationOf(response).searchParams.get('state')).toBe('a+b c');
    const error = await h.server.request(`${PATHS.authorize}?response_type=code&client_id=public-app&state=a%2Bb%20c`);
    expect(locationOf(error).searchParams.get('state')).toBe('a+b c');
    for (const state of ['ü € 😀', '%25%2B', '   x   ', randomToken(200)]) {
      const { location } = await h.code({ state });
      expect(location.searchParams.get('state')).toBe(state);
    }
  });

  it('AUTHZ-ARESP-02: iss is the issuer on success and on every error', async () => {
    const h = setup({ interactive: true });
    await h.authorize();
    const success = await h.server.completeInteraction(h.pending[0]!.interactionId, { subject: 'alice' });
    expect(locationOf(success).searchParams.get('iss')).toBe(ISSUER);
    expectRedirectError((await h.authorize({ scope: 'bogus' })).response, 'invalid_scope', PUBLIC_RU);
    await h.authorize();
    const denied = await h.server.denyInteraction(h.pending[1]!.interactionId);
    expect(locationOf(denied).searchParams.get('iss')).toBe(ISSUER);
  });

  it('AUTHZ-ARESP-02: iss keeps an issuer with a trailing slash byte for byte', async () => {
    const h = setup({ issuer: 'http://localhost:3009/' });
    const { location } = await h.code();
    expect(location.searchParams.get('iss')).toBe('http://localhost:3009/');
  });

  it('AUTHZ-ARESP-03: a code expires 60 s after issue', async () => {
    const h = setup();
    const fresh = await h.code();
    h.advance(59);
    expect((await h.redeem(fresh.code, fresh.verifier, authOf('public'))).status).toBe(200);
    const stale = await h.code();
    h.advance(61);
    const response = await h.redeem(stale.code, stale.verifier, authOf('public'));
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('invalid_grant');
  });

  it('AUTHZ-ARESP-03: the code lifetime is configurable', async () => {
    const h = setup({ ttl: { authorizationCode: 10 } });
    const { code, verifier } = await h.code();
    h.advance(11);
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(400);
  });

  it('AUTHZ-ARESP-04: codes are at least 256-bit base64url strings and do not repeat', async () => {
    const h = setup();
    const codes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const { code } = await h.code();
      expect(code).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      codes.add(code);
    }
    expect(codes.size).toBe(300);
  });

  it('AUTHZ-ARESP-04: the token generator behind codes and tokens has no duplicates in 10^5 samples', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(randomToken());
    expect(seen.size).toBe(100_000);
    // 32 bytes → 43 base64url characters, well above the 27 characters of 160 bits.
    expect(randomToken()).toHaveLength(43);
  });

  it('AUTHZ-ARESP-05: response_mode=form_post is not supported and is refused, not silently replaced', async () => {
    const h = setup();
    expectRedirectError((await h.authorize({ extra: { response_mode: 'form_post' } })).response, 'invalid_request', PUBLIC_RU);
    expectRedirectError((await h.authorize({ extra: { response_mode: 'bogus' } })).response, 'invalid_request', PUBLIC_RU);
    expectRedirectError((await h.authorize({ extra: { response_mode: 'fragment' } })).response, 'invalid_request', PUBLIC_RU);
    const query = await h.authorize({ extra: { response_mode: 'query' } });
    expect(locationOf(query.response).searchParams.get('code')).toBeTruthy();
    const metadata = await (await h.server.request(PATHS.asMetadata)).json();
    expect(metadata.response_modes_supported).toEqual(['query']);
  });

  it('AUTHZ-ARESP-06: the user denying → access_denied with state and iss', async () => {
    const h = setup({ interactive: true });
    await h.authorize();
    const response = await h.server.denyInteraction(h.pending[0]!.interactionId);
    expectRedirectError(response, 'access_denied', PUBLIC_RU);
  });

  it('AUTHZ-ARESP-06: an OAuth error thrown by the interaction hook is redirected with its code', async () => {
    for (const code of ['temporarily_unavailable', 'server_error', 'access_denied'] as const) {
      const h = setup({
        devLogin: undefined,
        interaction: () => {
          throw new OAuthError(code, { description: 'try later' });
        },
      });
      const { response } = await h.authorize();
      expectRedirectError(response, code, PUBLIC_RU);
    }
  });

  it('AUTHZ-ARESP-06: error and error_description stay within %x20-21 / %x23-5B / %x5D-7E', async () => {
    const h = setup();
    const fuzz = ['"quoted"', 'back\\slash', 'ünïcødé €', 'new\nline\ttab', '\u0000\u007f', '😀', '<>{}|^`'];
    for (const value of fuzz) {
      for (const extra of [{ response_mode: value }, { resource: `https://x.example/${value}` }, { code_challenge_method: value }]) {
        const { response } = await h.authorize({ extra });
        const location = locationOf(response);
        const error = location.searchParams.get('error');
        const description = location.searchParams.get('error_description');
        expect(error).toMatch(/^[a-z_]+$/);
        expect(description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
      }
    }
  });

  it('an interaction can be completed only once and expires', async () => {
    const h = setup({ interactive: true, ttl: { interaction: 60 } });
    await h.authorize();
    await h.authorize();
    const [first, second] = h.pending;
    locationOf(await h.server.completeInteraction(first!.interactionId, { subject: 'alice' }));
    await expectErrorPage(await h.server.completeInteraction(first!.interactionId, { subject: 'alice' }));
    await expectErrorPage(await h.server.denyInteraction(first!.interactionId));
    h.advance(61);
    await expectErrorPage(await h.server.completeInteraction(second!.interactionId, { subject: 'alice' }));
  });
});
