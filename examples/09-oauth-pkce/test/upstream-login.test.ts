// Signing in through an upstream identity provider configured from the environment: a real OpenID provider
// (oidc-provider 9 with its development login and consent pages, PKCE required; packages/e2e's helper) on
// 127.0.0.1 behind OIDC_ISSUER/OIDC_CLIENT_ID/OIDC_CLIENT_SECRET, and the example in its own process. fetch
// with a cookie jar per host plays the browser: Keyward's login page → "Sign in with Test IdP" → the IdP's
// pages → Keyward's callback → consent → the MCP client's callback with a code.
// Auth0 is only checked for its button and its settings: its discovery needs the real tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startTestIdP, type TestIdP } from '../../../packages/e2e/src/idp.js';
import { createApp } from '../src/app.js';
import { authorizationRequest, insecure, PUBLIC_CLIENT_ID, startExample, whoami, type RunningExample } from './support.js';

const IDP_CLIENT = { clientId: 'keyward-example', clientSecret: 'keyward-example-idp-secret' };
const ENCRYPTION_SECRET = 'an-encryption-secret-of-at-least-32-characters';
const redirectUri = 'http://127.0.0.1:51010/callback';
const memory = { OAUTH_STORE: 'memory' };

/** A browser: cookies per host (Keyward on localhost, the IdP on 127.0.0.1), never follows redirects by itself. */
class Browser {
  readonly #jars = new Map<string, Map<string, string>>();

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const { host } = new URL(url);
    const jar = this.#jars.get(host) ?? new Map<string, string>();
    this.#jars.set(host, jar);
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }

  post(url: string | URL, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  }
}

function hidden(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
}

