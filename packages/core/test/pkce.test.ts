import { describe, expect, it } from 'vitest';
import { sha256 } from '../src/protocol/crypto.js';
import { authOf, CLIENTS, expectOAuthError, ISSUER, locationOf, RESOURCE, s256, setup, SUBJECT } from './support.js';

function expectPKCEError(response: Response, base: string): void {
  const location = locationOf(response);
  expect(`${location.origin}${location.pathname}`).toBe(base);
  expect(location.searchParams.get('error')).toBe('invalid_request');
  expect(location.searchParams.get('state')).toBe('st-1');
  expect(location.searchParams.get('iss')).toBe(ISSUER);
  expect(location.searchParams.has('code')).toBe(false);
}

const PUBLIC_RU = CLIENTS.public.redirectUris[0]!;
const BASIC_RU = CLIENTS.basic.redirectUris[0]!;

describe('A4 PKCE', () => {
  it('AUTHZ-PKCE-01: a public client without code_challenge → invalid_request', async () => {
    const h = setup();
    const { response } = await h.authorize({ extra: { code_challenge: undefined, code_challenge_method: undefined } });
    expectPKCEError(response, PUBLIC_RU);
    // Method alone is not a challenge either.
    expectPKCEError((await h.authorize({ extra: { code_challenge: undefined } })).response, PUBLIC_RU);
  });

  it('AUTHZ-PKCE-02: a confidential client without code_challenge → invalid_request too (always required)', async () => {
    const h = setup();
    const { response } = await h.authorize({ client: 'basic', extra: { code_challenge: undefined, code_challenge_method: undefined } });
    expectPKCEError(response, BASIC_RU);
    // Even with an OIDC nonce.
    const withNonce = await h.authorize({ client: 'basic', scope: 'openid', extra: { code_challenge: undefined, code_challenge_method: undefined, nonce: 'n-0S6' } });
    expectPKCEError(withNonce.response, BASIC_RU);
  });

  it('AUTHZ-PKCE-03: code_challenge_method=plain (or anything but S256) → invalid_request', async () => {
    const h = setup();
    for (const method of ['plain', 's256', 'S512', 'sha256']) {
      expectPKCEError((await h.authorize({ extra: { code_challenge_method: method } })).response, PUBLIC_RU);
    }
  });

  it('AUTHZ-PKCE-04: absent method means plain, rejected (not assumed to be S256)', async () => {
    const h = setup();
    const { response } = await h.authorize({ extra: { code_challenge_method: undefined } });
    expectPKCEError(response, PUBLIC_RU);
  });

  it('AUTHZ-PKCE-05: the challenge must be 43-128 characters of [A-Za-z0-9-._~]', async () => {
    const h = setup();
    const valid43 = 'a'.repeat(43);
    for (const challenge of ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}=`, `${'a'.repeat(42)}/`, `${'a'.repeat(42)} `, `${'a'.repeat(42)}é`]) {
      expectPKCEError((await h.authorize({ extra: { code_challenge: challenge } })).response, PUBLIC_RU);
    }
    for (const challenge of [valid43, 'A-._~'.repeat(9) + 'abc', 'z'.repeat(128)]) {
      expect(locationOf((await h.authorize({ extra: { code_challenge: challenge } })).response).searchParams.get('code'), challenge).toBeTruthy();
    }
  });

  it('AUTHZ-PKCE-05: a verifier of 42 or 129 characters, or with +, is refused and issues nothing', async () => {
    const h = setup();
    for (const verifier of ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(43)}=`]) {
      // A challenge that the bad verifier would otherwise satisfy (computed over the same bytes).
      const { location } = await h.code({ extra: { code_challenge: s256(verifier).slice(0, 43) } });
      const response = await h.redeem(location.searchParams.get('code')!, verifier, authOf('public'));
      const body = await expectOAuthError(response, 'invalid_request');
      expect(body).not.toHaveProperty('access_token');
    }
  });

  it('AUTHZ-PKCE-05: a 128-character verifier is accepted', async () => {
    const h = setup();
    const verifier = 'v'.repeat(64) + '-._~'.repeat(16);
    const { code } = await h.code({ extra: { code_challenge: s256(verifier) } });
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
  });

  it('AUTHZ-PKCE-06: a wrong verifier → 400 invalid_grant', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const wrong = verifier.slice(0, -1) + (verifier.endsWith('A') ? 'B' : 'A');
    const response = await h.redeem(code, wrong, authOf('public'));
    const body = await expectOAuthError(response, 'invalid_grant');
    expect(body).not.toHaveProperty('access_token');
    // The challenge itself is not a verifier.
    const second = await h.code();
    await expectOAuthError(await h.redeem(second.code, s256(second.verifier), authOf('public')), 'invalid_grant');
  });

  it('AUTHZ-PKCE-06: the verifier is hashed with SHA-256 and base64url (RFC 7636 Appendix B)', async () => {
    const h = setup();
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const { code } = await h.code({ extra: { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' } });
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
  });

  it('AUTHZ-PKCE-07: a missing code_verifier → 400 invalid_grant', async () => {
    const h = setup();
    const { code } = await h.code();
    await expectOAuthError(await h.redeem(code, undefined, authOf('public')), 'invalid_grant');
    const second = await h.code({ client: 'basic' });
    // An empty verifier counts as absent.
    await expectOAuthError(await h.redeem(second.code, '', authOf('basic')), 'invalid_grant');
  });

  it('AUTHZ-PKCE-08: a code_verifier for a code issued without a challenge is a downgrade → invalid_request', async () => {
    // Keyward never issues such a code (the challenge is required); a code stored without one (by an older
    // version, or another component sharing the store) must still refuse a verifier.
    const h = setup();
    const code = 'legacy-code-without-pkce-0123456789abcdefgh';
    const now = h.now;
    await h.store.saveGrant({ grantId: 'g-legacy', clientId: 'conf-basic', subject: SUBJECT, scopes: ['mcp:tools'], resources: [RESOURCE], createdAt: now, expiresAt: now + 86_400_000 });
    await h.store.saveAuthorizationCode({
      codeHash: await sha256(code),
      grantId: 'g-legacy',
      clientId: 'conf-basic',
      subject: SUBJECT,
      redirectUri: BASIC_RU!,
      scopes: ['mcp:tools'],
      resources: [RESOURCE],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    const response = await h.redeem(code, 'a'.repeat(43), authOf('basic'));
    const body = await expectOAuthError(response, 'invalid_request');
    expect(body).not.toHaveProperty('access_token');
  });
});
