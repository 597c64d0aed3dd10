import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { FIREBASE_JWKS_URI, firebaseProvider, firebaseProviderFromEnv } from '../src/index.js';
import { expectRejected, rejectsForgedTokens } from './forged-tokens.js';
import { now, sign, signingKey, startJWKSServer } from './support.js';
import type { SigningKey } from './support.js';

const PROJECT = 'keyward-test';
let key: SigningKey;
let jwks: Awaited<ReturnType<typeof startJWKSServer>>;

beforeAll(async () => {
  key = await signingKey('RS256', 'firebase-key-1');
  jwks = await startJWKSServer('/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com', [key]);
});
afterAll(() => jwks.close());

const provider = () => firebaseProvider({ projectId: PROJECT, jwksUri: jwks.jwksUri });
const validPayload = () => ({
  iss: `https://securetoken.google.com/${PROJECT}`,
  aud: PROJECT,
  sub: 'uid-123',
  iat: now() - 10,
  exp: now() + 3600,
  auth_time: now() - 60,
  name: 'Ada',
  email: 'ada@example.test',
  email_verified: true,
  picture: 'https://example.test/ada.png',
  firebase: { sign_in_provider: 'google.com' },
});

describe('firebaseProvider', () => {
  it('verifies a Firebase ID token: subject firebase:<uid> and profile claims only', async () => {
    const identity = await provider().verifyToken(await sign(key, validPayload()));
    expect(identity).toEqual({
      subject: 'firebase:uid-123',
      claims: { name: 'Ada', email: 'ada@example.test', email_verified: true, picture: 'https://example.test/ada.png' },
    });
  });

  rejectsForgedTokens({ provider, key: () => key, validPayload });

  it('rejects RS256 look-alikes: an ES256 token even from a published key', async () => {
    const ecKey = await signingKey('ES256', 'ec-key');
    const withEC = await startJWKSServer('/jwks', [key, ecKey]);
    try {
      await expectRejected(firebaseProvider({ projectId: PROJECT, jwksUri: withEC.jwksUri }), await sign(ecKey, validPayload()), 'algorithm not allowed');
    } finally {
      await withEC.close();
    }
  });

  it('rejects auth_time in the future, or missing', async () => {
    await expectRejected(provider(), await sign(key, { ...validPayload(), auth_time: now() + 600 }), 'unexpected "auth_time" claim');
    const { auth_time, ...payload } = validPayload();
    await expectRejected(provider(), await sign(key, payload), 'unexpected "auth_time" claim');
  });

  it('rejects iat in the future', async () => {
    await expectRejected(provider(), await sign(key, { ...validPayload(), iat: now() + 600 }), 'unexpected "iat" claim');
  });

  it('rejects an empty sub and one longer than 128 characters', async () => {
    await expectRejected(provider(), await sign(key, { ...validPayload(), sub: '' }));
    await expectRejected(provider(), await sign(key, { ...validPayload(), sub: 'u'.repeat(129) }), 'unexpected "sub" claim');
    await expect(provider().verifyToken(await sign(key, { ...validPayload(), sub: 'u'.repeat(128) }))).resolves.toBeDefined();
  });

  it('reads the time from an injected clock', async () => {
    const token = await sign(key, validPayload());
    const later = firebaseProvider({ projectId: PROJECT, jwksUri: jwks.jwksUri, clock: () => Date.now() + 2 * 3600_000 });
    await expectRejected(later, token, 'token expired');
  });

  it('fetches the key set once and keeps it', async () => {
    const before = jwks.fetches();
    const cached = provider();
    await cached.verifyToken(await sign(key, validPayload()));
    await cached.verifyToken(await sign(key, validPayload()));
    expect(jwks.fetches() - before).toBe(1);
  });

  it('reports an unreachable key set as unavailable', async () => {
    const gone = await startJWKSServer('/jwks', [key]);
    await gone.close();
    const error = await firebaseProvider({ projectId: PROJECT, jwksUri: gone.jwksUri }).verifyToken(await sign(key, validPayload())).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable' });
  });

  describe('configuration', () => {
    it('defaults to Google\u2019s key set; firebaseProviderFromEnv reads FIREBASE_PROJECT_ID', () => {
      expect(firebaseProviderFromEnv({}, { FIREBASE_PROJECT_ID: 'from-env' })).toMatchObject({ id: 'firebase', issuer: 'https://securetoken.google.com/from-env' });
      expect(FIREBASE_JWKS_URI).toBe('https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com');
    });

    it('takes the project id from a service-account key (FIREBASE_SERVICE_ACCOUNT_KEY), as JSON or as a path', () => {
      const json = JSON.stringify({ type: 'service_account', project_id: 'from-key', private_key: 'secret' });
      const file = join(mkdtempSync(join(tmpdir(), 'keyward-')), 'sa.json');
      writeFileSync(file, json);
      for (const value of [json, file]) {
        expect(firebaseProvider({ serviceAccount: value }).issuer).toBe('https://securetoken.google.com/from-key');
        expect(firebaseProviderFromEnv({}, { FIREBASE_SERVICE_ACCOUNT_KEY: value }).issuer).toBe('https://securetoken.google.com/from-key');
      }
      const error = (() => {
        try {
          firebaseProviderFromEnv({}, { FIREBASE_SERVICE_ACCOUNT_KEY: '{"private_key": "secret"' });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(KeywardConfigError);
      expect(error?.message).not.toContain('secret');
    });

    it('refuses to start without a project id, and never takes one from process.env', () => {
      expect(() => firebaseProviderFromEnv({}, {})).toThrow(/FIREBASE_PROJECT_ID/);
      vi.stubEnv('FIREBASE_PROJECT_ID', 'from-process-env');
      try {
        expect(() => firebaseProvider()).toThrow(KeywardConfigError);
      } finally {
        vi.unstubAllEnvs();
      }
    });
  });
});
