// The example server in its own process, driven by oauth4webapi, a strict spec-exact client: every
// response below has passed its checks (issuer, iss, state, token response shape, ID token claims).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { authorizationRequest, CONFIDENTIAL, insecure, LOOPBACK_REDIRECT, PUBLIC_CLIENT_ID, startExample, type RunningExample } from './support.js';

let example: RunningExample;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  example = await startExample({ OAUTH_DEV_LOGIN: 'demo', OAUTH_CLIENT_ID: CONFIDENTIAL.id, OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret });
  const issuer = new URL(example.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
});

afterAll(async () => {
  await example?.stop();
});

/**
 * Authorization code flow with PKCE up to the token response: the dev login approves at once, so the
 * authorization endpoint redirects straight to the client.
 */
async function codeFlow(client: oauth.Client, clientAuth: oauth.ClientAuth, scope: string) {
  const redirectUri = 'http://127.0.0.1:53682/callback';
  const { url, codeVerifier, state } = await authorizationRequest(as, client.client_id, { scope, redirectUri });
  const authorization = await fetch(url, { redirect: 'manual' });
  expect(authorization.status).toBe(302);
  const callback = new URL(authorization.headers.get('location')!);
  expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
  // validateAuthResponse checks state and that iss equals the discovered issuer (RFC 9207).
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, insecure);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return oauth.processAuthorizationCodeResponse(as, client, response);
}

describe('discovery', () => {
  it('AUTHZ-DISC-02, AUTHZ-DISC-03: metadata names the configured issuer byte for byte and S256 PKCE', () => {
    expect(as.issuer).toBe(example.base);
    expect(as.code_challenge_methods_supported).toEqual(['S256']);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
  });

  it('AUTHZ-RS-04: protected-resource metadata describes <issuer>/mcp, advertising only scopes every client may get', async () => {
    const response = await fetch(`${example.base}/.well-known/oauth-protected-resource/mcp`);
    expect(await response.json()).toMatchObject({
      resource: `${example.base}/mcp`,
      authorization_servers: [example.base],
      // Not mcp:admin: clients without a challenge ask for all of these, and self-registered ones cannot have it.
      scopes_supported: ['mcp:tools', 'mcp:resources'],
      resource_name: 'Keyward example MCP server',
    });
  });
});

describe('public client mcp-public-client (token_endpoint_auth_method none)', () => {
  const client: oauth.Client = { client_id: PUBLIC_CLIENT_ID };

  it('AUTHZ-PKCE-06, AUTHZ-ARESP-02, AUTHZ-OIDC-01, AUTHZ-OIDC-04, AUTHZ-RT-04: code + PKCE, ID token, userinfo, rotating refresh', async () => {
    const tokens = await codeFlow(client, oauth.None(), 'mcp:tools openid profile email offline_access');
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('mcp:tools openid profile email offline_access');
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idToken).toMatchObject({ iss: example.base, sub: 'demo', aud: PUBLIC_CLIENT_ID });

    const userinfo = await oauth.processUserInfoResponse(as, client, idToken.sub, await oauth.userInfoRequest(as, client, tokens.access_token, insecure));
    expect(userinfo).toEqual({ sub: 'demo', name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true });

    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure));
    expect(refreshed.refresh_token).toBeTypeOf('string');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.scope).toBe(tokens.scope);
  });

  it('AUTHZ-TOK-06: a public client may not use client_credentials', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.None(), { scope: 'mcp:tools' }, insecure);
    await expect(oauth.processClientCredentialsResponse(as, client, response)).rejects.toMatchObject({ error: 'unauthorized_client' });
  });
});

describe(`confidential client from OAUTH_CLIENT_ID (${CONFIDENTIAL.id})`, () => {
  const client: oauth.Client = { client_id: CONFIDENTIAL.id };

  it('AUTHZ-CAUTH-01, AUTHZ-CAUTH-03: client_secret_basic runs the code flow, userinfo and refresh', async () => {
    const auth = oauth.ClientSecretBasic(CONFIDENTIAL.secret);
    const tokens = await codeFlow(client, auth, 'mcp:tools openid email');
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idToken.aud).toBe(CONFIDENTIAL.id);
    const userinfo = await oauth.processUserInfoResponse(as, client, idToken.sub, await oauth.userInfoRequest(as, client, tokens.access_token, insecure));
    expect(userinfo).toEqual({ sub: 'demo', email: 'demo@example.com', email_verified: true });
    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure));
    expect(refreshed.access_token).not.toBe(tokens.access_token);
  });

  it('AUTHZ-CAUTH-02: client_secret_post runs the code flow too', async () => {
    const tokens = await codeFlow(client, oauth.ClientSecretPost(CONFIDENTIAL.secret), 'mcp:tools');
    expect(tokens.scope).toBe('mcp:tools');
  });

  it('AUTHZ-CAUTH-04: Basic and a body secret together → invalid_request', async () => {
    const response = await fetch(as.token_endpoint!, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${CONFIDENTIAL.id}:${CONFIDENTIAL.secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_secret: CONFIDENTIAL.secret }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('AUTHZ-CAUTH-05: a wrong secret in the Authorization header → 401 invalid_client with a Basic challenge', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('wrong'), { scope: 'mcp:admin' }, insecure);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await response.clone().json()).toMatchObject({ error: 'invalid_client' });
    await expect(oauth.processClientCredentialsResponse(as, client, response)).rejects.toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
  });

  it('AUTHZ-JWT-04: client_credentials with scope=mcp:admin issues a token whose subject is the client', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(CONFIDENTIAL.secret), { scope: 'mcp:admin' }, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.scope).toBe('mcp:admin');
    expect(tokens.refresh_token).toBeUndefined();
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ iss: example.base, sub: CONFIDENTIAL.id, client_id: CONFIDENTIAL.id, aud: `${example.base}/mcp`, scope: 'mcp:admin' });
  });
});

describe('redirect URIs of the pre-registered clients', () => {
  it('AUTHZ-RURI-03: http://127.0.0.1/callback matches on any port, AUTHZ-RURI-02: others must match exactly', async () => {
    const loopback = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope: 'mcp:tools', redirectUri: 'http://127.0.0.1:40001/callback' });
    expect((await fetch(loopback.url, { redirect: 'manual' })).status).toBe(302);
    const inspector = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope: 'mcp:tools', redirectUri: 'http://localhost:6274/oauth/callback' });
    expect((await fetch(inspector.url, { redirect: 'manual' })).status).toBe(302);
    const other = await authorizationRequest(as, PUBLIC_CLIENT_ID, { scope: 'mcp:tools', redirectUri: `${LOOPBACK_REDIRECT}/evil` });
    const refused = await fetch(other.url, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('location')).toBeNull();
  });
});
