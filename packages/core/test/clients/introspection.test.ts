/**
 * A14: token introspection (RFC 7662). Callers (decision): a confidential client sees the tokens issued to
 * itself; a bearer access token carrying `introspection.bearerScope` sees every token; public clients
 * cannot introspect.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { AuthorizationServer, KeywardConfigError } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import {
  authOf,
  createHarness,
  expectJSON,
  expectOAuthError,
  IAT,
  ISSUER,
  jwtPayload,
  PATHS,
  RESOURCE,
  RESOURCE_B,
  SUBJECT,
  type Auth,
  type Harness,
  type TokenSet,
} from './harness.js';

const INACTIVE = '{"active":false}';

async function confidentialLogin(h: Harness, opts: { resource?: string; scope?: string } = {}) {
  const client = await h.confidentialClient();
  const tokens = await h.login(client, authOf(client), opts);
  return { client, auth: authOf(client), tokens };
}

/** Introspects and asserts the exact inactive answer: 200, `{"active":false}` and nothing else, no-store. */
async function expectInactive(h: Harness, token: string, auth: Parameters<Harness['introspect']>[1]): Promise<void> {
  const response = await h.introspect(token, auth);
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await response.text()).toBe(INACTIVE);
}

describe('A14 introspection (RFC 7662)', () => {
  it('AUTHZ-INTR-01: no caller credentials → 401, never active:true; GET → 405', async () => {
    const h = createHarness();
    const { tokens } = await confidentialLogin(h);
    const anonymous = await h.introspect(tokens.access_token, 'omit');
    await expectOAuthError(anonymous, 'invalid_client', 401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const get = await h.server.request(`${PATHS.introspect}?${new URLSearchParams({ token: tokens.access_token })}`);
    expect(get.status).toBe(405);
    expect(await get.text()).not.toContain('"active":true');
  });

  it('AUTHZ-INTR-01: bad client credentials → 401 invalid_client', async () => {
    const h = createHarness();
    const { client, tokens } = await confidentialLogin(h);
    await expectOAuthError(await h.introspect(tokens.access_token, { basic: [client.client_id, 'wrong'] }), 'invalid_client', 401);
    await expectOAuthError(await h.introspect(tokens.access_token, { post: [client.client_id, 'wrong'] }), 'invalid_client', 401);
    await expectOAuthError(await h.introspect(tokens.access_token, { basic: ['unknown', 'x'] }), 'invalid_client', 401);
  });

  it('AUTHZ-INTR-01: public clients cannot introspect, not even their own tokens (decision)', async () => {
    const h = createHarness();
    const pub = await h.publicClient();
    const tokens = await h.login(pub, { none: pub.client_id });
    const response = await h.introspect(tokens.access_token, { none: pub.client_id });
    await expectOAuthError(response, 'invalid_client', 401);
  });

  it('AUTHZ-INTR-01: token is required; a bearer token is not a caller unless bearerScope is configured', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    await expectOAuthError(await h.introspect(undefined, auth), 'invalid_request');
    await expectOAuthError(await h.introspect(tokens.access_token, { bearer: tokens.access_token }), 'invalid_client', 401);
  });

  it('AUTHZ-INTR-02: an active AT → active:true with scope, client_id, sub, aud, iss, exp, iat, token_type; no-store', async () => {
    const h = createHarness();
    const { client, auth, tokens } = await confidentialLogin(h, { resource: RESOURCE_B, scope: 'mcp:tools' });
    const response = await h.introspect(tokens.access_token, auth);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const claims = await expectJSON(response);
    const iat = Math.floor(h.now / 1000);
    expect(claims).toEqual({
      active: true,
      scope: 'mcp:tools',
      client_id: client.client_id,
      sub: SUBJECT,
      aud: RESOURCE_B,
      iss: ISSUER,
      exp: iat + 3600,
      iat,
      jti: jwtPayload(tokens.access_token).jti,
      token_type: 'Bearer',
    });
  });

  it('AUTHZ-INTR-02: an active RT → active:true, token_type refresh_token, with its grant data', async () => {
    const h = createHarness();
    const { client, auth, tokens } = await confidentialLogin(h);
    const claims = await h.introspection(tokens.refresh_token!, auth);
    expect(claims).toMatchObject({ active: true, client_id: client.client_id, sub: SUBJECT, aud: RESOURCE, iss: ISSUER, scope: 'mcp:tools', token_type: 'refresh_token' });
    expect(claims.exp).toBe(Math.floor(h.now / 1000) + 30 * 24 * 3600);
  });

  it('AUTHZ-INTR-02: a client_credentials AT, introspected by its machine client', async () => {
    const h = createHarness();
    const machine = await h.machineClient();
    const issued = await h.machineToken(authOf(machine), 'mcp:tools');
    expect(await h.introspection(issued.access_token, authOf(machine))).toMatchObject({ active: true, client_id: machine.client_id, sub: machine.client_id, aud: RESOURCE });
  });

  it('AUTHZ-INTR-03: garbage, expired, revoked, rotated-out and foreign-signed tokens → exactly {"active":false}', async () => {
    // Refresh tokens shorter than the 30-day unused-client expiry, so the caller outlives them.
    const h = createHarness({ ttl: { refreshToken: 7 * 24 * 3600 } });
    const { client, auth, tokens } = await confidentialLogin(h);
    for (const token of ['garbage', 'a.b.c', 'x'.repeat(2000)]) await expectInactive(h, token, auth);
    // Same claims, signed by a key that is not the server's.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(jwtPayload(tokens.access_token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'forged' }).sign(privateKey);
    await expectInactive(h, forged, auth);
    // Rotated-out RT.
    const refreshed = await expectJSON<TokenSet>(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, auth));
    await expectInactive(h, tokens.refresh_token!, auth);
    // Revoked AT.
    expect((await h.revoke(refreshed.access_token, auth)).status).toBe(200);
    await expectInactive(h, refreshed.access_token, auth);
    // Expired AT (the original one, 1 h).
    const fresh = await h.login(client, auth);
    h.advance(3601);
    await expectInactive(h, fresh.access_token, auth);
    // Expired RT.
    expect((await h.introspection(fresh.refresh_token!, auth)).active).toBe(true);
    h.advance(7 * 24 * 3600);
    await expectInactive(h, fresh.refresh_token!, auth);
  });

  it('AUTHZ-INTR-03: an ID token is not an access token → {"active":false} (token confusion)', async () => {
    const h = createHarness();
    const client = await h.confidentialClient();
    const tokens = await h.login(client, authOf(client), { scope: 'openid mcp:tools' });
    const idToken = (tokens as TokenSet & { id_token?: string }).id_token;
    expect(idToken).toBeTruthy();
    await expectInactive(h, idToken!, authOf(client));
  });

  it("AUTHZ-INTR-03/04: a caller may not see another client's token → exactly {\"active\":false}", async () => {
    const h = createHarness();
    const a = await confidentialLogin(h);
    const b = await confidentialLogin(h);
    await expectInactive(h, a.tokens.access_token, b.auth);
    await expectInactive(h, a.tokens.refresh_token!, b.auth);
    // The owner still sees it active: the refusal was about the caller, not the token.
    expect((await h.introspection(a.tokens.access_token, a.auth)).active).toBe(true);
  });

  it('AUTHZ-INTR-04: RS-B introspecting an AT issued for RS-A (to another client) → active:false', async () => {
    const h = createHarness();
    // RS-B is a confidential client of this server (the way a resource server gets introspection credentials).
    const rsB = await h.machineClient({ client_name: 'files resource server' });
    const { tokens } = await confidentialLogin(h, { resource: RESOURCE });
    await expectInactive(h, tokens.access_token, authOf(rsB));
  });

  it('AUTHZ-INTR-04: every introspection answer, active or not, carries no-store', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    for (const token of [tokens.access_token, tokens.refresh_token!, 'garbage']) {
      expect((await h.introspect(token, auth)).headers.get('cache-control'), token.slice(0, 10)).toBe('no-store');
    }
  });
});

