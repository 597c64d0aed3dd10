/**
 * Scopes belong to users too: the `grantableScopes` hook decides which requested scopes the signed-in user
 * may grant, at approval (devLogin and custom interaction hooks here; the login pages in login-pages.test.ts)
 * and at every refresh. Driven through `server.request` on the injected clock.
 */
import { describe, expect, it } from 'vitest';
import type { ScopeGrantRequest } from '@keyward/core';
import { authOf, decodeJWT, expectOAuthError, ISSUER, locationOf, RESOURCE, setup, SUBJECT, type Harness, type TokenSet } from './support.js';

/** A role directory that can change between requests, and a policy that asks it (asynchronously). */
function roles(initial: string[] = [SUBJECT]) {
  const admins = new Set(initial);
  const asked: ScopeGrantRequest[] = [];
  const grantableScopes = async (request: ScopeGrantRequest) => {
    asked.push(request);
    await Promise.resolve();
    return admins.has(request.subject) ? request.scopes : request.scopes.filter((scope) => scope !== 'mcp:admin');
  };
  return { admins, asked, grantableScopes };
}

async function json(response: Response): Promise<TokenSet> {
  const body = (await response.json()) as TokenSet;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function refreshed(h: Harness, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenSet> {
  return json(await h.refresh(refreshToken, authOf('public'), extra));
}

describe('grantableScopes at the authorization endpoint', () => {
  it('SEC-SCOPE-01: requested scopes the user may not grant are dropped; the token response and the access token say what was granted', async () => {
    const policy = roles([]);
    const h = setup({ grantableScopes: policy.grantableScopes });
    const tokens = await h.login({ scope: 'mcp:tools mcp:admin openid' });
    expect(tokens.scope).toBe('mcp:tools openid');
    expect(decodeJWT(tokens.access_token).payload.scope).toBe('mcp:tools openid');
    expect(h.store.grants.at(-1)!.scopes).toEqual(['mcp:tools', 'openid']);
    expect(policy.asked).toHaveLength(1);
    expect(policy.asked[0]).toMatchObject({
      subject: SUBJECT,
      claims: { name: 'Demo User', email: 'demo@example.com' },
      client: { clientId: 'public-app', tokenEndpointAuthMethod: 'none' },
      scopes: ['mcp:tools', 'mcp:admin', 'openid'],
      resources: [RESOURCE],
      stage: 'authorization',
    });
    // A user with the role gets all of it.
    policy.admins.add(SUBJECT);
    expect((await h.login({ scope: 'mcp:tools mcp:admin openid' })).scope).toBe('mcp:tools mcp:admin openid');
  });

  it('SEC-SCOPE-01: what the hook returns beyond the request is ignored, and it sees only scopes the client may request', async () => {
    const asked: ScopeGrantRequest[] = [];
    const h = setup({ grantableScopes: (request) => (asked.push(request), ['mcp:tools', 'mcp:admin', 'profile', 'not-a-scope']) });
    expect((await h.login({ scope: 'mcp:tools openid' })).scope).toBe('mcp:tools');
    // A client allowed only mcp:tools asking for more is refused before any user is asked (client scopes).
    const { response } = await h.authorize({ client: 'limited', scope: 'mcp:tools mcp:admin' });
    expect(locationOf(response).searchParams.get('error')).toBe('invalid_scope');
    expect(asked).toHaveLength(1);
  });

  it('SEC-SCOPE-02: none of the requested scopes grantable → invalid_scope at the redirect URI with state and iss, no code, no grant', async () => {
    const policy = roles([]);
    const h = setup({ grantableScopes: policy.grantableScopes });
    const { response } = await h.authorize({ scope: 'mcp:admin', state: 'st-none' });
    const location = locationOf(response);
    expect(`${location.origin}${location.pathname}`).toBe('https://public.example.com/cb');
    expect(location.searchParams.get('error')).toBe('invalid_scope');
    expect(location.searchParams.get('state')).toBe('st-none');
    expect(location.searchParams.get('iss')).toBe(ISSUER);
    expect(location.searchParams.has('code')).toBe(false);
    expect(h.store.grants).toEqual([]);
    // A request that asks for nothing (and no default scopes) is not refused: there was nothing to drop.
    const empty = await h.login({ scope: undefined });
    expect(empty.scope).toBeUndefined();
  });

  it('SEC-SCOPE-03: a hook that fails sends server_error to the client, issues nothing, and reaches onError', async () => {
    const errors: unknown[] = [];
    const h = setup({
      grantableScopes: async () => {
        throw new Error('directory unreachable at 10.0.0.7');
      },
      onError: (error) => errors.push(error),
    });
    const { response } = await h.authorize({ scope: 'mcp:tools' });
    const location = locationOf(response);
    expect(location.searchParams.get('error')).toBe('server_error');
    expect(location.href).not.toContain('10.0.0.7');
    expect(location.searchParams.has('code')).toBe(false);
    expect(h.store.grants).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('SEC-SCOPE-09: a custom interaction hook approving more than the user may grant still gets only the grantable scopes', async () => {
    const policy = roles([]);
    const h = setup({ interactive: true, grantableScopes: policy.grantableScopes });
    const { response, verifier } = await h.authorize({ scope: 'mcp:tools mcp:admin' });
    expect(response.status).toBe(200);
    expect(h.pending[0]!.scopes).toEqual(['mcp:tools', 'mcp:admin']);
    const approved = await h.server.completeInteraction(h.pending[0]!.interactionId, { subject: 'bob', scopes: ['mcp:tools', 'mcp:admin'] });
    const code = locationOf(approved).searchParams.get('code')!;
    expect((await json(await h.redeem(code, verifier, authOf('public')))).scope).toBe('mcp:tools');

    // Only mcp:admin asked for: invalid_scope at the redirect URI.
    await h.authorize({ scope: 'mcp:admin' });
    const refused = locationOf(await h.server.completeInteraction(h.pending[1]!.interactionId, { subject: 'bob' }));
    expect(refused.searchParams.get('error')).toBe('invalid_scope');
  });
});

describe('grantableScopes at refresh', () => {
  it('SEC-SCOPE-04: a refresh after the role is removed drops the scope, and a later refresh never brings it back', async () => {
    const policy = roles();
    const h = setup({ grantableScopes: policy.grantableScopes });
    const tokens = await h.login({ scope: 'mcp:tools mcp:admin' });
    expect(tokens.scope).toBe('mcp:tools mcp:admin');
    // Still an administrator: refresh keeps it.
    const kept = await refreshed(h, tokens.refresh_token!);
    expect(kept.scope).toBe('mcp:tools mcp:admin');
    expect(policy.asked.at(-1)).toMatchObject({ subject: SUBJECT, claims: { name: 'Demo User' }, client: { clientId: 'public-app' }, stage: 'refresh' });

    policy.admins.delete(SUBJECT);
    const dropped = await refreshed(h, kept.refresh_token!);
    expect(dropped.scope).toBe('mcp:tools');
    expect(decodeJWT(dropped.access_token).payload.scope).toBe('mcp:tools');
    expect((await h.bearer(dropped.access_token, { scopes: ['mcp:admin'] })).ok).toBe(false);
    // Asking for it by name is refused rather than granted.
    await expectOAuthError(await h.refresh(dropped.refresh_token!, authOf('public'), { scope: 'mcp:admin' }), 'invalid_scope');

    // The role comes back: the narrowed refresh token stays narrowed (a refresh never widens a grant).
    policy.admins.add(SUBJECT);
    const after = await refreshed(h, dropped.refresh_token!);
    expect(after.scope).toBe('mcp:tools');
    await expectOAuthError(await h.refresh(after.refresh_token!, authOf('public'), { scope: 'mcp:tools mcp:admin' }), 'invalid_scope');
  });

  it('SEC-SCOPE-04: concurrent refreshes after the role is removed: none of them yields mcp:admin', async () => {
    const policy = roles();
    const h = setup({ grantableScopes: policy.grantableScopes, refreshTokenReuseGraceSeconds: 2 });
    const tokens = await h.login({ scope: 'mcp:tools mcp:admin' });
    policy.admins.delete(SUBJECT);
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.refresh(tokens.refresh_token!, authOf('public'))));
    const bodies = await Promise.all(responses.map((response) => response.json() as Promise<TokenSet & { error?: string }>));
    const won = bodies.filter((body) => body.access_token);
    expect(won).toHaveLength(1);
    expect(won[0]!.scope).toBe('mcp:tools');
    expect(bodies.filter((body) => body.error === 'invalid_grant')).toHaveLength(19);
  });

  it('SEC-SCOPE-08: nothing left to grant at refresh → invalid_scope; a failing hook → server_error; neither spends the refresh token', async () => {
    const policy = roles();
    let failing = false;
    const h = setup({
      grantableScopes: (request) => {
        if (failing) throw new Error('directory down');
        return policy.grantableScopes(request);
      },
    });
    const tokens = await h.login({ scope: 'mcp:admin' });
    policy.admins.delete(SUBJECT);
    await expectOAuthError(await h.refresh(tokens.refresh_token!, authOf('public')), 'invalid_scope');
    failing = true;
    await expectOAuthError(await h.refresh(tokens.refresh_token!, authOf('public')), 'server_error', 500);
    failing = false;
    policy.admins.add(SUBJECT);
    // Neither answer rotated it: the token still works.
    expect((await refreshed(h, tokens.refresh_token!)).scope).toBe('mcp:admin');
    expect(h.store.rotations).toEqual(['rotated']);
  });

  it('SEC-SCOPE-04: client_credentials tokens have no user and are not asked about', async () => {
    const policy = roles([]);
    const h = setup({ grantableScopes: policy.grantableScopes });
    const response = await h.token({ grant_type: 'client_credentials', scope: 'mcp:admin' }, authOf('machine'));
    expect((await json(response)).scope).toBe('mcp:admin');
    expect(policy.asked).toEqual([]);
  });
});
