// The README's "By hand with curl" section, request for request (same methods, headers and bodies), against
// a server started the way the README says: dev login and the confidential client demo-client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { devLoginTokens, startExample, type RunningExample } from './support.js';

let example: RunningExample;
let B: string;
const basic = `Basic ${btoa('demo-client:demo-secret-not-used-with-pkce')}`;

beforeAll(async () => {
  example = await startExample({ OAUTH_DEV_LOGIN: 'demo', OAUTH_CLIENT_ID: 'demo-client', OAUTH_CLIENT_SECRET: 'demo-secret-not-used-with-pkce' });
  B = example.base;
});

afterAll(async () => {
  await example?.stop();
});

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
// curl -d sends application/x-www-form-urlencoded.
const form = (body: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(body),
});

describe('README: by hand with curl', () => {
  it('AUTHZ-DCR-01, AUTHZ-INTR-01, AUTHZ-INTR-03, AUTHZ-REV-05: discovery, registration, PKCE authorization, JSON token requests, client_credentials, refresh, introspection, revocation', async () => {
    // 1. Discovery
    const metadata = await (await fetch(`${B}/.well-known/oauth-authorization-server`)).json();
    expect(metadata).toMatchObject({ issuer: B, registration_endpoint: `${B}/oauth/register`, introspection_endpoint: `${B}/oauth/introspect`, revocation_endpoint: `${B}/oauth/revoke` });
    expect((await (await fetch(`${B}/.well-known/oauth-protected-resource/mcp`)).json()).resource).toBe(`${B}/mcp`);
    const challenge = await fetch(`${B}/mcp`, { method: 'POST' });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="/);

    // 2. Registration: the brief's body gets the RFC 7591 defaults; the MCP client's body a public client.
    const seedRegistration = await fetch(`${B}/oauth/register`, json({ client_name: 'test-client', redirect_uris: ['http://localhost:8080/callback'] }));
    expect(seedRegistration.status).toBe(201);
    const seeded = await seedRegistration.json();
    expect(seeded).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], client_secret: expect.any(String) });
    const registered = await fetch(
      `${B}/oauth/register`,
      json({ client_name: 'test-client', redirect_uris: ['http://localhost:8080/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
    );
    expect(registered.status).toBe(201);
    const { client_id: CLIENT_ID, client_secret } = await registered.json();
    expect(client_secret).toBeUndefined();

    // 3. Authorization request with PKCE: the dev login answers with the redirect to the client.
    const VERIFIER = oauth.generateRandomCodeVerifier();
    const CHALLENGE = await oauth.calculatePKCECodeChallenge(VERIFIER);
    const authorize = await fetch(
      `${B}/oauth/authorize?response_type=code&client_id=${CLIENT_ID}&redirect_uri=http://localhost:8080/callback&scope=mcp:tools+offline_access&state=xyz&code_challenge=${CHALLENGE}&code_challenge_method=S256`,
      { redirect: 'manual' },
    );
    const location = new URL(authorize.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('http://localhost:8080/callback');
    expect(location.searchParams.get('state')).toBe('xyz');
    expect(location.searchParams.get('iss')).toBe(B);
    const CODE = location.searchParams.get('code')!;

    // 4. Token exchange with a JSON body.
    const exchanged = await fetch(`${B}/oauth/token`, json({ grant_type: 'authorization_code', code: CODE, code_verifier: VERIFIER, client_id: CLIENT_ID }));
    const tokens = await exchanged.json();
    expect(exchanged.status, JSON.stringify(tokens)).toBe(200);
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'mcp:tools offline_access', refresh_token: expect.any(String) });

    // 5. Service account with scope=mcp:admin.
    const service = await fetch(`${B}/oauth/token`, json({ grant_type: 'client_credentials', scope: 'mcp:admin' }, { authorization: basic }));
    const { access_token: ADMIN_TOKEN, scope } = await service.json();
    expect(service.status).toBe(200);
    expect(scope).toBe('mcp:admin');

    // 6. Refresh with a JSON body: a new refresh token.
    const refreshed = await fetch(`${B}/oauth/token`, json({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLIENT_ID }));
    const { access_token: ACCESS_TOKEN, refresh_token: REFRESH_TOKEN } = await refreshed.json();
    expect(refreshed.status).toBe(200);
    expect(REFRESH_TOKEN).not.toBe(tokens.refresh_token);

    // 7. Introspection with the admin's bearer token or as demo-client (any token), as another client (its own), without (401).
    const asAdmin = await fetch(`${B}/oauth/introspect`, form({ token: ACCESS_TOKEN }, { authorization: `Bearer ${ADMIN_TOKEN}` }));
    expect(await asAdmin.json()).toMatchObject({ active: true, client_id: CLIENT_ID, sub: 'demo', scope: 'mcp:tools offline_access', aud: `${B}/mcp` });
    const asClient = await fetch(`${B}/oauth/introspect`, form({ token: ACCESS_TOKEN }, { authorization: basic }));
    expect(await asClient.json()).toMatchObject({ active: true, client_id: CLIENT_ID, sub: 'demo', scope: 'mcp:tools offline_access' });
    const otherBasic = `Basic ${btoa(`${seeded.client_id}:${seeded.client_secret}`)}`;
    const othersToken = await fetch(`${B}/oauth/introspect`, form({ token: ACCESS_TOKEN }, { authorization: otherBasic }));
    expect(await othersToken.json()).toEqual({ active: false });
    expect((await fetch(`${B}/oauth/introspect`, form({ token: ACCESS_TOKEN }))).status).toBe(401);

    // 8. Revocation of the refresh token ends the grant, its access token included.
    const revoked = await fetch(`${B}/oauth/revoke`, form({ token: REFRESH_TOKEN, client_id: CLIENT_ID }));
    expect(revoked.status).toBe(200);
    expect(await (await fetch(`${B}/oauth/introspect`, form({ token: ACCESS_TOKEN }, { authorization: `Bearer ${ADMIN_TOKEN}` }))).json()).toEqual({ active: false });
    const mcp = await fetch(`${B}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${ACCESS_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    expect(mcp.status).toBe(401);

    // 9. userinfo with a user's token (one granted openid and profile).
    const user = await devLoginTokens(B, 'mcp:tools openid profile');
    const userinfo = await fetch(`${B}/oauth/userinfo`, { headers: { authorization: `Bearer ${user.access_token}` } });
    expect(await userinfo.json()).toEqual({ sub: 'demo', name: 'Demo User', preferred_username: 'demo' });
  });
});