describe('A14 introspection with introspection.bearerScope (decision)', () => {
  async function adminSetup() {
    const h = createHarness({ introspection: { bearerScope: 'mcp:admin' } });
    const admin = await h.machineClient({ client_name: 'admin console' });
    const adminToken = (await h.machineToken(authOf(admin), 'mcp:admin')).access_token;
    return { h, admin, adminToken };
  }

  it('AUTHZ-INTR-02/04: a bearer token with the admin scope sees every token, whoever it was issued to', async () => {
    const { h, adminToken } = await adminSetup();
    const pub = await h.publicClient();
    const tokens = await h.login(pub, { none: pub.client_id });
    expect(await h.introspection(tokens.access_token, { bearer: adminToken })).toMatchObject({ active: true, client_id: pub.client_id, sub: SUBJECT });
    expect(await h.introspection(tokens.refresh_token!, { bearer: adminToken })).toMatchObject({ active: true, token_type: 'refresh_token' });
    await expectInactive(h, 'garbage', { bearer: adminToken });
  });

  it('AUTHZ-INTR-01: an invalid, revoked or expired bearer token → 401 invalid_token with a Bearer challenge', async () => {
    const { h, admin, adminToken } = await adminSetup();
    const target = (await h.machineToken(authOf(admin), 'mcp:tools')).access_token;
    const bad = await h.introspect(target, { bearer: 'not-a-token' });
    await expectOAuthError(bad, 'invalid_token', 401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect((await h.revoke(adminToken, authOf(admin))).status).toBe(200);
    await expectOAuthError(await h.introspect(target, { bearer: adminToken }), 'invalid_token', 401);
    const second = (await h.machineToken(authOf(admin), 'mcp:admin')).access_token;
    h.advance(3601);
    await expectOAuthError(await h.introspect(target, { bearer: second }), 'invalid_token', 401);
  });

  it('AUTHZ-INTR-01: a valid bearer token without the admin scope → 403 insufficient_scope (RFC 6750 §3.1)', async () => {
    const { h, admin } = await adminSetup();
    const weak = (await h.machineToken(authOf(admin), 'mcp:tools')).access_token;
    const response = await h.introspect(weak, { bearer: weak });
    await expectOAuthError(response, 'insufficient_scope', 403);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer .*error="insufficient_scope".*scope="mcp:admin"/);
  });

  it('AUTHZ-INTR-01: confidential clients keep working beside the bearer callers', async () => {
    const { h } = await adminSetup();
    const { auth, tokens } = await confidentialLogin(h);
    expect((await h.introspection(tokens.access_token, auth)).active).toBe(true);
  });

  it('introspection: false removes the endpoint and its metadata member', async () => {
    const h = createHarness({ introspection: false, registration: { initialAccessTokens: [IAT] } });
    expect((await h.introspect('x', 'omit')).status).toBe(404);
    const metadata = await expectJSON(await h.server.request('/.well-known/oauth-authorization-server'));
    expect(metadata).not.toHaveProperty('introspection_endpoint');
  });
});

