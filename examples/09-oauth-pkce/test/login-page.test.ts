// The example server without OAUTH_DEV_LOGIN: the authorization endpoint sends the browser to the
// example's login page, and only the demo user's password (generated and printed at start) completes it.
// JWT_SECRET is set too, so the access tokens that come out are HS256.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authorizationRequest, insecure, PUBLIC_CLIENT_ID, startExample, type RunningExample } from './support.js';

const client: oauth.Client = { client_id: PUBLIC_CLIENT_ID };
const redirectUri = 'http://127.0.0.1:51000/callback';

let example: RunningExample;
let as: oauth.AuthorizationServer;
let password: string;

beforeAll(async () => {
  example = await startExample({ JWT_SECRET: 'an-hs256-secret-of-at-least-32-characters' });
  const issuer = new URL(example.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  password = /demo \/ (\S+) \(generated for this run/.exec(example.output())?.[1] ?? '';
});

afterAll(async () => {
  await example?.stop();
});

/** Starts an authorization and follows it to the login page, as a browser would. */
async function startLogin(scope = 'mcp:tools openid') {
  const request = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope, redirectUri });
  const response = await fetch(request.url, { redirect: 'manual' });
  expect(response.status).toBe(303);
  const login = new URL(response.headers.get('location')!);
  expect(`${login.origin}${login.pathname}`).toBe(`${example.base}/login`);
  return { ...request, login, interactionId: login.searchParams.get('interaction')! };
}

function submit(fields: Record<string, string>): Promise<Response> {
  return fetch(`${example.base}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams(fields) });
}

describe('start-up', () => {
  it('prints a generated demo password and warns that HS256 is not the recommended signing', () => {
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(example.output()).toMatch(/warning: JWT_SECRET: .*asymmetric keys .* are the default and recommended/);
  });
});

describe('login page', () => {
  it('AUTHZ-UI-01: renders Username, Password and Sign in, with the page security headers', async () => {
    const { login } = await startLogin();
    const page = await fetch(login);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    // The 303 that ends the login goes to the client; Chrome checks it against form-action.
    expect(csp).toContain("form-action 'self' http://127.0.0.1:51000;");
    const html = await page.text();
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).toContain(PUBLIC_CLIENT_ID);
  });

  it('refuses an unknown or missing interaction without a redirect', async () => {
    for (const url of [`${example.base}/login?interaction=unknown`, `${example.base}/login`]) {
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    }
  });

  it('gives one generic error for a wrong password and for an unknown user', async () => {
    const { interactionId } = await startLogin();
    const pages = await Promise.all([
      submit({ interaction: interactionId, username: 'demo', password: 'wrong' }),
      submit({ interaction: interactionId, username: 'nobody', password }),
    ]);
    for (const page of pages) {
      expect(page.status).toBe(401);
      expect(page.headers.get('location')).toBeNull();
      expect(await page.text()).toContain('Wrong username or password.');
    }
  });

  it('AUTHZ-AZ-06: the right password answers 303 with a code, which yields an HS256 token that /mcp accepts', async () => {
    const { interactionId, state, codeVerifier } = await startLogin();
    const response = await submit({ interaction: interactionId, username: 'demo', password });
    expect(response.status).toBe(303);
    const params = oauth.validateAuthResponse(as, client, new URL(response.headers.get('location')!), state);
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

    const mcp = new Client({ name: 'keyward-example-test', version: '0.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${example.base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } } }));
    const result = (await mcp.callTool({ name: 'whoami', arguments: {} })) as { content: { text: string }[] };
    await mcp.close();
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ sub: 'demo', client_id: PUBLIC_CLIENT_ID });

    // The interaction is single use: the same form posted again finds nothing to complete.
    expect((await submit({ interaction: interactionId, username: 'demo', password })).status).toBe(400);
  });
});
