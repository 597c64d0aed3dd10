// Signing in THROUGH upstream identity providers, end to end in headless Chromium:
//
// - a real OpenID provider (oidc-provider 9, devInteractions, PKCE required, one confidential client whose
//   redirect URI is Keyward's `<issuer>/oauth/callback/oidc`) on 127.0.0.1, behind @keyward/upstream's
//   `oidcProvider`: Keyward's login page → "Sign in with Test IdP" → the IdP's login and consent pages → back
//   at Keyward → Keyward's consent page → the MCP client's callback. The upstream identity becomes the local
//   subject `oidc:<upstream sub>`, and the upstream tokens stay on the server (encrypted on the grant);
//   - Firebase through Keyward's token login endpoint (POST /oauth/login/token): an ID token signed by a key
//   made here and served from a local JWK Set, posted by a page of the application's own.
//
// Keyward runs in this process (express + keyward(server)) at http://localhost:<port>, the IdP at
// http://127.0.0.1:<port>, so the IdP's redirect back to Keyward is cross-site, as in production.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { escapeHTML } from '@keyward/core/protocol';
import { firebaseProvider, oidcProvider } from '@keyward/upstream';
import { startCallbackServer, type CallbackServer } from '../src/callback-server.js';
import { launchChromium, runBrowserSuites } from '../src/chromium.js';
import { startFirebaseKeys, type FirebaseKeys } from '../src/firebase-keys.js';
import { startTestIdP, upstreamProfile, type TestIdP } from '../src/idp.js';
import { startKeyward, type RunningKeyward } from '../src/login-server.js';
import { authorizationRequest, decodeJWT, endpoint, redeemCode, verifyWithJWKS, type AuthorizationRequest, type TokenResponse } from '../src/oauth-client.js';

const CLIENT_ID = 'mcp-public-client';
const IDP_CLIENT = { clientId: 'keyward-e2e', clientSecret: 'keyward-e2e-client-secret' };
const FIREBASE_PROJECT = 'keyward-e2e';
const SCOPE = 'openid profile email mcp:tools';

