// The example server without OAUTH_DEV_LOGIN: the authorization endpoint sends the browser to core's built-in
// login page, the seeded user `demo` signs in with the password printed at start, and the consent page's
// "Allow" finishes with a code ("Deny" with access_denied). Driven with fetch and a tiny cookie jar, the way a
// browser would. JWT_SECRET is set too, so the access tokens that come out are HS256.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { authorizationRequest, insecure, PUBLIC_CLIENT_ID, startExample, whoami, type RunningExample } from './support.js';

const client: oauth.Client = { client_id: PUBLIC_CLIENT_ID };
const redirectUri = 'http://127.0.0.1:51000/callback';
const SESSION_TIMEOUT = 120;

let example: RunningExample;
let as: oauth.AuthorizationServer;
let password: string;

beforeAll(async () => {
  example = await startExample({ JWT_SECRET: 'an-hs256-secret-of-at-least-32-characters', OAUTH_SESSION_TIMEOUT: String(SESSION_TIMEOUT) });
  const issuer = new URL(example.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  password = /demo \/ (\S+) \(generated for this run/.exec(example.output())?.[1] ?? '';
});

afterAll(async () => {
  await example?.stop();
});

/** A browser: keeps cookies, never follows redirects by itself. */
class Browser {
  readonly cookies = new Map<string, string>();
  setCookies: string[] = [];

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      this.setCookies.push(cookie);
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

/** Starts an authorization and follows it to the login page. */
async function startLogin(browser: Browser, scope = 'mcp:tools openid') {
  const request = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope, redirectUri });
  const response = await browser.fetch(request.url);
  expect(response.status).toBe(303);
  const login = new URL(response.headers.get('location')!);
  expect(`${login.origin}${login.pathname}`).toBe(`${example.base}/oauth/login`);
  const page = await browser.fetch(login);
  const html = await page.text();
  return { ...request, page, html, action: `${example.base}/oauth/login`, interaction: hidden(html, 'interaction'), csrf: hidden(html, 'csrf') };
}

/** Signs in as demo and follows the redirect to the consent page. */
async function signIn(browser: Browser, scope?: string) {
  const login = await startLogin(browser, scope);
  const response = await browser.post(login.action, { interaction: login.interaction, csrf: login.csrf, username: 'demo', password });
  expect(response.status).toBe(303);
  const consent = await browser.fetch(response.headers.get('location')!);
  const html = await consent.text();
  return { ...login, consent, consentHTML: html, consentCsrf: hidden(html, 'csrf') };
}

describe('start-up', () => {
  it('prints a generated demo password and warns that HS256 is not the recommended signing', () => {
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(example.output()).toMatch(/warning: JWT_SECRET: .*asymmetric keys .* are the default and recommended/);
  });
});

describe("core's login and consent pages", () => {
  it('AUTHZ-UI-01: the login page has Username, Password and Sign in, and the page security headers', async () => {
    const { page, html } = await startLogin(new Browser());
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toMatch(/<button [^>]*>Sign in<\/button>/);
    expect(html).toContain('MCP public client');
  });

  it('gives one generic error for a wrong password and for an unknown user', async () => {
    const browser = new Browser();
    const { action, interaction, csrf } = await startLogin(browser);
    for (const credentials of [{ username: 'demo', password: 'wrong' }, { username: 'nobody', password }]) {
      const page = await browser.post(action, { interaction, csrf, ...credentials });
      expect(page.status).toBe(401);
      expect(page.headers.get('location')).toBeNull();
      expect(await page.text()).toContain('The username or password is incorrect.');
    }
  });

  it('AUTHZ-UI-02: a login POST without the CSRF token of this browser issues nothing', async () => {
    const browser = new Browser();
    const { action, interaction } = await startLogin(browser);
    const response = await browser.post(action, { interaction, csrf: 'forged', username: 'demo', password });
    expect(response.status).toBe(403);
    expect(response.headers.get('location')).toBeNull();
  });

  it('AUTHZ-AZ-06, AUTHZ-UI-03: sign in (303, session cookie for OAUTH_SESSION_TIMEOUT), Allow on the consent page → code → HS256 token that /mcp accepts', async () => {
    const browser = new Browser();
    const { consent, consentHTML, consentCsrf, interaction, state, codeVerifier } = await signIn(browser, 'mcp:tools openid');
    expect(browser.setCookies.find((cookie) => cookie.startsWith('keyward-session='))).toMatch(new RegExp(`HttpOnly; SameSite=Lax; Max-Age=${SESSION_TIMEOUT}$`));
    expect(consent.status).toBe(200);
    expect(consentHTML).toMatch(/>Allow<\/button>/);
    expect(consentHTML).toMatch(/>Deny<\/button>/);
    expect(consentHTML).toContain('MCP public client');
    expect(consentHTML).toContain('mcp:tools');

    const allowed = await browser.post(`${example.base}/oauth/consent`, { interaction, csrf: consentCsrf, decision: 'allow' });
    expect(allowed.status).toBe(303);
    const params = oauth.validateAuthResponse(as, client, new URL(allowed.headers.get('location')!), state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, codeVerifier, insecure),
    );
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idToken.sub).toBe('demo');
    // Only openid was granted, so the profile claims of the login stay out of the ID token (OIDC Core §5.4).
    expect(idToken).not.toHaveProperty('name');
    expect(JSON.parse(Buffer.from(tokens.access_token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(await whoami(example.base, tokens.access_token)).toMatchObject({ sub: 'demo', client_id: PUBLIC_CLIENT_ID });

    // The public client is not trusted (any local program can pose as it): the next sign-in for the same
    // scopes shows the consent page again instead of sending a code silently.
    const again = new Browser();
    const login = await startLogin(again, 'mcp:tools openid');
    const back = await again.post(login.action, { interaction: login.interaction, csrf: login.csrf, username: 'demo', password });
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toContain('/oauth/consent?interaction=');
  });

  it('Deny on the consent page sends the browser back with access_denied and no code', async () => {
    const browser = new Browser();
    // Scopes not consented before, so the consent page is shown.
    const { interaction, consentCsrf, state } = await signIn(browser, 'mcp:resources');
    const denied = await browser.post(`${example.base}/oauth/consent`, { interaction, csrf: consentCsrf, decision: 'deny' });
    expect(denied.status).toBe(303);
    const callback = new URL(denied.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.has('code')).toBe(false);
  });
});
