/**
 * A13: token revocation (RFC 7009), for registered clients, checked through introspection, the token
 * endpoint and the server's own resource-server guard.
 */
import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import {
  authOf,
  basicHeader,
  createHarness,
  expectJSON,
  expectOAuthError,
  ISSUER,
  PATHS,
  RESOURCE,
  RESOURCE_B,
  SCOPES,
  type Harness,
  type TokenSet,
} from './harness.js';

async function confidentialLogin(h: Harness, opts: { resource?: string } = {}) {
  const client = await h.confidentialClient();
  const tokens = await h.login(client, authOf(client), opts);
  return { client, auth: authOf(client), tokens };
}

async function expectRefusedByGuard(h: Harness, token: string, resource = RESOURCE): Promise<void> {
  const result = await h.bearer(token, resource);
  expect(result.ok, 'the guard must refuse the token').toBe(false);
  if (!result.ok) {
    expect(result.response.status).toBe(401);
    expect(result.response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  }
}

async function expectAcceptedByGuard(h: Harness, token: string, resource = RESOURCE): Promise<void> {
  const result = await h.bearer(token, resource);
  expect(result.ok, 'the guard must accept the token').toBe(true);
}

describe('A13 revocation (RFC 7009)', () => {
  it('AUTHZ-REV-01: confidential clients must authenticate: bad or missing credentials → 401 invalid_client, nothing revoked', async () => {
    const h = createHarness();
    const { client, tokens } = await confidentialLogin(h);
    await expectOAuthError(await h.revoke(tokens.refresh_token!, { basic: [client.client_id, 'wrong'] }), 'invalid_client', 401);
    await expectOAuthError(await h.revoke(tokens.refresh_token!, 'omit'), 'invalid_client', 401);
    await expectOAuthError(await h.revoke(tokens.refresh_token!, { none: client.client_id }), 'invalid_client', 401);
    await expectAcceptedByGuard(h, tokens.access_token);
    await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, authOf(client)));
  });

  it('AUTHZ-REV-01: token is required (400 invalid_request); POST only; form or JSON bodies', async () => {
    const h = createHarness();
    const { client, auth } = await confidentialLogin(h);
    await expectOAuthError(await h.revoke(undefined, auth), 'invalid_request');
    await expectOAuthError(await h.post(PATHS.revoke, { token: '' }, auth), 'invalid_request');
    await expectOAuthError(await h.post(PATHS.revoke, { token_type_hint: 'access_token' }, auth), 'invalid_request');
    // A repeated token is ambiguous.
    const twice = new URLSearchParams([['token', 'a'], ['token', 'b']]);
    const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(client.client_id, client.client_secret!) };
    const response = await h.server.request(PATHS.revoke, { method: 'POST', headers, body: twice });
    await expectOAuthError(response, 'invalid_request');
    expect((await h.server.request(PATHS.revoke)).status).toBe(405);
    await expectOAuthError(await h.server.request(PATHS.revoke, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'token=x' }), 'invalid_request');
    // A public client revokes its own token with client_id alone (RFC 7009 §2.1), here as JSON (Keyward extension).
    const pub = await h.publicClient();
    const own = await h.login(pub, { none: pub.client_id });
    const json = await h.server.request(PATHS.revoke, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: own.refresh_token, client_id: pub.client_id }) });
    expect(json.status).toBe(200);
    await expectOAuthError(await h.token({ grant_type: 'refresh_token', refresh_token: own.refresh_token! }, { none: pub.client_id }), 'invalid_grant');
  });

  it('AUTHZ-REV-01: every token type is revocable, so unsupported_token_type is never needed; an unknown hint is ignored', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    const response = await h.revoke(tokens.access_token, auth, { token_type_hint: 'urn:example:weird-type' });
    expect(response.status).toBe(200);
    await expectRefusedByGuard(h, tokens.access_token);
  });

  it('AUTHZ-REV-02: 200 for unknown, invalid, expired and already revoked tokens; the body is empty and no-store', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.', 'x'.repeat(4000)]) {
      const response = await h.revoke(token, auth);
      expect(response.status, token.slice(0, 20)).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.text()).toBe('');
    }
    // Revoked twice.
    expect((await h.revoke(tokens.access_token, auth)).status).toBe(200);
    expect((await h.revoke(tokens.access_token, auth)).status).toBe(200);
    // Expired.
    h.advance(3601);
    expect((await h.revoke(tokens.access_token, auth)).status).toBe(200);
  });

  it('AUTHZ-REV-03: a wrong hint does not matter: an RT sent as access_token is revoked, and an AT sent as refresh_token', async () => {
    const h = createHarness();
    const { client, auth, tokens } = await confidentialLogin(h);
    expect((await h.revoke(tokens.refresh_token!, auth, { token_type_hint: 'access_token' })).status).toBe(200);
    await expectOAuthError(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, auth), 'invalid_grant');

    const second = await h.login(client, auth);
    expect((await h.revoke(second.access_token, auth, { token_type_hint: 'refresh_token' })).status).toBe(200);
    await expectRefusedByGuard(h, second.access_token);
    expect(await h.introspection(second.access_token, auth)).toEqual({ active: false });
  });

  it('AUTHZ-REV-04: only tokens issued to the requesting client are revoked; another client gets a no-op 200', async () => {
    const h = createHarness();
    const a = await confidentialLogin(h);
    const b = await confidentialLogin(h);
    const pub = await h.publicClient();
    for (const token of [a.tokens.access_token, a.tokens.refresh_token!]) {
      expect((await h.revoke(token, b.auth)).status).toBe(200);
      expect((await h.revoke(token, { none: pub.client_id })).status).toBe(200);
    }
    expect(await h.introspection(a.tokens.access_token, a.auth)).toMatchObject({ active: true, client_id: a.client.client_id });
    await expectAcceptedByGuard(h, a.tokens.access_token);
    await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token! }, a.auth));
  });

  it("AUTHZ-REV-04: a public client cannot revoke another public client's refresh token", async () => {
    const h = createHarness();
    const victim = await h.publicClient();
    const attacker = await h.publicClient();
    const tokens = await h.login(victim, { none: victim.client_id });
    expect((await h.revoke(tokens.refresh_token!, { none: attacker.client_id })).status).toBe(200);
    await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { none: victim.client_id }));
  });

  it('AUTHZ-REV-05: revoking an RT revokes its grant: the AT is inactive at introspection and refused by the guard', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    // A second AT of the same grant, from a refresh.
    const refreshed = await expectJSON<TokenSet>(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, auth));
    expect((await h.revoke(refreshed.refresh_token!, auth)).status).toBe(200);
    for (const accessToken of [tokens.access_token, refreshed.access_token]) {
      expect(await h.introspection(accessToken, auth)).toEqual({ active: false });
      await expectRefusedByGuard(h, accessToken);
    }
    expect(await h.introspection(refreshed.refresh_token!, auth)).toEqual({ active: false });
    await expectOAuthError(await h.token({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token! }, auth), 'invalid_grant');
  });

  it('AUTHZ-REV-05: revoking an RT of a grant for two resources kills the ATs for both', async () => {
    const h = createHarness();
    const client = await h.publicClient();
    const { code, verifier } = await h.code(client.client_id, 'http://127.0.0.1/cb', { resource: RESOURCE_B });
    const tokens = await expectJSON<TokenSet>(await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, { none: client.client_id }));
    await expectAcceptedByGuard(h, tokens.access_token, RESOURCE_B);
    expect((await h.revoke(tokens.refresh_token!, { none: client.client_id })).status).toBe(200);
    await expectRefusedByGuard(h, tokens.access_token, RESOURCE_B);
  });

  it("AUTHZ-REV-05: revoking an AT puts its jti on the revocation list: the guard refuses it, the grant's RT lives on (decision)", async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    await expectAcceptedByGuard(h, tokens.access_token);
    expect((await h.revoke(tokens.access_token, auth)).status).toBe(200);
    await expectRefusedByGuard(h, tokens.access_token);
    expect(await h.introspection(tokens.access_token, auth)).toEqual({ active: false });
    // RFC 7009 §2.1: revoking the AT MAY revoke the RT; Keyward keeps it, and its new AT works.
    const refreshed = await expectJSON<TokenSet>(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, auth));
    await expectAcceptedByGuard(h, refreshed.access_token);
    // The revoked AT stays refused until it would have expired anyway.
    h.advance(3000);
    await expectRefusedByGuard(h, tokens.access_token);
  });

  it('AUTHZ-REV-05: a client_credentials AT is revoked the same way', async () => {
    const h = createHarness();
    const machine = await h.machineClient();
    const issued = await h.machineToken(authOf(machine), 'mcp:tools');
    await expectAcceptedByGuard(h, issued.access_token);
    expect((await h.revoke(issued.access_token, authOf(machine))).status).toBe(200);
    await expectRefusedByGuard(h, issued.access_token);
  });

  it('AUTHZ-REV-05: another server instance on the same store refuses the revoked AT within its 2 s refresh interval (decision)', async () => {
    const h = createHarness();
    const { auth, tokens } = await confidentialLogin(h);
    // A second instance sharing the store (and so the signing keys), on the same clock.
    const other = new AuthorizationServer({ issuer: ISSUER, store: h.store, clock: () => h.now, scopes: SCOPES, resources: [RESOURCE, RESOURCE_B] });
    const guard = other.createGuard();
    const check = () => guard.authenticate(new Request(RESOURCE, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
    expect((await check()).ok).toBe(true);
    expect((await h.revoke(tokens.access_token, auth)).status).toBe(200);
    h.advance(1);
    expect((await check()).ok, 'within the refresh interval the other instance may still accept it').toBe(true);
    h.advance(1.001);
    expect((await check()).ok).toBe(false);
  });

  it('revocation: false removes the endpoint and its metadata member', async () => {
    const h = createHarness({ revocation: false });
    expect((await h.revoke('x', 'omit')).status).toBe(404);
    const metadata = await expectJSON(await h.server.request('/.well-known/oauth-authorization-server'));
    expect(metadata).not.toHaveProperty('revocation_endpoint');
  });
});
