import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { authOf, CLIENTS, decodeJWT, expectOAuthError, ISSUER, locationOf, pkcePair, RESOURCE, RESOURCE_B, RESOURCE_C, setup, toSearch, type TokenSet } from './support.js';

describe('A9 authorization code redemption', () => {
  it('AUTHZ-CODE-01: a code is redeemed once; the second redemption is 400 invalid_grant', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
    const second = await h.redeem(code, verifier, authOf('public'));
    const body = await expectOAuthError(second, 'invalid_grant');
    expect(body).not.toHaveProperty('access_token');
  });

  it('AUTHZ-CODE-02: a valid replay revokes everything issued from the code', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const first = (await (await h.redeem(code, verifier, authOf('public'))).json()) as TokenSet;
    expect((await h.bearer(first.access_token)).ok).toBe(true);

    await expectOAuthError(await h.redeem(code, verifier, authOf('public')), 'invalid_grant');

    // The access token from the first redemption is refused by the resource server...
    const guarded = await h.bearer(first.access_token);
    expect(guarded.ok).toBe(false);
    if (!guarded.ok) {
      expect(guarded.response.status).toBe(401);
      expect(guarded.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    // ...and so is its refresh token.
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-CODE-02: a confidential client replaying its code revokes its grant too', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    const first = (await (await h.redeem(code, verifier, authOf('basic'))).json()) as TokenSet;
    await expectOAuthError(await h.redeem(code, verifier, authOf('basic')), 'invalid_grant');
    expect((await h.bearer(first.access_token)).ok).toBe(false);
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('basic')), 'invalid_grant');
  });

  it('AUTHZ-CODE-03: a replay with a wrong verifier is refused without revoking anything', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const first = (await (await h.redeem(code, verifier, authOf('public'))).json()) as TokenSet;
    const wrong = verifier.slice(0, -2) + (verifier.endsWith('AA') ? 'BB' : 'AA');
    await expectOAuthError(await h.redeem(code, wrong, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.redeem(code, undefined, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.redeem(code, 'short', authOf('public')), 'invalid_request');
    expect((await h.bearer(first.access_token)).ok).toBe(true);
    expect((await h.refresh(first.refresh_token!, authOf('public'))).status).toBe(200);
  });

  it('AUTHZ-CODE-03: failed attempts before the real redemption neither burn the code nor revoke the grant', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const wrong = verifier.slice(0, -2) + (verifier.endsWith('AA') ? 'BB' : 'AA');
    // Someone who intercepted the code but not the verifier tries first…
    await expectOAuthError(await h.redeem(code, wrong, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.redeem(code, verifier, authOf('post')), 'invalid_grant');
    // …and the legitimate client still redeems it.
    const response = await h.redeem(code, verifier, authOf('public'));
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as TokenSet;
    expect((await h.bearer(tokens.access_token)).ok).toBe(true);
  });

  it('AUTHZ-CODE-03: a replay by another client, or with bad client credentials, revokes nothing', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    const first = (await (await h.redeem(code, verifier, authOf('basic'))).json()) as TokenSet;
    // Bad credentials for the right client.
    await expectOAuthError(await h.redeem(code, verifier, { method: 'basic', clientId: 'conf-basic', secret: 'wrong' }), 'invalid_client', 401);
    // Another client, properly authenticated, with the right verifier.
    await expectOAuthError(await h.redeem(code, verifier, authOf('post')), 'invalid_grant');
    await expectOAuthError(await h.redeem(code, verifier, authOf('public')), 'invalid_grant');
    // A mismatching redirect_uri.
    await expectOAuthError(await h.redeem(code, verifier, authOf('basic'), { redirect_uri: 'https://evil.example/cb' }), 'invalid_grant');
    expect((await h.bearer(first.access_token)).ok).toBe(true);
    expect((await h.refresh(first.refresh_token!, authOf('basic'))).status).toBe(200);
  });

  it('AUTHZ-CODE-04: 10 parallel redemptions of one code → exactly 1×200', async () => {
    for (let round = 0; round < 5; round++) {
      const h = setup();
      const { code, verifier } = await h.code();
      const responses = await Promise.all(Array.from({ length: 10 }, () => h.redeem(code, verifier, authOf('public'))));
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses).toEqual([200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
      for (const response of responses.filter((r) => r.status === 400)) expect((await response.json()).error).toBe('invalid_grant');
      // Exactly one token set was minted from the code.
      expect(h.store.savedRefreshTokens).toHaveLength(1);
      // The other nine were valid replays, so that token set is revoked (AUTHZ-CODE-02).
      const winner = (await responses.find((r) => r.status === 200)!.json()) as TokenSet;
      expect((await h.bearer(winner.access_token)).ok).toBe(false);
      await expectOAuthError(await h.refresh(winner.refresh_token!, authOf('public')), 'invalid_grant');
    }
  });

  it('AUTHZ-CODE-04: parallel redemptions by a confidential client → exactly 1×200', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    const responses = await Promise.all(Array.from({ length: 10 }, () => h.redeem(code, verifier, authOf('basic'))));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
  });

  it('AUTHZ-CODE-05: a code issued to one client cannot be redeemed by another', async () => {
    const h = setup();
    const publicCode = await h.code();
    await expectOAuthError(await h.redeem(publicCode.code, publicCode.verifier, authOf('public2')), 'invalid_grant');
    await expectOAuthError(await h.redeem(publicCode.code, publicCode.verifier, authOf('basic')), 'invalid_grant');
    const confidential = await h.code({ client: 'basic' });
    // A public client claiming the confidential client's code by naming another client id.
    await expectOAuthError(await h.redeem(confidential.code, confidential.verifier, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.redeem(confidential.code, confidential.verifier, authOf('post')), 'invalid_grant');
  });

  it('AUTHZ-CODE-06: a redirect_uri sent at the token endpoint must match exactly; omitted is fine', async () => {
    const h = setup();
    const omitted = await h.code({ client: 'loopback', redirectUri: 'http://127.0.0.1:5555/cb' });
    expect((await h.redeem(omitted.code, omitted.verifier, authOf('loopback'))).status).toBe(200);

    const exact = await h.code({ client: 'loopback', redirectUri: 'http://127.0.0.1:5555/cb' });
    expect((await h.redeem(exact.code, exact.verifier, authOf('loopback'), { redirect_uri: 'http://127.0.0.1:5555/cb' })).status).toBe(200);

    for (const redirectUri of ['https://other/cb', 'http://127.0.0.1:6666/cb', 'http://127.0.0.1/cb', 'http://127.0.0.1:5555/cb/']) {
      const { code, verifier } = await h.code({ client: 'loopback', redirectUri: 'http://127.0.0.1:5555/cb' });
      await expectOAuthError(await h.redeem(code, verifier, authOf('loopback'), { redirect_uri: redirectUri }), 'invalid_grant');
    }
    // Omitted at the authorization endpoint (single registered URI): sending the registered one matches.
    const single = await h.code({ client: 'basic' });
    expect((await h.redeem(single.code, single.verifier, authOf('basic'), { redirect_uri: CLIENTS.basic.redirectUris[0] })).status).toBe(200);
  });

  it('AUTHZ-CODE-07: the token endpoint may not name a resource outside the authorization → invalid_target', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ resource: RESOURCE });
    await expectOAuthError(await h.redeem(code, verifier, authOf('public'), { resource: RESOURCE_B }), 'invalid_target');
  });

  it('AUTHZ-CODE-07: a code of a revoked grant → invalid_grant', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const grant = h.store.grants.at(-1)!;
    await h.server.revokeGrant(grant.grantId);
    await expectOAuthError(await h.redeem(code, verifier, authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-CODE-07: the tokens carry the consented scope and resources', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ scope: 'mcp:tools', resource: [RESOURCE_B, RESOURCE_C] });
    const body = (await (await h.redeem(code, verifier, authOf('public'), { resource: RESOURCE_C })).json()) as TokenSet;
    expect(body.scope).toBe('mcp:tools');
    expect(decodeJWT(body.access_token).payload.aud).toBe(RESOURCE_C);
  });

  it('AUTHZ-IMPL-02: the server judges code and refresh-token expiry itself, whatever the store still returns', async () => {
    // A store whose clock never moves keeps every record; only the server's own checks can expire them.
    let now = Date.UTC(2030, 0, 1);
    const server = new AuthorizationServer({
      issuer: ISSUER,
      store: new MemoryStore({ clock: () => Date.UTC(2030, 0, 1) }),
      clock: () => now,
      clients: [CLIENTS.public],
      scopes: ['mcp:tools'],
      ttl: { refreshToken: 3600 },
      devLogin: { subject: 'u' },
    });
    const code = async () => {
      const { verifier, challenge } = pkcePair();
      const query = toSearch({ response_type: 'code', client_id: 'public-app', code_challenge: challenge, code_challenge_method: 'S256' });
      const location = locationOf(await server.request(`/oauth/authorize?${query}`));
      return { code: location.searchParams.get('code')!, verifier };
    };
    const redeem = (c: { code: string; verifier: string }) =>
      server.request('/oauth/token', {
        method: 'POST',
        body: toSearch({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: 'public-app' }),
      });
    const stale = await code();
    const fresh = await code();
    const tokens = (await (await redeem(fresh)).json()) as TokenSet;
    now += 61_000;
    await expectOAuthError(await redeem(stale), 'invalid_grant');
    now += 3600_000;
    const refresh = await server.request('/oauth/token', {
      method: 'POST',
      body: toSearch({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'public-app' }),
    });
    await expectOAuthError(refresh, 'invalid_grant');
  });
});