describe.runIf(runBrowserSuites)('login through upstream identity providers (headless Chromium)', () => {
  let browser: Browser;
  let callback: CallbackServer;
  let idp: TestIdP;
  let firebase: FirebaseKeys;
  let keyward: RunningKeyward;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [browser, callback, idp, firebase] = await Promise.all([launchChromium(), startCallbackServer(), startTestIdP(), startFirebaseKeys()]);
    keyward = await startKeyward({
      configure: () => ({
        scopes: ['openid', 'profile', 'email', 'mcp:tools'],
        // Trusted, so that a remembered consent applies to this public client (the second sign-in below).
        clients: [{ clientId: CLIENT_ID, clientName: 'E2E MCP client', tokenEndpointAuthMethod: 'none', redirectUris: ['http://127.0.0.1/callback'], trusted: true }],
        login: {
          providers: [
            oidcProvider({ issuer: idp.issuer, ...IDP_CLIENT, displayName: 'Test IdP', allowInsecureRequests: true, fetchUserinfo: true }),
            firebaseProvider({ projectId: FIREBASE_PROJECT, jwksUri: firebase.jwksUri }),
          ],
          encryptionSecret: 'e2e-encryption-secret-at-least-32-characters',
        },
      }),
      // The application's own Firebase sign-in page: in production the Firebase web SDK fills in the ID token
      // (user.getIdToken()); here the test types one in. It posts to Keyward's token login endpoint with the
      // pending interaction and the CSRF token of Keyward's login page.
      routes: (app, issuer) =>
        app.get('/firebase-sign-in', (req, res) => {
          const field = (name: string) => escapeHTML(typeof req.query[name] === 'string' ? req.query[name] : '');
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
            `<!doctype html><html lang="en"><title>Sign in with Firebase</title><main><h1>Sign in with Firebase</h1>` +
              `<form method="post" action="${issuer}/oauth/login/token">` +
              `<input type="hidden" name="interaction" value="${field('interaction')}"><input type="hidden" name="csrf" value="${field('csrf')}">` +
              `<input type="hidden" name="provider" value="firebase">` +
              `<label for="token">Firebase ID token</label><input id="token" name="token" required>` +
              `<button type="submit">Continue</button></form></main></html>`,
          );
        }),
    });
    idp.start({ ...IDP_CLIENT, redirectUri: `${keyward.issuer}/oauth/callback/oidc` });
  });

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), callback?.close(), idp?.close(), firebase?.close(), keyward?.close()]);
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  function request(nonce?: string): Promise<AuthorizationRequest> {
    return authorizationRequest({ issuer: keyward.issuer, clientId: CLIENT_ID, redirectUri: callback.redirectUri, scope: SCOPE, resource: `${keyward.issuer}/mcp`, ...(nonce && { nonce }) });
  }

  /** On Keyward's consent page: checks who is named, clicks Allow, redeems the code. */
  async function allowAndRedeem(authorization: AuthorizationRequest, userName: string): Promise<TokenResponse> {
    await page.waitForURL((url) => url.origin === new URL(keyward.issuer).origin && url.pathname === '/oauth/consent');
    expect(await page.locator('main').innerText()).toContain(`E2E MCP client wants access to your account (${userName})`);
    await page.getByRole('button', { name: 'Allow' }).click();
    const landed = await callback.waitFor(authorization.state);
    expect(landed.searchParams.get('iss')).toBe(keyward.issuer);
    const response = await redeemCode(keyward.issuer, authorization, landed.searchParams.get('code') ?? '');
    expect(response.status).toBe(200);
    return (await response.json()) as TokenResponse;
  }

  async function userinfo(accessToken: string): Promise<Record<string, unknown>> {
    const response = await fetch(endpoint(keyward.issuer, '/oauth/userinfo'), { headers: { authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  it('generic OIDC: Keyward login page → the IdP login and consent → Keyward consent → code; the subject is oidc:<upstream sub>, claims from the IdP, no upstream token reaches the client', async () => {
    const authorization = await request('federation-nonce');
    await page.goto(authorization.url);
    // Only upstream providers are configured: one button, no password form.
    expect(await page.getByLabel('Username').count()).toBe(0);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();

    // oidc-provider's development pages: any login, any password, then its consent.
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    // Back at Keyward (its /oauth/callback/oidc exchanged the code and read UserInfo), then its consent page.
    const profile = upstreamProfile('alice');
    const tokens = await allowAndRedeem(authorization, String(profile.name));

    const id = await verifyWithJWKS(tokens.id_token!, endpoint(keyward.issuer, '/oauth/keys'), ['RS256']);
    expect(id.payload).toMatchObject({ iss: keyward.issuer, sub: 'oidc:alice', aud: CLIENT_ID, nonce: 'federation-nonce', name: profile.name, email: profile.email });
    expect(await userinfo(tokens.access_token)).toEqual({ sub: 'oidc:alice', name: profile.name, preferred_username: 'alice', email: profile.email, email_verified: true });

    // The client holds Keyward's tokens only: a Keyward JWT for the MCP resource, none of the IdP's tokens.
    const access = await verifyWithJWKS(tokens.access_token, endpoint(keyward.issuer, '/oauth/keys'), ['ES256']);
    expect(access.header.typ).toBe('at+jwt');
    expect(access.payload).toMatchObject({ iss: keyward.issuer, sub: 'oidc:alice', client_id: CLIENT_ID, aud: `${keyward.issuer}/mcp` });
    expect(idp.tokenResponses).toHaveLength(1);
    const upstream = idp.tokenResponses[0]!;
    const upstreamValues = ['access_token', 'id_token', 'refresh_token'].map((name) => upstream[name]).filter((value): value is string => typeof value === 'string');
    expect(upstreamValues.length).toBeGreaterThanOrEqual(2);
    const issued = JSON.stringify(tokens);
    for (const value of upstreamValues) expect(issued).not.toContain(value);
    expect(Object.keys(tokens).sort()).toEqual(['access_token', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type']);
    // …and the server keeps them only encrypted (encryptionSecret), on the grant.
    const grant = await keyward.store.getGrant(String(access.payload.grant_id));
    expect(grant?.subject).toBe('oidc:alice');
    expect(typeof grant?.upstreamTokens).toBe('string');
    const jwe = String(grant?.upstreamTokens).split('.');
    expect(jwe).toHaveLength(5);
    expect(JSON.parse(Buffer.from(jwe[0]!, 'base64url').toString())).toEqual({ alg: 'dir', enc: 'A256GCM' });
    for (const value of upstreamValues) expect(String(grant?.upstreamTokens)).not.toContain(value);

    // The same upstream user signing in again (a new browser) maps to the same local subject.
    await context.close();
    context = await browser.newContext();
    page = await context.newPage();
    const again = await request();
    await page.goto(again.url);
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('another password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    // Consent to these scopes is remembered for the configured client: straight back to the client.
    const landed = await callback.waitFor(again.state);
    const second = (await (await redeemCode(keyward.issuer, again, landed.searchParams.get('code') ?? '')).json()) as TokenResponse;
    expect(decodeJWT(second.access_token).payload.sub).toBe('oidc:alice');
  });

  it("Firebase: the app's page posts an ID token to /oauth/login/token with the interaction and CSRF token → Keyward consent → code; the subject is firebase:<uid>", async () => {
    const authorization = await request('firebase-nonce');
    await page.goto(authorization.url);
    const interaction = await page.locator('input[name="interaction"]').inputValue();
    const csrf = await page.locator('input[name="csrf"]').inputValue();
    await page.goto(`${keyward.issuer}/firebase-sign-in?${new URLSearchParams({ interaction, csrf })}`);
    await page.getByLabel('Firebase ID token').fill(firebase.idToken(FIREBASE_PROJECT, 'uid-e2e', { name: 'Fire Base', email: 'fire@example.test', email_verified: true }));
    await page.getByRole('button', { name: 'Continue' }).click();

    const tokens = await allowAndRedeem(authorization, 'Fire Base');
    const id = await verifyWithJWKS(tokens.id_token!, endpoint(keyward.issuer, '/oauth/keys'), ['RS256']);
    expect(id.payload).toMatchObject({ iss: keyward.issuer, sub: 'firebase:uid-e2e', aud: CLIENT_ID, nonce: 'firebase-nonce' });
    expect(await userinfo(tokens.access_token)).toEqual({ sub: 'firebase:uid-e2e', name: 'Fire Base', email: 'fire@example.test', email_verified: true });
  });

  it('Firebase: a token for another project, or posted without the CSRF token, signs nobody in', async () => {
    const authorization = await request();
    await page.goto(authorization.url);
    const interaction = await page.locator('input[name="interaction"]').inputValue();
    const csrf = await page.locator('input[name="csrf"]').inputValue();

    await page.goto(`${keyward.issuer}/firebase-sign-in?${new URLSearchParams({ interaction, csrf })}`);
    await page.getByLabel('Firebase ID token').fill(firebase.idToken('another-project', 'uid-e2e'));
    const [wrongProject] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/oauth/login/token')), page.getByRole('button', { name: 'Continue' }).click()]);
    expect(wrongProject.status()).toBe(401);
    expect(await page.locator('main').innerText()).toContain('Sign-in with Firebase failed.');

    await page.goto(`${keyward.issuer}/firebase-sign-in?${new URLSearchParams({ interaction, csrf: 'forged' })}`);
    await page.getByLabel('Firebase ID token').fill(firebase.idToken(FIREBASE_PROJECT, 'uid-e2e'));
    const [forged] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/oauth/login/token')), page.getByRole('button', { name: 'Continue' }).click()]);
    expect(forged.status()).toBe(403);
    expect(callback.withState(authorization.state)).toEqual([]);
  });
});
