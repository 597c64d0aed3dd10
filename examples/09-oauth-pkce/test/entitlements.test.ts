// Who may have what in example 09, driven through the real login and consent pages over HTTP (createApp
// in this process, so a test can take a role away): mcp:admin goes only to users with the admin role,
// whatever the client asks for; the public client is never approved silently; the confidential client of
// OAUTH_CLIENT_ID introspects any token of this server.
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { createApp, type ExampleApp } from '../src/app.js';
import { authorizationRequest, CONFIDENTIAL, freePort, insecure, mcpClient, postMcp, PUBLIC_CLIENT_ID, toolJSON } from './support.js';

const PASSWORDS = { demo: 'demo password for entitlements', admin: 'admin password for entitlements' };
const REDIRECT = 'http://127.0.0.1:51000/callback';
const ADMIN_STATS = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } };

let example: ExampleApp;
let listener: Server;
let base: string;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  example = await createApp({
    OAUTH_STORE: 'memory',
    OAUTH_ISSUER: base,
    OAUTH_DEMO_PASSWORD: PASSWORDS.demo,
    OAUTH_ADMIN_PASSWORD: PASSWORDS.admin,
    OAUTH_CLIENT_ID: CONFIDENTIAL.id,
    OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret,
  });
  listener = example.app.listen(port, '127.0.0.1');
  await new Promise((resolve) => listener.once('listening', resolve));
  as = await oauth.processDiscoveryResponse(new URL(base), await oauth.discoveryRequest(new URL(base), insecure));
});

afterAll(async () => {
  listener?.closeAllConnections();
  await new Promise((resolve) => listener?.close(resolve));
  await example?.close();
});

/** A browser: keeps cookies, never follows redirects by itself. */
class Browser {
  readonly cookies = new Map<string, string>();

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const index = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, index), pair!.slice(index + 1));
    }
    return response;
  }

  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  }
}

function hidden(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** Authorization request of the public client → login page → signed in as `username` → the consent page. */
async function toConsent(browser: Browser, username: keyof typeof PASSWORDS, scope: string) {
  const request = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope, redirectUri: REDIRECT });
  const started = await browser.fetch(request.url);
  expect(started.status).toBe(303);
  const loginHTML = await (await browser.fetch(started.headers.get('location')!)).text();
  const login = await browser.post(`${base}/oauth/login`, { interaction: hidden(loginHTML, 'interaction'), csrf: hidden(loginHTML, 'csrf'), username, password: PASSWORDS[username] });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toContain('/oauth/consent?interaction=');
  const html = await (await browser.fetch(login.headers.get('location')!)).text();
  return { ...request, html };
}

/** Presses Allow on the consent page and redeems the code; asserts 200. */
async function allow(browser: Browser, consent: Awaited<ReturnType<typeof toConsent>>): Promise<Tokens> {
  const allowed = await browser.post(`${base}/oauth/consent`, { interaction: hidden(consent.html, 'interaction'), csrf: hidden(consent.html, 'csrf'), decision: 'allow' });
  expect(allowed.status).toBe(303);
  const code = new URL(allowed.headers.get('location')!).searchParams.get('code');
  expect(code, allowed.headers.get('location')!).toBeTruthy();
  return tokenRequest({ grant_type: 'authorization_code', code: code!, code_verifier: consent.codeVerifier, redirect_uri: REDIRECT });
}

async function tokenRequest(params: Record<string, string>): Promise<Tokens> {
  const response = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: PUBLIC_CLIENT_ID, ...params }),
  });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function adminStatsStatus(accessToken: string): Promise<number> {
  return (await postMcp(base, accessToken, ADMIN_STATS)).status;
}

