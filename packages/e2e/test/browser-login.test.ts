// Issue 6 acceptance: headless Chromium signs in through core's built-in login and consent pages of
// examples/09-oauth-pkce, run as a real child process exactly as `pnpm example:server:09` starts it (no
// OAUTH_DEV_LOGIN; OAUTH_DEMO_PASSWORD set here; OAUTH_STORE=memory; issuer http://localhost:<port>). The test
// plays the MCP client: it builds the authorization request (public client `mcp-public-client`, PKCE S256,
// state, a loopback redirect URI served by a tiny node:http server), lets the browser do the rest, and
// redeems the code at the token endpoint.
//
// E2E_LOGIN_TARGET=in-process runs the same tests against packages/e2e/src/login-server.ts, the same setup
// (express + keyward(server) + localUsers) in this process, which tells a problem of the example from one of
// core's pages.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Response as PageResponse } from 'playwright-core';
import { startCallbackServer, type CallbackServer } from '../src/callback-server.js';
import { launchChromium, runBrowserSuites } from '../src/chromium.js';
import { startExample09 } from '../src/example09.js';
import { startExampleLikeServer } from '../src/login-server.js';
import { authorizationRequest, endpoint, redeemCode, verifyWithJWKS, type AuthorizationRequest, type TokenResponse } from '../src/oauth-client.js';
import { pngSize, saveScreenshot } from '../src/screenshots.js';

const TARGET = process.env.E2E_LOGIN_TARGET === 'in-process' ? 'in-process' : 'example-09';
const PASSWORD = `e2e-${randomBytes(12).toString('base64url')}`;
const CLIENT_ID = 'mcp-public-client';
// Fixed ports when free, so the consent screenshot (which names the redirect host and the resource) is the
// same from run to run; any free port otherwise. Below Linux's ephemeral range.
const PREFERRED_SERVER_PORT = 28009;
const PREFERRED_CALLBACK_PORT = 28010;
const SCREENSHOT_SCOPE = 'mcp:tools openid profile';
const NONCE = 'n-0S6_WzA2Mj';

