// The rows of REQUIREMENTS.md A6 (authorization UI) and A19 (OpenID Connect basics) that need the server in
// this process (server.revokeGrant, clients with and without the refresh_token grant), driven through core's
// login and consent pages in headless Chromium: express + keyward(server) + localUsers, issuer
// http://localhost:<port>. Each test signs in as its own user, so none comes near the per-user attempt limit.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { localUsers } from '@keyward/upstream';
import { startCallbackServer, type CallbackServer } from '../src/callback-server.js';
import { launchChromium, runBrowserSuites } from '../src/chromium.js';
import { startKeyward, TEST_PASSWORD_COST, type RunningKeyward } from '../src/login-server.js';
import {
  authorizationRequest,
  decodeJWT,
  endpoint,
  introspect,
  redeemCode,
  tokenRequest,
  verifyWithJWKS,
  type AuthorizationRequest,
  type AuthorizationRequestOptions,
  type TokenResponse,
} from '../src/oauth-client.js';

const PASSWORD = 'e2e rows password';
const USERS = ['revoker', 'dcr-user', 'silent', 'offline', 'no-refresh'];
const CONFIDENTIAL = { clientId: 'e2e-confidential', clientSecret: 'e2e-confidential-secret-0123456789' };
const NO_REFRESH = { clientId: 'e2e-no-refresh', clientSecret: 'e2e-no-refresh-secret-0123456789' };
const PUBLIC_CLIENT_ID = 'mcp-public-client';
const LOOPBACK = 'http://127.0.0.1/callback';

// The server's clock: the wall clock, moved on by the tests that need time to pass (never a sleep).
let elapsed = 0;
const clock = () => Date.now() + elapsed;