describe('mcp:admin belongs to users with the admin role', () => {
  it('SEC-SCOPE-10: demo asking for mcp:admin: the consent page does not list it, the token is granted without it, admin_stats answers 403', async () => {
    const browser = new Browser();
    const consent = await toConsent(browser, 'demo', 'mcp:tools mcp:admin');
    expect(consent.html).toContain('mcp:tools');
    expect(consent.html).not.toContain('mcp:admin');
    expect(consent.html).not.toContain('Administer this server');
    const tokens = await allow(browser, consent);
    expect(tokens.scope).toBe('mcp:tools');
    expect(await adminStatsStatus(tokens.access_token)).toBe(403);
  });

  it('SEC-SCOPE-11: admin asking the same: the consent page lists it, the token has it, admin_stats answers', async () => {
    const browser = new Browser();
    const consent = await toConsent(browser, 'admin', 'mcp:tools mcp:admin');
    expect(consent.html).toContain('Administer this server');
    const tokens = await allow(browser, consent);
    expect(tokens.scope).toBe('mcp:tools mcp:admin');
    const { client } = await mcpClient(base, tokens.access_token);
    try {
      const stats = await client.callTool({ name: 'admin_stats', arguments: {} });
      expect(stats.isError).toBeFalsy();
      expect(toolJSON(stats)).toMatchObject({ activeSessions: expect.any(Number) });
    } finally {
      await client.close();
    }
  });

  it('SEC-SCOPE-12: after the admin role is removed, the next refresh drops mcp:admin, and admin_stats answers 403', async () => {
    const browser = new Browser();
    const tokens = await allow(browser, await toConsent(browser, 'admin', 'mcp:tools mcp:admin'));
    const first = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(first.scope).toBe('mcp:tools mcp:admin');
    example.roles.get('admin')!.delete('admin');
    try {
      const second = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(second.scope).toBe('mcp:tools');
      expect(await adminStatsStatus(second.access_token)).toBe(403);
    } finally {
      example.roles.get('admin')!.add('admin');
    }
  });
});

describe('the public client is never approved silently', () => {
  it('SEC-CONSENT-03: after one consent, prompt=none for mcp-public-client from another loopback port gets consent_required and no code', async () => {
    const browser = new Browser();
    await allow(browser, await toConsent(browser, 'demo', 'mcp:tools'));
    // Another program on this machine, listening on port 51999, sends the signed-in browser as the same client.
    const attack = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope: 'mcp:tools', redirectUri: 'http://127.0.0.1:51999/callback' });
    attack.url.searchParams.set('prompt', 'none');
    const response = await browser.fetch(attack.url);
    expect(response.status).toBe(302);
    const callback = new URL(response.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe('http://127.0.0.1:51999/callback');
    expect(callback.searchParams.get('error')).toBe('consent_required');
    expect(callback.searchParams.has('code')).toBe(false);
  });
});

describe('introspection by the confidential client of OAUTH_CLIENT_ID', () => {
  it("SEC-INTRO-05: it sees a user's token issued to mcp-public-client (active:true with its claims); a self-registered confidential client gets active:false", async () => {
    const browser = new Browser();
    const tokens = await allow(browser, await toConsent(browser, 'demo', 'mcp:tools'));
    const introspect = (authorization: string) =>
      fetch(`${base}/oauth/introspect`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: tokens.access_token }) });
    const asConfigured = await introspect(`Basic ${btoa(`${CONFIDENTIAL.id}:${CONFIDENTIAL.secret}`)}`);
    expect(await asConfigured.json()).toMatchObject({ active: true, client_id: PUBLIC_CLIENT_ID, sub: 'demo', scope: 'mcp:tools', aud: `${base}/mcp` });
    const registered = await (
      await fetch(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'other', redirect_uris: ['https://other.example.com/cb'] }) })
    ).json();
    const asOther = await introspect(`Basic ${btoa(`${registered.client_id}:${registered.client_secret}`)}`);
    expect(await asOther.text()).toBe('{"active":false}');
  });
});

describe('OAUTH_DEV_LOGIN keeps the roles', () => {
  async function devToken(subject: string, scope: string): Promise<{ error: string | null; scope?: string }> {
    const dev = await createApp({ OAUTH_STORE: 'memory', OAUTH_DEV_LOGIN: subject });
    try {
      const verifier = oauth.generateRandomCodeVerifier();
      const query = new URLSearchParams({ response_type: 'code', client_id: PUBLIC_CLIENT_ID, redirect_uri: REDIRECT, scope, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const callback = new URL((await dev.server.request(`/oauth/authorize?${query}`)).headers.get('location')!);
      const code = callback.searchParams.get('code');
      if (!code) return { error: callback.searchParams.get('error') };
      const response = await dev.server.request('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: PUBLIC_CLIENT_ID }),
      });
      return { error: null, scope: (await response.json()).scope };
    } finally {
      await dev.close();
    }
  }

  it('SEC-SCOPE-13: OAUTH_DEV_LOGIN=demo gets no mcp:admin (invalid_scope when it is all that is asked); OAUTH_DEV_LOGIN=admin gets it', async () => {
    expect(await devToken('demo', 'mcp:tools mcp:admin')).toEqual({ error: null, scope: 'mcp:tools' });
    expect(await devToken('demo', 'mcp:admin')).toEqual({ error: 'invalid_scope' });
    expect(await devToken('someone', 'mcp:tools mcp:admin')).toEqual({ error: null, scope: 'mcp:tools' });
    expect(await devToken('admin', 'mcp:tools mcp:admin')).toEqual({ error: null, scope: 'mcp:tools mcp:admin' });
  });
});