describe.runIf(runBrowserSuites)(`browser sign-in through core's login pages (${TARGET}, headless Chromium)`, () => {
  let browser: Browser;
  let callback: CallbackServer;
  let issuer: string;
  let stopServer: () => Promise<void> = async () => {};
  let context: BrowserContext;
  let page: Page;
  // The in-process server counts its security events here; example 09 serves its counts at /metrics.
  const inProcessEvents = new Map<string, number>();

  beforeAll(async () => {
    const server =
      TARGET === 'in-process'
        ? startExampleLikeServer({
            password: PASSWORD,
            preferredPort: PREFERRED_SERVER_PORT,
            extra: { onEvent: (event) => void inProcessEvents.set(event.type, (inProcessEvents.get(event.type) ?? 0) + 1) },
          })
        : startExample09({ OAUTH_DEMO_PASSWORD: PASSWORD }, PREFERRED_SERVER_PORT);
    [browser, callback] = await Promise.all([launchChromium(), startCallbackServer(PREFERRED_CALLBACK_PORT)]);
    const running = await server;
    issuer = running.issuer;
    stopServer = running.close;
  });

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), callback?.close(), stopServer()]);
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  const mcpResource = () => `${issuer}/mcp`;

  /**
   * How many codes the server has issued and consents it has recorded so far, from its own counters (the
   * example's Prometheus `keyward_security_events_total`). Read once an answer has arrived, they show that
   * nothing happened without waiting for it not to.
   */
  async function issued(): Promise<{ codes: number; consents: number }> {
    let count = (type: string) => inProcessEvents.get(type) ?? 0;
    if (TARGET === 'example-09') {
      const metrics = await (await fetch(endpoint(issuer, '/metrics'))).text();
      count = (type) => Number(new RegExp(`^keyward_security_events_total\\{type="${type.replace('.', '\\.')}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    }
    return { codes: count('code.issued'), consents: count('consent.given') };
  }

  function request(options: { scope?: string; prompt?: string; nonce?: string } = {}): Promise<AuthorizationRequest> {
    return authorizationRequest({
      issuer,
      clientId: CLIENT_ID,
      redirectUri: callback.redirectUri,
      scope: options.scope ?? SCREENSHOT_SCOPE,
      resource: mcpResource(),
      ...(options.nonce && { nonce: options.nonce }),
      ...(options.prompt && { prompt: options.prompt }),
    });
  }

  /** Opens the authorization URL, checks the login page, signs in as demo; resolves on the consent page. */
  async function signIn(target: Page, authorization: AuthorizationRequest): Promise<{ login: PageResponse; consent: PageResponse }> {
    const login = await target.goto(authorization.url);
    expect(login?.status()).toBe(200);
    expect(new URL(target.url()).pathname).toBe('/oauth/login');
    // getByLabel / getByRole go through the accessibility tree: the fields are labelled, the button named.
    await target.getByLabel('Username').fill('demo');
    await target.getByLabel('Password').fill(PASSWORD);
    const [consent] = await Promise.all([
      target.waitForResponse((response) => new URL(response.url()).pathname === '/oauth/consent' && response.request().method() === 'GET'),
      target.getByRole('button', { name: 'Sign in', exact: true }).click(),
    ]);
    await target.getByRole('heading', { name: 'Allow access?' }).waitFor();
    return { login: login!, consent };
  }

  it('AUTHZ-AZ-06, AUTHZ-UI-03, AUTHZ-OIDC-01, AUTHZ-OIDC-02, AUTHZ-OIDC-04: login page → consent page → Allow → code, state and iss at the callback → tokens, a verified ID token with the nonce, userinfo', async () => {
    const authorization = await request({ nonce: NONCE });
    await page.goto(authorization.url);

    // The login page: labelled fields and a named button, the client's name, no script.
    await expect(page.title()).resolves.toBe('Sign in');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Username' }).count()).toBe(1);
    expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
    expect(await page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
    expect(await page.locator('main').innerText()).toContain('MCP public client');
    const loginShot = await page.screenshot();
    expect(pngSize(loginShot)).toEqual({ width: 900, height: 700 });
    saveScreenshot('login.png', loginShot);

    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/oauth/consent');

    // The consent page (AUTHZ-UI-03): the client's name, the host it returns to, the scopes in words.
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('MCP public client wants access to your account (Demo User)');
    expect(text).toContain(`After you decide you will return to 127.0.0.1:${callback.port}.`);
    expect(text).toContain("Use this server's tools on your behalf");
    expect(text).toContain('Confirm who you are');
    expect(text).toContain('See your name and profile');
    expect(text).toContain(mcpResource());
    // A client configured in code is not flagged as self-registered.
    expect(text).not.toContain('registered itself');
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(1);
    const consentShot = await page.screenshot();
    expect(pngSize(consentShot)).toEqual({ width: 900, height: 700 });
    saveScreenshot('consent.png', consentShot);

    await page.getByRole('button', { name: 'Allow' }).click();
    const landed = await callback.waitFor(authorization.state);
    await page.waitForURL((url) => url.href.startsWith(callback.redirectUri));
    await page.getByRole('heading', { name: 'Signed in. You can close this window.' }).waitFor();
    expect(landed.searchParams.get('iss')).toBe(issuer);
    expect(landed.searchParams.get('state')).toBe(authorization.state);
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();

    const response = await redeemCode(issuer, authorization, code!);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as TokenResponse;
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.scope?.split(' ').sort()).toEqual(SCREENSHOT_SCOPE.split(' ').sort());

    // The access token: a Keyward JWT (RFC 9068) for the MCP resource, verified against the JWKS.
    const access = await verifyWithJWKS(tokens.access_token, endpoint(issuer, '/oauth/keys'), ['ES256']);
    expect(access.header.typ).toBe('at+jwt');
    expect(access.payload).toMatchObject({ iss: issuer, sub: 'demo', client_id: CLIENT_ID });
    expect([access.payload.aud].flat()).toContain(mcpResource());

    // AUTHZ-OIDC-01: openid was granted, so there is an ID token. AUTHZ-OIDC-02: RS256 by a key of the JWKS,
    // the nonce copied exactly, iss, sub, aud = client_id, exp after iat.
    expect(tokens.id_token).toBeTruthy();
    const id = await verifyWithJWKS(tokens.id_token!, endpoint(issuer, '/oauth/keys'), ['RS256']);
    expect(id.header.alg).toBe('RS256');
    expect(id.payload).toMatchObject({ iss: issuer, sub: 'demo', aud: CLIENT_ID, nonce: NONCE, name: 'Demo User' });
    expect(typeof id.payload.iat).toBe('number');
    expect(id.payload.exp as number).toBeGreaterThan(id.payload.iat as number);
    expect(typeof id.payload.auth_time).toBe('number');

    // AUTHZ-OIDC-04: UserInfo by GET and by POST, `sub` equal to the ID token's.
    for (const init of [{ method: 'GET' }, { method: 'POST', body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } }]) {
      const userinfo = await fetch(endpoint(issuer, '/oauth/userinfo'), { ...init, headers: { ...init.headers, authorization: `Bearer ${tokens.access_token}` } });
      expect(userinfo.status).toBe(200);
      expect(await userinfo.json()).toMatchObject({ sub: id.payload.sub, name: 'Demo User' });
    }
  });

  it('AUTHZ-OIDC-04: UserInfo refuses a bad access token with 401 and a Bearer invalid_token challenge', async () => {
    const forged = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"demo"}').toString('base64url')}.c2ln`;
    for (const token of ['not-a-token', forged]) {
      const response = await fetch(endpoint(issuer, '/oauth/userinfo'), { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    }
  });

  it('AUTHZ-ARESP-06: Deny on the consent page → access_denied with state and iss at the callback, no code', async () => {
    // prompt=consent: demo may already have consented to these scopes in another test.
    const authorization = await request({ prompt: 'consent' });
    await signIn(page, authorization);
    await page.getByRole('button', { name: 'Deny' }).click();
    const landed = await callback.waitFor(authorization.state);
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe(authorization.state);
    expect(landed.searchParams.get('iss')).toBe(issuer);
    expect(landed.searchParams.has('code')).toBe(false);
  });

  it('AUTHZ-UI-02: a forged CSRF token in the consent form is refused with a 403 page; the callback receives nothing', async () => {
    const authorization = await request({ prompt: 'consent' });
    await signIn(page, authorization);
    const before = await issued();
    await page.evaluate(() => {
      const csrf = document.querySelector<HTMLInputElement>('input[name="csrf"]');
      if (!csrf) throw new Error('no csrf field');
      csrf.value = 'forged-csrf-token';
    });
    const [refused] = await Promise.all([
      page.waitForResponse((response) => new URL(response.url()).pathname === '/oauth/consent' && response.request().method() === 'POST'),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    expect(refused.status()).toBe(403);
    expect(refused.headers().location).toBeUndefined();
    // AUTHZ-UI-01 covers error pages too.
    expect(refused.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(refused.headers()['x-frame-options']).toBe('DENY');
    expect(refused.headers()['referrer-policy']).toBe('no-referrer');
    await page.getByRole('heading', { name: 'Sign-in problem' }).waitFor();
    expect(await page.locator('main').innerText()).toContain('The form has expired or was not sent from this site.');
    expect(new URL(page.url()).origin).toBe(new URL(issuer).origin);
    // The refusal is final: the server issued no code and recorded no consent, so nothing can reach the callback.
    expect(await issued()).toEqual(before);
    expect(callback.withState(authorization.state)).toEqual([]);
  });

  it("AUTHZ-UI-02: the consent form's hidden fields submitted from another browser are refused; the real user can still decide", async () => {
    const authorization = await request({ prompt: 'consent' });
    await signIn(page, authorization);
    const fields = await page.locator('form input[type="hidden"]').evaluateAll((inputs) => inputs.map((input) => [(input as HTMLInputElement).name, (input as HTMLInputElement).value]));
    expect(fields.map(([name]) => name)).toEqual(['interaction', 'csrf']);

    const before = await issued();
    // The attacker's browser: the victim's interaction id and CSRF token, but not the victim's cookies.
    const attacker = await browser.newContext();
    try {
      const attackerPage = await attacker.newPage();
      const inputs = fields.map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`).join('');
      await attackerPage.setContent(`<form method="post" action="${endpoint(issuer, '/oauth/consent')}">${inputs}<button name="decision" value="allow">Allow</button></form>`);
      const [refused] = await Promise.all([
        attackerPage.waitForResponse((response) => new URL(response.url()).pathname === '/oauth/consent'),
        attackerPage.getByRole('button', { name: 'Allow' }).click(),
      ]);
      expect(refused.status()).toBe(403);
      expect(await refused.text()).toContain('belongs to another browser');
    } finally {
      await attacker.close();
    }
    expect(await issued()).toEqual(before);
    expect(callback.withState(authorization.state)).toEqual([]);

    // The refused attempt spent nothing: the user's own Allow still completes, and the counters see it.
    await page.getByRole('button', { name: 'Allow' }).click();
    expect((await callback.waitFor(authorization.state)).searchParams.get('code')).toBeTruthy();
    expect(await issued()).toEqual({ codes: before.codes + 1, consents: before.consents + 1 });
  });

  it('AUTHZ-UI-01: login and consent pages send frame-ancestors none, X-Frame-Options DENY, no-referrer, load nothing off-origin; another origin cannot frame the login page', async () => {
    const requested = new Set<string>();
    context.on('request', (sent) => requested.add(new URL(sent.url()).origin));
    const { login, consent } = await signIn(page, await request({ prompt: 'consent' }));
    for (const response of [login, consent]) {
      const headers = response.headers();
      expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(headers['content-security-policy']).toContain("default-src 'none'");
      expect(headers['x-frame-options']).toBe('DENY');
      expect(headers['referrer-policy']).toBe('no-referrer');
    }
    expect(await page.locator('script').count()).toBe(0);
    expect([...requested]).toEqual([new URL(issuer).origin]);

    // A page of another origin (same site, so the browser sends the session cookies and the server answers
    // the real login page) embeds the login page: the browser must refuse to render it.
    const framing = await context.newPage();
    const loginURL = login.url();
    callback.page('/frame', `<!doctype html><title>Attacker</title><iframe id="victim" src="${loginURL.replaceAll('&', '&amp;')}" width="800" height="600"></iframe>`);
    const refusals: string[] = [];
    framing.on('console', (message) => refusals.push(message.text()));
    const [framed] = await Promise.all([
      framing.waitForResponse((response) => response.url() === loginURL),
      framing.goto(`http://localhost:${callback.port}/frame`),
    ]);
    expect(framed.status()).toBe(200);
    const frame = framing.frames().find((candidate) => candidate !== framing.mainFrame());
    expect(frame).toBeDefined();
    await expect.poll(() => frame!.url(), { timeout: 5_000 }).toMatch(/^chrome-error:/);
    expect(await frame!.locator('#username').count()).toBe(0);
    expect(refusals.join('\n')).toMatch(/frame-ancestors|X-Frame-Options/);
  });
});