describe.runIf(runBrowserSuites)('A6 and A19 rows through the login pages (in-process Keyward, headless Chromium)', () => {
  let browser: Browser;
  let callback: CallbackServer;
  let keyward: RunningKeyward;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [browser, callback, keyward] = await Promise.all([
      launchChromium(),
      startCallbackServer(),
      startKeyward({
        clock,
        configure: () => ({
          scopes: ['mcp:tools', 'openid', 'profile', 'offline_access'],
          clients: [
            { clientId: PUBLIC_CLIENT_ID, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris: [LOOPBACK] },
            { ...CONFIDENTIAL, clientName: 'E2E confidential client', redirectUris: [LOOPBACK] },
            { ...NO_REFRESH, clientName: 'E2E client without refresh', redirectUris: [LOOPBACK], grantTypes: ['authorization_code'] },
          ],
          login: { users: localUsers(USERS.map((username) => ({ username, password: PASSWORD, claims: { name: `User ${username}` } })), { cost: TEST_PASSWORD_COST }) },
        }),
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), callback?.close(), keyward?.close()]);
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  const issuer = () => keyward.issuer;
  const onKeyward = (pathname: string) => (url: URL) => url.origin === new URL(issuer()).origin && url.pathname === pathname;

  function request(clientId: string, scope: string, extra: Partial<AuthorizationRequestOptions> = {}): Promise<AuthorizationRequest> {
    return authorizationRequest({ issuer: issuer(), clientId, redirectUri: callback.redirectUri, scope, ...extra });
  }

  /** From the login page (already loaded) to the next page: the consent page, or the client's callback. */
  async function signIn(username: string): Promise<void> {
    await page.waitForURL(onKeyward('/oauth/login'));
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function consentText(): Promise<string> {
    await page.waitForURL(onKeyward('/oauth/consent'));
    return page.locator('main').innerText();
  }

  async function allow(authorization: AuthorizationRequest): Promise<string> {
    await page.getByRole('button', { name: 'Allow' }).click();
    const landed = await callback.waitFor(authorization.state);
    const code = landed.searchParams.get('code');
    if (!code) throw new Error(`no code: ${landed.href}`);
    return code;
  }

  async function redeem(authorization: AuthorizationRequest, code: string, secret?: string): Promise<TokenResponse> {
    const response = await redeemCode(issuer(), authorization, code, secret);
    expect(response.status).toBe(200);
    return (await response.json()) as TokenResponse;
  }

  it('AUTHZ-UI-03: the consent page names the client, the redirect host and the scopes; revoking the grant (server.revokeGrant) makes its access and refresh tokens inactive', async () => {
    const authorization = await request(CONFIDENTIAL.clientId, 'openid mcp:tools');
    await page.goto(authorization.url);
    await signIn('revoker');
    const text = await consentText();
    expect(text).toContain('E2E confidential client wants access to your account (User revoker)');
    expect(text).toContain(`return to 127.0.0.1:${callback.port}`);
    expect(text).toContain("Use this server's tools on your behalf (mcp:tools)");
    expect(text).toContain('Confirm who you are (openid)');
    const tokens = await redeem(authorization, await allow(authorization), CONFIDENTIAL.clientSecret);
    expect(tokens.refresh_token).toBeTruthy();

    expect(await introspect(issuer(), CONFIDENTIAL, tokens.access_token)).toMatchObject({ active: true, sub: 'local:revoker', client_id: CONFIDENTIAL.clientId });
    expect(await introspect(issuer(), CONFIDENTIAL, tokens.refresh_token!)).toMatchObject({ active: true });

    // The grant id is the access token's grant_id claim.
    const grantId = decodeJWT(tokens.access_token).payload.grant_id;
    expect(typeof grantId).toBe('string');
    await keyward.server.revokeGrant(String(grantId));

    expect(await introspect(issuer(), CONFIDENTIAL, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(issuer(), CONFIDENTIAL, tokens.refresh_token!)).toEqual({ active: false });
    const refreshed = await tokenRequest(issuer(), CONFIDENTIAL, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(400);
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
    const userinfo = await fetch(endpoint(issuer(), '/oauth/userinfo'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
  });

  it('AUTHZ-UI-03, AUTHZ-UI-04, SEC-CONSENT-01: a self-registered (DCR) public client is marked unverified and asked for consent every time, and so is a configured public client; a confidential client is not', async () => {
    const registered = await fetch(endpoint(issuer(), '/oauth/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Totally Official Client', redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
    });
    expect(registered.status).toBe(201);
    const { client_id: dcrClient } = (await registered.json()) as { client_id: string };

    const first = await request(dcrClient, 'mcp:tools');
    await page.goto(first.url);
    await signIn('dcr-user');
    const text = await consentText();
    expect(text).toContain('Totally Official Client wants access');
    expect(text).toContain(`This application registered itself. Its name is not verified: check that you expect to be sent to 127.0.0.1:${callback.port}.`);
    await redeem(first, await allow(first));

    // Same browser (still signed in), same client, same scopes: the consent page again, not a silent code.
    const second = await request(dcrClient, 'mcp:tools');
    await page.goto(second.url);
    expect(await consentText()).toContain('This application registered itself.');
    expect(callback.withState(second.state)).toEqual([]);
    await redeem(second, await allow(second));

    // The configured public client is not marked unverified, but any local program can pose as it, so it
    // is asked again too.
    const configured = await request(PUBLIC_CLIENT_ID, 'mcp:tools');
    await page.goto(configured.url);
    expect(await consentText()).not.toContain('registered itself');
    await allow(configured);
    const again = await request(PUBLIC_CLIENT_ID, 'mcp:tools');
    await page.goto(again.url);
    expect(await consentText()).not.toContain('registered itself');
    expect(callback.withState(again.state)).toEqual([]);

    // The confidential client, once consented, comes straight back with a code.
    const confidential = await request(CONFIDENTIAL.clientId, 'mcp:tools');
    await page.goto(confidential.url);
    await consentText();
    await allow(confidential);
    const silent = await request(CONFIDENTIAL.clientId, 'mcp:tools');
    await page.goto(silent.url);
    expect((await callback.waitFor(silent.state)).searchParams.get('code')).toBeTruthy();
  });

  it('AUTHZ-OIDC-03: prompt=none never shows a page (login_required at the callback); max_age=0 asks for the password again; auth_time in the ID token', async () => {
    const shown: string[] = [];
    page.on('response', (response) => {
      if (response.request().isNavigationRequest() && response.status() === 200 && response.url().startsWith(issuer())) shown.push(response.url());
    });
    const silent = await request(CONFIDENTIAL.clientId, 'openid', { prompt: 'none' });
    await page.goto(silent.url);
    const refused = await callback.waitFor(silent.state);
    expect(refused.searchParams.get('error')).toBe('login_required');
    expect(refused.searchParams.get('iss')).toBe(issuer());
    expect(shown).toEqual([]);

    const login = await request(CONFIDENTIAL.clientId, 'openid');
    await page.goto(login.url);
    await signIn('silent');
    await consentText();
    const firstTokens = await redeem(login, await allow(login), CONFIDENTIAL.clientSecret);
    const firstAuthTime = decodeJWT(firstTokens.id_token!).payload.auth_time as number;
    expect(typeof firstAuthTime).toBe('number');

    // Signed in and consented: prompt=none now answers with a code, still without a page.
    shown.length = 0;
    const silentAgain = await request(CONFIDENTIAL.clientId, 'openid', { prompt: 'none' });
    await page.goto(silentAgain.url);
    expect((await callback.waitFor(silentAgain.state)).searchParams.get('code')).toBeTruthy();
    expect(shown).toEqual([]);

    // max_age=0: the session is too old by definition, so the login page comes back. auth_time counts whole
    // seconds, so the server's clock moves on one second to tell the new sign-in from the first.
    elapsed += 1000;
    const fresh = await request(CONFIDENTIAL.clientId, 'openid', { maxAge: 0 });
    await page.goto(fresh.url);
    await signIn('silent');
    const code = (await callback.waitFor(fresh.state)).searchParams.get('code');
    const freshTokens = await redeem(fresh, code!, CONFIDENTIAL.clientSecret);
    expect(decodeJWT(freshTokens.id_token!).payload.auth_time as number).toBeGreaterThan(firstAuthTime);
  });

  it('AUTHZ-OIDC-05 (project policy, docs/decisions.md): a refresh token is issued to a client registered for the refresh_token grant with or without offline_access, never to one that is not; offline_access is always put to the user', async () => {
    // Registered for refresh_token, no offline_access requested: a refresh token all the same.
    const plain = await request(CONFIDENTIAL.clientId, 'openid mcp:tools');
    await page.goto(plain.url);
    await signIn('offline');
    expect(await consentText()).not.toContain('offline_access');
    const tokens = await redeem(plain, await allow(plain), CONFIDENTIAL.clientSecret);
    expect(tokens.refresh_token).toBeTruthy();

    // The consent given covers openid mcp:tools only: asking for offline_access as well shows the page again,
    // with the scope in words.
    const offline = await request(CONFIDENTIAL.clientId, 'openid mcp:tools offline_access');
    await page.goto(offline.url);
    expect(await consentText()).toContain('Stay connected while you are away (offline_access)');
    const offlineTokens = await redeem(offline, await allow(offline), CONFIDENTIAL.clientSecret);
    expect(offlineTokens.refresh_token).toBeTruthy();
    expect(offlineTokens.scope?.split(' ')).toContain('offline_access');

    // A client not registered for refresh_token gets none, even with offline_access consented.
    await context.close();
    context = await browser.newContext();
    page = await context.newPage();
    const noRefresh = await request(NO_REFRESH.clientId, 'openid offline_access');
    await page.goto(noRefresh.url);
    await signIn('no-refresh');
    expect(await consentText()).toContain('Stay connected while you are away (offline_access)');
    const none = await redeem(noRefresh, await allow(noRefresh), NO_REFRESH.clientSecret);
    expect(none.refresh_token).toBeUndefined();
    expect(none.id_token).toBeTruthy();
    await verifyWithJWKS(none.id_token!, endpoint(issuer(), '/oauth/keys'), ['RS256']);
  });
});
