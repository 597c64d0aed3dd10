import { describe, expect, it } from 'vitest';
import { authOf, decodeJWT, expectOAuthError, RESOURCE, RESOURCE_B, RESOURCE_C, setup, type Harness, type TokenSet } from './support.js';

async function refreshOK(h: Harness, token: string, auth = authOf('public'), extra = {}): Promise<TokenSet> {
  const response = await h.refresh(token, auth, extra);
  const body = (await response.json()) as TokenSet;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

describe('A10 refresh tokens', () => {
  it('AUTHZ-RT-01: a refresh token is bound to its client', async () => {
    const h = setup();
    const a = await h.login();
    await expectOAuthError(await h.refresh(a.refresh_token!, authOf('public2')), 'invalid_grant');
    await expectOAuthError(await h.refresh(a.refresh_token!, authOf('basic')), 'invalid_grant');
    // The foreign attempts neither rotated nor revoked it.
    await refreshOK(h, a.refresh_token!);
  });

  it('AUTHZ-RT-01: a confidential client must authenticate to refresh', async () => {
    const h = setup();
    const tokens = await h.login({ client: 'basic' });
    await expectOAuthError(await h.refresh(tokens.refresh_token!, { method: 'none', clientId: 'conf-basic' }), 'invalid_client', 401);
    await expectOAuthError(await h.refresh(tokens.refresh_token!, { method: 'basic', clientId: 'conf-basic', secret: 'wrong' }), 'invalid_client', 401);
    await refreshOK(h, tokens.refresh_token!, authOf('basic'));
  });

  it('AUTHZ-RT-02: refreshing rotates the refresh token (public and confidential clients)', async () => {
    const h = setup();
    for (const client of ['public', 'basic'] as const) {
      const first = await h.login({ client });
      const second = await refreshOK(h, first.refresh_token!, authOf(client));
      expect(second.refresh_token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.access_token).not.toBe(first.access_token);
      const third = await refreshOK(h, second.refresh_token!, authOf(client));
      expect(third.refresh_token).not.toBe(second.refresh_token);
    }
  });

  it('AUTHZ-RT-03: reuse of a rotated-out token after the grace period revokes the family and the grant', async () => {
    const h = setup();
    const first = await h.login();
    const second = await refreshOK(h, first.refresh_token!);
    h.advance(3); // past the default 2 s grace
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public')), 'invalid_grant');
    // The successor is dead, and so are the access tokens of the grant.
    await expectOAuthError(await h.refresh(second.refresh_token!, authOf('public')), 'invalid_grant');
    for (const token of [first.access_token, second.access_token]) {
      const result = await h.bearer(token);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('AUTHZ-RT-03: reuse within the grace period is refused without revoking the family', async () => {
    const h = setup();
    const first = await h.login();
    const second = await refreshOK(h, first.refresh_token!);
    h.advance(1);
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public')), 'invalid_grant');
    expect((await h.bearer(second.access_token)).ok).toBe(true);
    const third = await refreshOK(h, second.refresh_token!);
    expect((await h.bearer(third.access_token)).ok).toBe(true);
  });

  it('AUTHZ-RT-03: the grace period ends at exactly 2 s, and is configurable (0 = none)', async () => {
    const h = setup();
    const first = await h.login();
    const second = await refreshOK(h, first.refresh_token!);
    h.advance(2);
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.refresh(second.refresh_token!, authOf('public')), 'invalid_grant');

    const strict = setup({ refreshTokenReuseGraceSeconds: 0 });
    const a = await strict.login();
    const b = await refreshOK(strict, a.refresh_token!);
    await expectOAuthError(await strict.refresh(a.refresh_token!, authOf('public')), 'invalid_grant');
    await expectOAuthError(await strict.refresh(b.refresh_token!, authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-RT-03: a reuse two generations back revokes the newest token too', async () => {
    const h = setup();
    const t1 = await h.login();
    const t2 = await refreshOK(h, t1.refresh_token!);
    h.advance(5);
    const t3 = await refreshOK(h, t2.refresh_token!);
    h.advance(5);
    await expectOAuthError(await h.refresh(t1.refresh_token!, authOf('public')), 'invalid_grant');
    await expectOAuthError(await h.refresh(t3.refresh_token!, authOf('public')), 'invalid_grant');
    expect((await h.bearer(t3.access_token)).ok).toBe(false);
  });

  it('AUTHZ-RT-03: reuse in one family leaves other grants of the same client alone', async () => {
    const h = setup();
    const victim = await h.login();
    const bystander = await h.login();
    await refreshOK(h, victim.refresh_token!);
    h.advance(3);
    await expectOAuthError(await h.refresh(victim.refresh_token!, authOf('public')), 'invalid_grant');
    expect((await h.bearer(bystander.access_token)).ok).toBe(true);
    await refreshOK(h, bystander.refresh_token!);
  });

  it('AUTHZ-RT-04: a refresh may narrow the scope but never widen it', async () => {
    const h = setup();
    const first = await h.login({ scope: 'mcp:tools openid' });
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { scope: 'mcp:tools mcp:admin' }), 'invalid_scope');
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { scope: 'bogus' }), 'invalid_scope');
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { scope: 'mcp:tools "x"' }), 'invalid_scope');
    // Narrowed: the response and the access token say so...
    const narrow = await refreshOK(h, first.refresh_token!, authOf('public'), { scope: 'mcp:tools' });
    expect(narrow.scope).toBe('mcp:tools');
    expect(decodeJWT(narrow.access_token).payload.scope).toBe('mcp:tools');
    // ...but the new refresh token keeps the original scope.
    const full = await refreshOK(h, narrow.refresh_token!);
    expect(full.scope).toBe('mcp:tools openid');
    const explicit = await refreshOK(h, full.refresh_token!, authOf('public'), { scope: 'openid mcp:tools' });
    expect(explicit.scope).toBe('openid mcp:tools');
  });

  it('AUTHZ-RT-04: refused scope requests do not consume the refresh token', async () => {
    const h = setup();
    const first = await h.login();
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { scope: 'mcp:admin' }), 'invalid_scope');
    await refreshOK(h, first.refresh_token!);
  });

  it('AUTHZ-RT-05: a refresh is bound to the granted resources', async () => {
    const h = setup();
    const first = await h.login({ resource: [RESOURCE, RESOURCE_B] });
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { resource: RESOURCE_C }), 'invalid_target');
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { resource: 'https://unknown.example/mcp' }), 'invalid_target');
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { resource: [RESOURCE, RESOURCE_C] }), 'invalid_target');
    await expectOAuthError(await h.refresh(first.refresh_token!, authOf('public'), { resource: '/mcp' }), 'invalid_target');
    const narrowed = await refreshOK(h, first.refresh_token!, authOf('public'), { resource: RESOURCE_B });
    expect(decodeJWT(narrowed.access_token).payload.aud).toBe(RESOURCE_B);
    // The successor still covers both resources.
    const both = await refreshOK(h, narrowed.refresh_token!);
    expect(decodeJWT(both.access_token).payload.aud).toEqual([RESOURCE, RESOURCE_B]);
  });

  it('AUTHZ-RT-06: a revoked grant refuses its refresh token', async () => {
    const h = setup();
    const tokens = await h.login();
    const grantId = decodeJWT(tokens.access_token).payload.grant_id as string;
    expect(h.store.grants.map((g) => g.grantId)).toContain(grantId);
    await h.server.revokeGrant(grantId);
    await expectOAuthError(await h.refresh(tokens.refresh_token!, authOf('public')), 'invalid_grant');
    expect((await h.bearer(tokens.access_token)).ok).toBe(false);
  });

  it('AUTHZ-RT-06: a refresh token expires after its lifetime (30 days by default)', async () => {
    const h = setup();
    const a = await h.login();
    const b = await h.login();
    h.advance(30 * 24 * 3600 - 1);
    await refreshOK(h, a.refresh_token!);
    h.advance(2);
    await expectOAuthError(await h.refresh(b.refresh_token!, authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-RT-06: rotation never extends a grant past its lifetime (documented policy)', async () => {
    const h = setup({ ttl: { refreshToken: 100 } });
    const first = await h.login();
    h.advance(90);
    const second = await refreshOK(h, first.refresh_token!);
    h.advance(11);
    await expectOAuthError(await h.refresh(second.refresh_token!, authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-RT-07: 5 parallel refreshes → exactly one 200 and exactly one live refresh token remains', async () => {
    for (let round = 0; round < 5; round++) {
      const h = setup();
      const first = await h.login();
      const responses = await Promise.all(Array.from({ length: 5 }, () => h.refresh(first.refresh_token!, authOf('public'))));
      const ok = responses.filter((response) => response.status === 200);
      expect(responses.map((response) => response.status).sort()).toEqual([200, 400, 400, 400, 400]);
      for (const response of responses.filter((r) => r.status === 400)) {
        const body = await response.json();
        expect(body.error).toBe('invalid_grant');
        expect(body).not.toHaveProperty('refresh_token');
      }
      // One compare-and-swap won; the others inserted nothing.
      expect(h.store.rotations.sort()).toEqual(['reused', 'reused', 'reused', 'reused', 'rotated']);
      const winner = (await ok[0]!.json()) as TokenSet;
      // The family survived the benign race (all within the grace period) and continues from the winner.
      expect((await h.bearer(winner.access_token)).ok).toBe(true);
      const next = await refreshOK(h, winner.refresh_token!);
      expect(next.refresh_token).not.toBe(winner.refresh_token);
    }
  });

  it('AUTHZ-RT-07: a parallel race after the grace period still forks nothing', async () => {
    const h = setup();
    const first = await h.login();
    const second = await refreshOK(h, first.refresh_token!);
    h.advance(10);
    const responses = await Promise.all(Array.from({ length: 5 }, () => h.refresh(second.refresh_token!, authOf('public'))));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
  });
});
