import { expect, it } from 'vitest';
import type { JWTPayload } from 'jose';
import type { TokenLoginProvider } from '@keyward/core';
import { UpstreamLoginError } from '../src/index.js';
import { now, sign, signWithPublicKeyAsHMACSecret, signingKey, unsignedToken } from './support.js';
import type { SigningKey } from './support.js';

/** What each token provider's suite supplies to the shared attack cases. */
export interface ForgeryContext {
  provider: () => TokenLoginProvider;
  /** The published key the provider trusts. */
  key: () => SigningKey;
  /** A payload the provider accepts as is. */
  validPayload: () => JWTPayload;
  /** False for tokens that carry no audience (Clerk session tokens). */
  checksAudience?: boolean;
}

export async function expectRejected(provider: TokenLoginProvider, token: string, reason?: string): Promise<void> {
  const error = await provider.verifyToken(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamLoginError);
  expect((error as UpstreamLoginError).code).toBe('invalid_token');
  if (reason) expect((error as UpstreamLoginError).message).toBe(reason);
}

/** The attacks every JWT verifier must stop; registered as `it` cases inside the caller's describe. */
export function rejectsForgedTokens(context: ForgeryContext): void {
  const { provider, key, validPayload } = context;

  it('rejects a wrong issuer', async () => {
    await expectRejected(provider(), await sign(key(), { ...validPayload(), iss: 'https://evil.example.test' }), 'unexpected "iss" claim');
  });

  it.skipIf(context.checksAudience === false)('rejects a wrong audience', async () => {
    await expectRejected(provider(), await sign(key(), { ...validPayload(), aud: 'someone-else' }), 'unexpected "aud" claim');
  });

  it('rejects an expired token', async () => {
    await expectRejected(provider(), await sign(key(), { ...validPayload(), exp: now() - 60 }), 'token expired');
  });

  it('rejects a token without exp', async () => {
    const { exp, ...payload } = validPayload();
    await expectRejected(provider(), await sign(key(), payload));
  });

  it('AUTHZ-JWT-02: rejects a kid that is not in the key set', async () => {
    const stranger = await signingKey(key().alg, 'not-published');
    await expectRejected(provider(), await sign(stranger, validPayload()), 'unknown signing key');
  });

  it('rejects a known kid with a signature from another key', async () => {
    const impostor = await signingKey(key().alg, key().kid);
    await expectRejected(provider(), await sign(impostor, validPayload()), 'invalid signature');
  });

  it('rejects a token without kid', async () => {
    await expectRejected(provider(), await sign(key(), validPayload(), { kid: undefined }), 'token has no key id');
  });

  it('rejects HS256 signed with the public key (algorithm confusion)', async () => {
    await expectRejected(provider(), await signWithPublicKeyAsHMACSecret(key(), validPayload()), 'algorithm not allowed');
  });

  it('AUTHZ-JWT-02: rejects alg none', async () => {
    await expectRejected(provider(), unsignedToken(validPayload(), key().kid));
  });

  it('rejects garbage', async () => {
    await expectRejected(provider(), 'not.a.jwt', 'malformed token');
    await expectRejected(provider(), '', 'malformed token');
  });
}