describe('A14 introspection by resource servers (StaticClientOptions.introspection)', () => {
  const FILES_RS = { clientId: 'files-rs', clientSecret: 'files-rs-secret-0123456789' };
  const ADMIN = { clientId: 'admin-console', clientSecret: 'admin-console-secret-0123456789' };
  const filesAuth: Auth = { basic: [FILES_RS.clientId, FILES_RS.clientSecret] };
  const adminAuth: Auth = { basic: [ADMIN.clientId, ADMIN.clientSecret] };

  function rsSetup() {
    return createHarness({
      clients: [
        // A separate MCP server for RESOURCE_B that checks tokens by introspection instead of JWKS.
        { ...FILES_RS, grantTypes: ['client_credentials'], introspection: { resources: [RESOURCE_B] } },
        { ...ADMIN, grantTypes: ['client_credentials'], introspection: 'all' },
      ],
    });
  }

  it("SEC-INTRO-01: a resource server introspects a user's token for its resource (active:true with claims) and gets exactly active:false for another resource's token", async () => {
    const h = rsSetup();
    const pub = await h.publicClient();
    const forFiles = await h.login(pub, { none: pub.client_id }, { resource: RESOURCE_B, scope: 'mcp:tools' });
    expect(await h.introspection(forFiles.access_token, filesAuth)).toEqual({
      active: true,
      scope: 'mcp:tools',
      client_id: pub.client_id,
      sub: SUBJECT,
      aud: RESOURCE_B,
      iss: ISSUER,
      exp: Math.floor(h.now / 1000) + 3600,
      iat: Math.floor(h.now / 1000),
      jti: jwtPayload(forFiles.access_token).jti,
      token_type: 'Bearer',
    });
    const forOther = await h.login(pub, { none: pub.client_id }, { resource: RESOURCE });
    await expectInactive(h, forOther.access_token, filesAuth);
    // Refresh tokens never go to a resource server: not even those of its resource.
    await expectInactive(h, forFiles.refresh_token!, filesAuth);
    // Revoked: inactive for the resource server too.
    expect((await h.revoke(forFiles.refresh_token!, { none: pub.client_id })).status).toBe(200);
    await expectInactive(h, forFiles.access_token, filesAuth);
    // Its own client_credentials token it sees, as every client does.
    const own = await h.machineToken(filesAuth, 'mcp:tools');
    expect((await h.introspection(own.access_token, filesAuth)).active).toBe(true);
  });

  it('SEC-INTRO-01: a token for several resources is visible to the resource server of any one of them', async () => {
    const h = rsSetup();
    const pub = await h.publicClient();
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: pub.client_id,
      redirect_uri: pub.redirect_uris![0]!,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      scope: 'mcp:tools',
    });
    query.append('resource', RESOURCE);
    query.append('resource', RESOURCE_B);
    const code = new URL((await h.server.request(`${PATHS.authorize}?${query}`)).headers.get('location')!).searchParams.get('code')!;
    const tokens = await expectJSON<TokenSet>(await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, { none: pub.client_id }));
    expect(jwtPayload(tokens.access_token).aud).toEqual([RESOURCE, RESOURCE_B]);
    expect(await h.introspection(tokens.access_token, filesAuth)).toMatchObject({ active: true, aud: [RESOURCE, RESOURCE_B] });
  });

  it('SEC-INTRO-02: an administrative client (introspection: all) sees every access and refresh token', async () => {
    const h = rsSetup();
    const pub = await h.publicClient();
    const a = await h.login(pub, { none: pub.client_id }, { resource: RESOURCE });
    const b = await h.login(pub, { none: pub.client_id }, { resource: RESOURCE_B });
    expect(await h.introspection(a.access_token, adminAuth)).toMatchObject({ active: true, aud: RESOURCE, client_id: pub.client_id });
    expect(await h.introspection(b.access_token, adminAuth)).toMatchObject({ active: true, aud: RESOURCE_B });
    expect(await h.introspection(a.refresh_token!, adminAuth)).toMatchObject({ active: true, token_type: 'refresh_token' });
    await expectInactive(h, 'garbage', adminAuth);
  });

  it('SEC-INTRO-03: an ordinary confidential client beside them still sees only its own tokens', async () => {
    const h = rsSetup();
    const pub = await h.publicClient();
    const user = await h.login(pub, { none: pub.client_id }, { resource: RESOURCE_B });
    const { auth, tokens } = await confidentialLogin(h, { resource: RESOURCE_B });
    await expectInactive(h, user.access_token, auth);
    await expectInactive(h, user.refresh_token!, auth);
    expect((await h.introspection(tokens.access_token, auth)).active).toBe(true);
    // Registered clients cannot give themselves the power: the metadata member is not a Keyward setting.
    const sneaky = await h.confidentialClient({ introspection: 'all' });
    await expectInactive(h, user.access_token, authOf(sneaky));
  });

  it('SEC-INTRO-04: a public client or an unknown resource cannot be configured as a resource server', () => {
    const make = (client: Record<string, unknown>) => () =>
      new AuthorizationServer({ issuer: ISSUER, store: new MemoryStore(), resources: [RESOURCE, RESOURCE_B], clients: [{ clientId: 'rs', ...client }] });
    expect(make({ tokenEndpointAuthMethod: 'none', introspection: 'all' })).toThrow(KeywardConfigError);
    expect(make({ clientSecret: 'rs-secret-0123456789abc', introspection: { resources: ['https://elsewhere.example.com/mcp'] } })).toThrow(/not one of the server's resources/);
    expect(make({ clientSecret: 'rs-secret-0123456789abc', introspection: { resources: [] } })).toThrow(KeywardConfigError);
    expect(make({ clientSecret: 'rs-secret-0123456789abc', introspection: 'some' })).toThrow(KeywardConfigError);
    expect(make({ clientSecret: 'rs-secret-0123456789abc', introspection: { resources: [RESOURCE_B] } })).not.toThrow();
  });
});