/** Through the IdP's development pages (any password works) until it redirects to `until`. */
async function idpLogin(browser: Browser, location: string, until: string, login: string): Promise<URL> {
  let request: { url: URL; form?: Record<string, string> } = { url: new URL(location) };
  for (let hop = 0; hop < 20; hop++) {
    if (request.url.href.startsWith(until)) return request.url;
    const response = request.form ? await browser.post(request.url, request.form) : await browser.fetch(request.url);
    const redirect = response.headers.get('location');
    if (redirect) {
      request = { url: new URL(redirect, request.url) };
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = hidden(html, 'prompt');
    if (response.status !== 200 || !action || !prompt) throw new Error(`unexpected IdP page (${response.status}): ${html.slice(0, 300)}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt };
    request = { url: new URL(action.replaceAll('&amp;', '&'), request.url), form };
  }
  throw new Error('too many redirects');
}

describe('OIDC_ISSUER: sign in through an OpenID provider (oidc-provider on 127.0.0.1)', () => {
  let idp: TestIdP;
  let example: RunningExample;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    idp = await startTestIdP();
    example = await startExample({
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: IDP_CLIENT.clientId,
      OIDC_CLIENT_SECRET: IDP_CLIENT.clientSecret,
      OIDC_DISPLAY_NAME: 'Test IdP',
      OIDC_ALLOW_INSECURE_ISSUER: '1',
      KEYWARD_ENCRYPTION_SECRET: ENCRYPTION_SECRET,
    });
    // The callback URL is known once the example listens; server.ts prints it to register at the provider.
    idp.start({ ...IDP_CLIENT, redirectUri: `${example.base}/oauth/callback/oidc` });
    const issuer = new URL(example.base);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });

  afterAll(async () => {
    await example?.stop();
    await idp?.close();
  });

  it('prints the callback to register and warns that the provider is reached over http', () => {
    expect(example.output()).toContain(`sign in with          Test IdP, callback ${example.base}/oauth/callback/oidc`);
    expect(example.output()).toMatch(/warning: OIDC_ALLOW_INSECURE_ISSUER: .*local development only/);
    expect(example.output()).not.toMatch(/KEYWARD_ENCRYPTION_SECRET is not set/);
  });

  it('login page → Test IdP → consent → code: the subject is oidc:<upstream sub>, and the IdP’s tokens stay on the server', async () => {
    const client: oauth.Client = { client_id: PUBLIC_CLIENT_ID };
    const browser = new Browser();
    const request = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope: 'mcp:tools openid profile email', redirectUri });
    const started = await browser.fetch(request.url);
    expect(started.status).toBe(303);
    const loginPage = await browser.fetch(started.headers.get('location')!);
    const html = await loginPage.text();
    expect(html).toMatch(/<button [^>]*name="provider" value="oidc"[^>]*>Sign in with Test IdP<\/button>/);
    expect(html).toContain('<label for="password">Password</label>'); // the demo user's form stays

    const toIdP = await browser.post(`${example.base}/oauth/login`, { interaction: hidden(html, 'interaction'), csrf: hidden(html, 'csrf'), provider: 'oidc' });
    expect(toIdP.status).toBe(303);
    expect(toIdP.headers.get('location')).toMatch(new RegExp(`^${idp.issuer}/`));
    const callback = await idpLogin(browser, toIdP.headers.get('location')!, `${example.base}/oauth/callback/oidc`, 'alice');
    expect(callback.searchParams.get('code')).toBeTruthy();

    const signedIn = await browser.fetch(callback);
    expect(signedIn.status).toBe(303);
    const consent = await browser.fetch(signedIn.headers.get('location')!);
    const consentHTML = await consent.text();
    expect(consentHTML).toContain('Upstream alice'); // the name from the IdP's UserInfo
    const allowed = await browser.post(`${example.base}/oauth/consent`, { interaction: hidden(consentHTML, 'interaction'), csrf: hidden(consentHTML, 'csrf'), decision: 'allow' });
    expect(allowed.status).toBe(303);

    const params = oauth.validateAuthResponse(as, client, new URL(allowed.headers.get('location')!), request.state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, request.codeVerifier, insecure);
    const body = await response.clone().text();
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({ sub: 'oidc:alice', name: 'Upstream alice', email: 'alice@idp.example.test' });
    expect(await whoami(example.base, tokens.access_token)).toMatchObject({ sub: 'oidc:alice', client_id: PUBLIC_CLIENT_ID });

    // The IdP did issue tokens to Keyward; none of them reaches the MCP client.
    const upstream = idp.tokenResponses.flatMap((answer) => [answer.access_token, answer.id_token, answer.refresh_token]).filter((token) => typeof token === 'string') as string[];
    expect(upstream.length).toBeGreaterThan(0);
    for (const token of upstream) expect(body).not.toContain(token);
  });
});

describe('identity providers from the environment (createApp in-process)', () => {
  const auth0 = { AUTH0_DOMAIN: 'keyward-example.us.auth0.com', AUTH0_CLIENT_ID: 'auth0-client', AUTH0_CLIENT_SECRET: 'auth0-secret' };

  it('AUTH0_* adds a "Sign in with Auth0" button whose callback is /oauth/callback/auth0; without KEYWARD_ENCRYPTION_SECRET it warns', async () => {
    const example = await createApp({ ...memory, PORT: '4010', ...auth0 });
    try {
      expect(example.loginProviders).toEqual([{ id: 'auth0', displayName: 'Auth0', callbackUrl: 'http://localhost:4010/oauth/callback/auth0' }]);
      expect(example.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^KEYWARD_ENCRYPTION_SECRET is not set: .*not kept/)]));
      const challenge = await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier());
      const started = await example.server.request(
        `/oauth/authorize?response_type=code&client_id=${PUBLIC_CLIENT_ID}&redirect_uri=${encodeURIComponent(redirectUri)}&code_challenge=${challenge}&code_challenge_method=S256`,
      );
      expect(started.status).toBe(303);
      const cookie = started.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
      const login = await example.server.request(new URL(started.headers.get('location')!).pathname + new URL(started.headers.get('location')!).search, { headers: { cookie } });
      expect(await login.text()).toMatch(/<button [^>]*name="provider" value="auth0"[^>]*>Sign in with Auth0<\/button>/);
    } finally {
      await example.close();
    }
  });

  it('with OAUTH_DEV_LOGIN the providers are unused, and it says so', async () => {
    const example = await createApp({ ...memory, OAUTH_DEV_LOGIN: 'demo', ...auth0 });
    expect(example.loginProviders).toEqual([]);
    expect(example.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/identity providers \(Auth0\) are not used/)]));
    await example.close();
  });

  it('refuses half a provider, plain http to a provider that is not loopback, and a short encryption secret', async () => {
    await expect(createApp({ ...memory, AUTH0_DOMAIN: 'tenant.auth0.com', AUTH0_CLIENT_ID: 'id' })).rejects.toThrow(/AUTH0_CLIENT_SECRET is not/);
    await expect(createApp({ ...memory, OIDC_CLIENT_SECRET: 'secret' })).rejects.toThrow(/OIDC_ISSUER, OIDC_CLIENT_ID are not/);
    await expect(createApp({ ...memory, OIDC_ALLOW_INSECURE_ISSUER: '1' })).rejects.toThrow(/OIDC_ISSUER is not/);
    await expect(createApp({ ...memory, OIDC_ISSUER: 'http://sso.example.com', OIDC_CLIENT_ID: 'id', OIDC_ALLOW_INSECURE_ISSUER: '1' })).rejects.toThrow(/only for a provider on a loopback address/);
    await expect(createApp({ ...memory, ...auth0, KEYWARD_ENCRYPTION_SECRET: 'too-short' })).rejects.toThrow(/^KEYWARD_ENCRYPTION_SECRET is too short \(9 characters\): use at least 32/);
  });
});
