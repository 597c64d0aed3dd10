import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import { AuthorizationServer, ResourceServerGuard } from '@keyward/core';
import { wellKnownURL } from '../src/protocol/metadata.js';
import { authOf, decodeJWT, ISSUER, PATHS, RESOURCE, setup, SUBJECT, type Harness } from './support.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

async function jwksOf(h: Harness): Promise<JSONWebKeySet> {
  const response = await h.server.request(PATHS.jwks);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as JSONWebKeySet;
}

/** Verifies an access token the way an independent resource server would: jose + the published JWKS. */
async function verifyWithJWKS(h: Harness, token: string, audience = RESOURCE) {
  return jwtVerify(token, createLocalJWKSet(await jwksOf(h)), {
    issuer: ISSUER,
    audience,
    typ: 'at+jwt',
    currentDate: new Date(h.now),
  });
}

describe('A12 JWT access tokens (RFC 9068)', () => {
  it('AUTHZ-JWT-01: the header typ is at+jwt', async () => {
    const h = setup();
    const tokens = await h.login();
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header.typ).toBe('at+jwt');
    expect(header.alg).toBe('ES256');
    expect(header.kid).toBeTypeOf('string');
  });

  for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`AUTHZ-JWT-02: ${algorithm} access tokens verify against the JWKS by kid; the JWKS has no private members`, async () => {
      const h = setup({ signing: { algorithm } });
      const tokens = await h.login();
      const header = decodeProtectedHeader(tokens.access_token);
      expect(header.alg).toBe(algorithm);
      expect(header.alg).not.toBe('none');
      const jwks = await jwksOf(h);
      const key = jwks.keys.find((k) => k.kid === header.kid);
      expect(key, 'signing key published').toBeDefined();
      expect(key!.alg).toBe(algorithm);
      expect(key!.use).toBe('sig');
      for (const published of jwks.keys) {
        for (const member of PRIVATE_MEMBERS) expect(published, `${published.kid} leaks ${member}`).not.toHaveProperty(member);
      }
      const { payload, protectedHeader } = await verifyWithJWKS(h, tokens.access_token);
      expect(protectedHeader.kid).toBe(header.kid);
      expect(payload.sub).toBe(SUBJECT);
    });
  }

  it('AUTHZ-JWT-02: a forged token (alg none, or signed by another key) is refused by the guard', async () => {
    const h = setup();
    const tokens = await h.login();
    const { header, payload } = decodeJWT(tokens.access_token);
    const unsigned = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
    expect((await h.bearer(unsigned)).ok).toBe(false);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid as string }).sign(privateKey);
    expect((await h.bearer(forged)).ok).toBe(false);
    // A tampered payload under the real signature.
    const [h64, , s64] = tokens.access_token.split('.');
    const tampered = `${h64}.${Buffer.from(JSON.stringify({ ...payload, scope: 'mcp:admin' })).toString('base64url')}.${s64}`;
    expect((await h.bearer(tampered)).ok).toBe(false);
    expect((await h.bearer(tokens.access_token)).ok).toBe(true);
  });

  it('AUTHZ-JWT-02: after rotation, old tokens still verify and the old key stays published until they expire', async () => {
    const h = setup();
    const before = await h.login();
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const newKid = await h.server.rotateSigningKey();
    expect(newKid).not.toBe(oldKid);
    const after = await h.login();
    expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid);

    const kids = (await jwksOf(h)).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    await verifyWithJWKS(h, before.access_token);
    await verifyWithJWKS(h, after.access_token);
    expect((await h.bearer(before.access_token)).ok).toBe(true);

    // Still published right up to the end of the old tokens' lifetime (1 h) ...
    h.advance(3599);
    expect((await jwksOf(h)).keys.map((k) => k.kid)).toContain(oldKid);
    await verifyWithJWKS(h, before.access_token);
    // ... and gone once nothing it signed can still be valid (lifetime + 5 min overlap).
    h.advance(3600 + 300);
    const remaining = (await jwksOf(h)).keys.map((k) => k.kid);
    expect(remaining).not.toContain(oldKid);
    expect(remaining).toContain(newKid);
  });

  it('AUTHZ-JWT-02: signing keys rotate automatically after signing.rotateAfterSeconds', async () => {
    const h = setup({ signing: { rotateAfterSeconds: 24 * 3600 } });
    const first = await h.login();
    const firstKid = decodeProtectedHeader(first.access_token).kid;
    h.advance(24 * 3600 - 60);
    const beforeRotation = await h.login();
    expect(decodeProtectedHeader(beforeRotation.access_token).kid).toBe(firstKid);
    h.advance(61);
    const [later, concurrent] = await Promise.all([h.login(), h.login()]);
    const laterKid = decodeProtectedHeader(later.access_token).kid;
    expect(laterKid).not.toBe(firstKid);
    // Concurrent signers share one rotation.
    expect(decodeProtectedHeader(concurrent.access_token).kid).toBe(laterKid);
    await verifyWithJWKS(h, later.access_token);
    // A token signed just before the rotation still verifies, at the guard and against the JWKS.
    expect((await h.bearer(beforeRotation.access_token)).ok).toBe(true);
    await verifyWithJWKS(h, beforeRotation.access_token);
  });

  it('AUTHZ-JWT-02: keys live in the store, so a restarted server still accepts the tokens it issued', async () => {
    const h = setup();
    const tokens = await h.login();
    const restarted = new AuthorizationServer({ issuer: ISSUER, store: h.store, clock: () => h.now, resources: [RESOURCE] });
    const result = await restarted.createGuard().authenticate(new Request(RESOURCE, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
    expect(result.ok).toBe(true);
    const jwks = (await (await restarted.request(PATHS.jwks)).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(tokens.access_token).kid);
  });

  it('AUTHZ-JWT-02: with signing.hmacSecret, access tokens are HS256 and the secret is never published', async () => {
    const hmacSecret = 'an-hmac-secret-of-at-least-32-characters!';
    const h = setup({ signing: { hmacSecret } });
    const tokens = await h.login();
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(tokens.access_token, new TextEncoder().encode(hmacSecret), {
      issuer: ISSUER,
      audience: RESOURCE,
      typ: 'at+jwt',
      currentDate: new Date(h.now),
    });
    expect(payload.sub).toBe(SUBJECT);
    const jwks = await jwksOf(h);
    for (const key of jwks.keys) {
      expect(key.kty).not.toBe('oct');
      expect(key).not.toHaveProperty('k');
    }
    expect(JSON.stringify(jwks)).not.toContain(Buffer.from(hmacSecret).toString('base64url'));
    expect((await h.bearer(tokens.access_token)).ok).toBe(true);
    // The guard does not accept an HS256 token signed with another secret.
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: decodeProtectedHeader(tokens.access_token).kid! })
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'));
    expect((await h.bearer(forged)).ok).toBe(false);
  });

  it('AUTHZ-JWT-02: an asymmetric server refuses HS256 tokens signed with its public key (algorithm confusion)', async () => {
    const h = setup({ signing: { algorithm: 'RS256' } });
    const tokens = await h.login();
    const { header, payload } = decodeJWT(tokens.access_token);
    const jwk = (await jwksOf(h)).keys.find((k) => k.kid === header.kid)!;
    const confused = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid as string })
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    expect((await h.bearer(confused)).ok).toBe(false);
  });

  it('AUTHZ-JWT-03: the required claims are present and consistent', async () => {
    const h = setup();
    const response = await h.redeem(...(await codeAndVerifier(h, 'mcp:tools mcp:admin')), authOf('public'));
    const tokens = await response.json();
    const claims = decodeJWT(tokens.access_token).payload;
    for (const name of ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti']) expect(claims, name).toHaveProperty(name);
    expect(claims.iss).toBe(ISSUER);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.sub).toBe(SUBJECT);
    expect(claims.client_id).toBe('public-app');
    expect(claims.scope).toBe('mcp:tools mcp:admin');
    expect(claims.iat).toBe(Math.floor(h.now / 1000));
    expect((claims.exp as number) - (claims.iat as number)).toBe(tokens.expires_in);
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{16,}$/);
  });

  it('AUTHZ-JWT-03: no scope claim when no scope was requested or granted; jti is unique', async () => {
    const h = setup();
    const a = await h.login({ scope: undefined });
    expect(decodeJWT(a.access_token).payload).not.toHaveProperty('scope');
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) jtis.add(decodeJWT((await h.login()).access_token).payload.jti);
    expect(jtis.size).toBe(20);
  });

  it('AUTHZ-JWT-03: the access token lifetime is configurable and exp follows it', async () => {
    const h = setup({ ttl: { accessToken: 300 } });
    const tokens = await h.login();
    expect(tokens.expires_in).toBe(300);
    const claims = decodeJWT(tokens.access_token).payload;
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
  });

  it('AUTHZ-JWT-04: sub is the user for user grants and the client for client_credentials', async () => {
    const h = setup({ interactive: true });
    const { verifier } = await h.authorize();
    const done = await h.server.completeInteraction(h.pending[0]!.interactionId, { subject: 'alice@upstream' });
    const code = new URL(done.headers.get('location')!).searchParams.get('code')!;
    const user = await (await h.redeem(code, verifier, authOf('public'))).json();
    expect(decodeJWT(user.access_token).payload).toMatchObject({ sub: 'alice@upstream', client_id: 'public-app' });
    const machine = await (await h.token({ grant_type: 'client_credentials' }, authOf('machine'))).json();
    expect(decodeJWT(machine.access_token).payload).toMatchObject({ sub: 'machine', client_id: 'machine' });
  });

  it('AUTHZ-JWT-05: an ID token presented as a bearer token is refused (invalid_token)', async () => {
    for (const algorithm of ['ES256', 'RS256'] as const) {
      const h = setup({ signing: { algorithm } });
      const tokens = await h.login({ scope: 'openid mcp:tools' });
      expect(tokens.id_token).toBeTypeOf('string');
      const result = await h.bearer(tokens.id_token!);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.response.status).toBe(401);
        expect(result.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }
    }
  });

  it('AUTHZ-JWT-05: the guard accepts typ at+jwt or application/at+jwt only', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const guard = new ResourceServerGuard({
      issuer: ISSUER,
      resource: RESOURCE,
      resourceMetadataUrl: wellKnownURL(RESOURCE, 'oauth-protected-resource'),
      keys: createLocalJWKSet({ keys: [jwk] }),
    });
    const sign = (typ: string | undefined) =>
      new SignJWT({ client_id: 'c', scope: 'mcp:tools' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...(typ && { typ }) })
        .setIssuer(ISSUER)
        .setSubject('u')
        .setAudience(RESOURCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti('j1')
        .sign(privateKey);
    const check = async (typ: string | undefined) =>
      (await guard.authenticate(new Request(RESOURCE, { headers: { authorization: `Bearer ${await sign(typ)}` } }))).ok;
    expect(await check('at+jwt')).toBe(true);
    expect(await check('application/at+jwt')).toBe(true);
    expect(await check('JWT')).toBe(false);
    expect(await check(undefined)).toBe(false);
    expect(await check('dpop+jwt')).toBe(false);
  });

  it('AUTHZ-DISC-05: ID tokens are RS256 (whatever the access-token algorithm) and verify against the JWKS', async () => {
    const h = setup();
    const tokens = await h.login({ scope: 'openid' });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    const { payload } = await jwtVerify(tokens.id_token!, createLocalJWKSet(await jwksOf(h)), {
      issuer: ISSUER,
      audience: 'public-app',
      currentDate: new Date(h.now),
    });
    expect(payload.sub).toBe(SUBJECT);
  });
});

async function codeAndVerifier(h: Harness, scope: string): Promise<[string, string]> {
  const { code, verifier } = await h.code({ scope });
  return [code, verifier];
}
