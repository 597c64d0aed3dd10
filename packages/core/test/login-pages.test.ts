import { beforeEach, describe, expect, it } from 'vitest';
import { AuthorizationServer, type PasswordAuthenticator, type ScopeGrantRequest } from '@keyward/core';
import { randomToken, timingSafeEqual } from '../src/protocol/crypto.js';
import { calculatePKCECodeChallenge } from '../src/protocol/pkce.js';
import { MemoryStore } from '@keyward/core/memory';

const issuer = 'http://localhost:3009';
const redirectUri = 'http://127.0.0.1/callback';

const users: PasswordAuthenticator = {
  async verify(username, password) {
    if (username === 'boss' && timingSafeEqual(password, 'boss password')) return { subject: 'local:boss', claims: { name: 'The Boss' } };
    return username === 'demo' && timingSafeEqual(password, 'correct horse')
      ? { subject: 'local:demo', claims: { name: 'Demo User', email: 'demo@example.com' } }
      : null;
  },
};

/** A browser in miniature: keeps cookies, follows nothing by itself. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly server: AuthorizationServer) {}
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await this.server.fetch(new Request(new URL(url, issuer), { ...init, headers, redirect: 'manual' }), { clientAddress: '203.0.113.7' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const index = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, index), pair!.slice(index + 1));
    }
    return response;
  }
  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  }
}

function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = match[2]!;
  return fields;
}

describe('built-in login and consent pages', () => {
  let server: AuthorizationServer;
  let browser: Browser;
  let now: number;

  beforeEach(() => {
    now = Date.now();
    server = new AuthorizationServer({
      clock: () => now,
      issuer,
      store: new MemoryStore({ clock: () => now }),
      scopes: ['mcp:tools', 'openid', 'profile'],
      // Trusted, so that remembered consent and prompt=none apply to this public client (SEC-CONSENT below).
      clients: [{ clientId: 'app', clientName: 'Example App', redirectUris: [redirectUri], trusted: true }],
      login: { users },
    });
    browser = new Browser(server);
  });

  async function startAuthorization(state = 'st') {
    const verifier = randomToken();
    const query = new URLSearchParams({ response_type: 'code', client_id: 'app', redirect_uri: redirectUri, code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'mcp:tools openid', state });
    const response = await browser.request(`/oauth/authorize?${query}`);
    expect(response.status).toBe(303);
    return response.headers.get('location')!;
  }

  async function signIn(password = 'correct horse') {
    const loginUrl = await startAuthorization();
    const page = await browser.request(loginUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('>Sign in</button>');
    return browser.post('/oauth/login', { ...hiddenFields(html), username: 'demo', password });
  }

  it('AUTHZ-UI-01: pages forbid framing and referrers', async () => {
    const page = await browser.request(await startAuthorization());
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('AUTHZ-AZ-06: login, consent and the code, with 303 after every POST', async () => {
    const login = await signIn();
    expect(login.status).toBe(303);
    const consentPage = await browser.request(login.headers.get('location')!);
    const html = await consentPage.text();
    expect(html).toContain('Example App');
    expect(html).toContain('127.0.0.1');
    expect(html).toContain("Use this server&#39;s tools on your behalf");
    const allow = await browser.post('/oauth/consent', { ...hiddenFields(html), decision: 'allow' });
    expect(allow.status).toBe(303);
    const location = new URL(allow.headers.get('location')!);
    expect(location.searchParams.get('code')).toBeTruthy();
    expect(location.searchParams.get('iss')).toBe(issuer);
    expect(location.searchParams.get('state')).toBe('st');
  });

  it('AUTHZ-ARESP-06: Deny returns access_denied with state and iss', async () => {
    const login = await signIn();
    const html = await (await browser.request(login.headers.get('location')!)).text();
    const deny = await browser.post('/oauth/consent', { ...hiddenFields(html), decision: 'deny' });
    const location = new URL(deny.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st');
    expect(location.searchParams.get('iss')).toBe(issuer);
  });

  it('AUTHZ-UI-02: a forged CSRF token is refused and no code is issued', async () => {
    const login = await signIn();
    const html = await (await browser.request(login.headers.get('location')!)).text();
    const forged = await browser.post('/oauth/consent', { ...hiddenFields(html), csrf: 'forged', decision: 'allow' });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('location')).toBeNull();
  });

  it('AUTHZ-UI-02: a consent form from another browser is refused', async () => {
    const login = await signIn();
    const html = await (await browser.request(login.headers.get('location')!)).text();
    const attacker = new Browser(server);
    const response = await attacker.post('/oauth/consent', { ...hiddenFields(html), decision: 'allow' });
    expect(response.status).toBe(403);
  });

  it('a wrong password and an unknown user get the same message', async () => {
    const wrong = await signIn('nope');
    expect(wrong.status).toBe(401);
    const text = await wrong.text();
    expect(text).toContain('The username or password is incorrect.');
  });

  it('remembers consent per user, client and scopes, and asks again when scopes grow', async () => {
    const login = await signIn();
    const html = await (await browser.request(login.headers.get('location')!)).text();
    await browser.post('/oauth/consent', { ...hiddenFields(html), decision: 'allow' });
    // Same scopes again: signed in and consented, straight back to the client.
    const again = await startAuthorization('second');
    expect(new URL(again).searchParams.get('state')).toBe('second');
    expect(new URL(again).searchParams.get('code')).toBeTruthy();
    // More scopes: the consent page again.
    const verifier = randomToken();
    const query = new URLSearchParams({ response_type: 'code', client_id: 'app', redirect_uri: redirectUri, code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'mcp:tools openid profile', state: 'third' });
    const wider = await browser.request(`/oauth/authorize?${query}`);
    expect(wider.headers.get('location')).toContain('/oauth/consent?interaction=');
  });

  async function authorizeWith(extra: Record<string, string>, clientId = 'app', redirect = redirectUri) {
    const verifier = randomToken();
    const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirect, code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'mcp:tools openid', state: 'silent', ...extra });
    return browser.request(`/oauth/authorize?${query}`);
  }

  it('AUTHZ-OIDC-03: prompt=none without a session redirects login_required and shows no page', async () => {
    const response = await authorizeWith({ prompt: 'none' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe('silent');
  });

  it('AUTHZ-OIDC-03: prompt=none with a session but no consent redirects consent_required; with both it issues a code', async () => {
    await signIn();
    const withoutConsent = await authorizeWith({ prompt: 'none' });
    expect(new URL(withoutConsent.headers.get('location')!).searchParams.get('error')).toBe('consent_required');
    const html = await (await browser.request((await authorizeWith({})).headers.get('location')!)).text();
    await browser.post('/oauth/consent', { ...hiddenFields(html), decision: 'allow' });
    const silent = await authorizeWith({ prompt: 'none' });
    expect(new URL(silent.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-OIDC-03: max_age asks a user who signed in too long ago to sign in again', async () => {
    await signIn();
    expect((await authorizeWith({ max_age: '60' })).headers.get('location')).toContain('/oauth/consent?interaction=');
    now += 61_000;
    expect((await authorizeWith({ max_age: '60' })).headers.get('location')).toContain('/oauth/login?interaction=');
  });

  it('AUTHZ-UI-04: a self-registered public client is asked for consent every time', async () => {
    const registered = await (
      await server.request('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Looks Trustworthy', redirect_uris: ['http://127.0.0.1/dcr'], token_endpoint_auth_method: 'none' }) })
    ).json();
    const first = await authorizeWith({}, registered.client_id, 'http://127.0.0.1/dcr');
    const loginHtml = await (await browser.request(first.headers.get('location')!)).text();
    const login = await browser.post('/oauth/login', { ...hiddenFields(loginHtml), username: 'demo', password: 'correct horse' });
    const consentHtml = await (await browser.request(login.headers.get('location')!)).text();
    expect(consentHtml).toContain('registered itself');
    await browser.post('/oauth/consent', { ...hiddenFields(consentHtml), decision: 'allow' });
    const second = await authorizeWith({}, registered.client_id, 'http://127.0.0.1/dcr');
    expect(second.headers.get('location')).toContain('/oauth/consent?interaction=');
  });

  it('counts only failed sign-ins: after 10 failures for a user even the right password waits, successes never lock out', async () => {
    // A fresh browser each time, so every attempt goes through the login form.
    const attempt = (password?: string) => ((browser = new Browser(server)), signIn(password));
    for (let i = 0; i < 12; i++) expect((await attempt()).status).toBe(303);
    for (let i = 0; i < 10; i++) expect((await attempt('wrong')).status).toBe(401);
    const blocked = await attempt();
    expect(blocked.status).toBe(429);
    expect(await blocked.text()).toContain('Too many failed sign-in attempts');
    now += 15 * 60_000;
    expect((await attempt()).status).toBe(303);
  });

  it('sets HttpOnly SameSite=Lax cookies', async () => {
    await startAuthorization();
    const response = await signIn();
    const cookies = response.headers.getSetCookie();
    expect(cookies.some((cookie) => cookie.startsWith('keyward-session=') && /HttpOnly/.test(cookie) && /SameSite=Lax/.test(cookie))).toBe(true);
  });
});

describe('connected apps', () => {
  it('AUTHZ-UI-03: a user\'s grants can be listed and revoked; the revoked grant\'s tokens stop working', async () => {
    const server = new AuthorizationServer({
      issuer,
      store: new MemoryStore(),
      scopes: ['mcp:tools'],
      clients: [{ clientId: 'app', redirectUris: [redirectUri] }],
      devLogin: { subject: 'alice', claims: { name: 'Alice' } },
    });
    const verifier = randomToken();
    const query = new URLSearchParams({ response_type: 'code', client_id: 'app', redirect_uri: redirectUri, code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'mcp:tools' });
    const code = new URL((await server.request(`/oauth/authorize?${query}`)).headers.get('location')!).searchParams.get('code')!;
    const tokens = await (
      await server.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'app' }) })
    ).json();
    const [grant, ...others] = await server.listGrants('alice');
    expect(others).toEqual([]);
    expect(grant).toMatchObject({ clientId: 'app', scopes: ['mcp:tools'], resources: [`${issuer}/mcp`] });
    expect(grant).not.toHaveProperty('claims');
    expect(await server.listGrants('bob')).toEqual([]);

    await server.revokeGrant(grant!.grantId);
    expect((await server.listGrants('alice'))[0]!.revokedAt).toBeTypeOf('number');
    const guarded = await server.createGuard().authenticate(new Request(`${issuer}/mcp`, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
    expect(guarded.ok).toBe(false);
    const refresh = await server.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'app' }) });
    expect((await refresh.json()).error).toBe('invalid_grant');
  });
});

describe('silent approval and the scopes a user may grant, through the login pages', () => {
  const PUBLIC = 'mcp-public-client';
  const TRUSTED = 'trusted-native';
  const CONFIDENTIAL = { clientId: 'conf-app', secret: 'conf-app-secret-0123456789' };
  const PASSWORDS: Record<string, string> = { demo: 'correct horse', boss: 'boss password' };
  let server: AuthorizationServer;
  let store: MemoryStore;
  let browser: Browser;
  let admins: Set<string>;
  let asked: ScopeGrantRequest[];

  beforeEach(() => {
    admins = new Set(['local:boss']);
    asked = [];
    store = new MemoryStore();
    server = new AuthorizationServer({
      issuer,
      store,
      scopes: ['mcp:tools', 'mcp:admin', 'openid', 'profile'],
      clients: [
        // Configured like example 09's public client: native, loopback redirect URI, not trusted.
        { clientId: PUBLIC, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris: [redirectUri] },
        { clientId: TRUSTED, clientName: 'Trusted native app', redirectUris: [redirectUri], trusted: true },
        { clientId: CONFIDENTIAL.clientId, clientSecret: CONFIDENTIAL.secret, clientName: 'Confidential app', redirectUris: [redirectUri] },
      ],
      login: { users },
      // A role lookup: asynchronous, and it can change between two requests.
      grantableScopes: async (request) => {
        asked.push(request);
        await new Promise((resolve) => setTimeout(resolve, 1));
        return admins.has(request.subject) ? request.scopes : request.scopes.filter((scope) => scope !== 'mcp:admin');
      },
    });
    browser = new Browser(server);
  });

  interface Started {
    response: Response;
    verifier: string;
    redirect: string;
    clientId: string;
  }

  async function authorize(clientId: string, options: { scope?: string; redirect?: string; prompt?: string } = {}): Promise<Started> {
    const verifier = randomToken();
    const redirect = options.redirect ?? redirectUri;
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirect,
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      scope: options.scope ?? 'mcp:tools',
      state: 'st-policy',
      ...(options.prompt && { prompt: options.prompt }),
    });
    return { response: await browser.request(`/oauth/authorize?${query}`), verifier, redirect, clientId };
  }

  /** From an authorization response to wherever signing in as `username` leads (the consent page, or the client). */
  async function signIn(started: Started, username: string): Promise<Response> {
    const loginPage = await browser.request(started.response.headers.get('location')!);
    const html = await loginPage.text();
    expect(html).toContain('>Sign in</button>');
    return browser.post('/oauth/login', { ...hiddenFields(html), username, password: PASSWORDS[username]! });
  }

  async function consentPage(response: Response): Promise<string> {
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toContain('/oauth/consent?interaction=');
    return (await browser.request(response.headers.get('location')!)).text();
  }

  async function allow(html: string): Promise<URL> {
    const response = await browser.post('/oauth/consent', { ...hiddenFields(html), decision: 'allow' });
    expect(response.status).toBe(303);
    return new URL(response.headers.get('location')!);
  }

  async function redeem(started: Started, callback: URL): Promise<{ scope?: string; refresh_token?: string; access_token: string }> {
    const code = callback.searchParams.get('code');
    expect(code, callback.href).toBeTruthy();
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: code!, code_verifier: started.verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (started.clientId === CONFIDENTIAL.clientId) headers.authorization = `Basic ${btoa(`${CONFIDENTIAL.clientId}:${CONFIDENTIAL.secret}`)}`;
    else body.set('client_id', started.clientId);
    const response = await server.request('/oauth/token', { method: 'POST', headers, body });
    const tokens = await response.json();
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    return tokens;
  }

  it('SEC-CONSENT-01: after one consent, prompt=none for the configured public client from another loopback port gets consent_required, and an ordinary request the consent page again', async () => {
    // The user connects the real app once (its loopback port 49200).
    const real = await authorize(PUBLIC, { redirect: 'http://127.0.0.1:49200/callback' });
    const callback = await allow(await consentPage(await signIn(real, 'demo')));
    expect(`${callback.origin}${callback.pathname}`).toBe('http://127.0.0.1:49200/callback');
    await redeem(real, callback);
    expect((await store.getConsent('local:demo', PUBLIC))?.scopes).toEqual(['mcp:tools']);

    // Another program on the machine listens on port 51234 and sends the signed-in browser there as the same client.
    const attack = await authorize(PUBLIC, { redirect: 'http://127.0.0.1:51234/callback', prompt: 'none' });
    expect(attack.response.status).toBe(302);
    const refused = new URL(attack.response.headers.get('location')!);
    expect(`${refused.origin}${refused.pathname}`).toBe('http://127.0.0.1:51234/callback');
    expect(refused.searchParams.get('error')).toBe('consent_required');
    expect(refused.searchParams.has('code')).toBe(false);
    expect(refused.searchParams.get('iss')).toBe(issuer);

    // Without prompt=none the user sees the consent page (and the port it returns to) instead of a silent code.
    const visible = await authorize(PUBLIC, { redirect: 'http://127.0.0.1:51234/callback' });
    const html = await consentPage(visible.response);
    expect(html).toContain('127.0.0.1:51234');
  });

  it('SEC-CONSENT-02: a configured public client marked trusted, and a confidential client, are still approved silently after one consent', async () => {
    for (const clientId of [TRUSTED, CONFIDENTIAL.clientId]) {
      browser = new Browser(server);
      const first = await authorize(clientId);
      await redeem(first, await allow(await consentPage(await signIn(first, 'demo'))));
      const silent = await authorize(clientId, { redirect: 'http://127.0.0.1:51234/callback', prompt: 'none' });
      expect(silent.response.status, clientId).toBe(302);
      const callback = new URL(silent.response.headers.get('location')!);
      expect(`${callback.origin}${callback.pathname}`).toBe('http://127.0.0.1:51234/callback');
      await redeem(silent, callback);
      // And without prompt=none: straight back, no page.
      const again = await authorize(clientId);
      expect(new URL(again.response.headers.get('location')!).searchParams.get('code'), clientId).toBeTruthy();
    }
  });

  it('SEC-SCOPE-05: the consent page lists only the scopes this user may grant; the user remembered and the token get nothing more', async () => {
    const started = await authorize(TRUSTED, { scope: 'mcp:tools mcp:admin' });
    const html = await consentPage(await signIn(started, 'demo'));
    expect(html).toContain('(mcp:tools)');
    expect(html).not.toContain('mcp:admin');
    expect(html).not.toContain('Administer this server');
    const tokens = await redeem(started, await allow(html));
    expect(tokens.scope).toBe('mcp:tools');
    expect((await store.getConsent('local:demo', TRUSTED))?.scopes).toEqual(['mcp:tools']);
    // What the hook was asked: the user of the login, with its claims, the client and the requested scopes.
    expect(asked[0]).toMatchObject({
      subject: 'local:demo',
      claims: { name: 'Demo User', email: 'demo@example.com' },
      client: { clientId: TRUSTED },
      scopes: ['mcp:tools', 'mcp:admin'],
      resources: [`${issuer}/mcp`],
      stage: 'authorization',
    });

    // An administrator sees and gets mcp:admin.
    browser = new Browser(server);
    const boss = await authorize(TRUSTED, { scope: 'mcp:tools mcp:admin' });
    const bossPage = await consentPage(await signIn(boss, 'boss'));
    expect(bossPage).toContain('Administer this server');
    expect((await redeem(boss, await allow(bossPage))).scope).toBe('mcp:tools mcp:admin');
  });

  it('SEC-SCOPE-06: remembered consent never carries a scope the user has lost since', async () => {
    const first = await authorize(TRUSTED, { scope: 'mcp:tools mcp:admin' });
    expect((await redeem(first, await allow(await consentPage(await signIn(first, 'boss'))))).scope).toBe('mcp:tools mcp:admin');
    admins.delete('local:boss');
    // Signed in, consent remembered for both scopes: straight back, but without mcp:admin.
    const again = await authorize(TRUSTED, { scope: 'mcp:tools mcp:admin' });
    expect((await redeem(again, new URL(again.response.headers.get('location')!))).scope).toBe('mcp:tools');
    const silent = await authorize(TRUSTED, { scope: 'mcp:tools mcp:admin', prompt: 'none' });
    expect((await redeem(silent, new URL(silent.response.headers.get('location')!))).scope).toBe('mcp:tools');
  });

  it('SEC-SCOPE-07: when the user may grant none of the requested scopes, the client gets invalid_scope (with state and iss), no consent page and no code', async () => {
    const started = await authorize(TRUSTED, { scope: 'mcp:admin' });
    const response = await signIn(started, 'demo');
    expect(response.status).toBe(303);
    const callback = new URL(response.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
    expect(callback.searchParams.get('error')).toBe('invalid_scope');
    expect(callback.searchParams.get('state')).toBe('st-policy');
    expect(callback.searchParams.get('iss')).toBe(issuer);
    expect(callback.searchParams.has('code')).toBe(false);
    // prompt=none from the signed-in browser: the same answer, never consent_required or a code.
    const silent = await authorize(TRUSTED, { scope: 'mcp:admin', prompt: 'none' });
    expect(new URL(silent.response.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
    expect(await store.getConsent('local:demo', TRUSTED)).toBeNull();
  });
});
