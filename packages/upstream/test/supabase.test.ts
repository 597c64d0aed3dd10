import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { supabaseProvider, supabaseProviderFromEnv } from '../src/index.js';
import type { SupabaseProviderOptions } from '../src/index.js';
import { expectRejected, rejectsForgedTokens } from './forged-tokens.js';
import { now, sign, signingKey, startJWKSServer } from './support.js';
import type { SigningKey } from './support.js';

const JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
let key: SigningKey;
let project: Awaited<ReturnType<typeof startJWKSServer>>;

beforeAll(async () => {
  key = await signingKey('ES256', 'supabase-key-1');
  // Served where a Supabase project serves it, so the default jwksUri is what is tested.
  project = await startJWKSServer('/auth/v1/.well-known/jwks.json', [key]);
});
afterAll(() => project.close());

const provider = (extra: SupabaseProviderOptions = {}) => supabaseProvider({ url: project.url, ...extra });
const validPayload = () => ({
  iss: `${project.url}/auth/v1`,
  aud: 'authenticated',
  role: 'authenticated',
  sub: '8f4e2d1c-0000-4000-8000-000000000001',
  iat: now() - 5,
  exp: now() + 3600,
  email: 'ada@example.test',
  phone: '',
  is_anonymous: false,
  app_metadata: { provider: 'github' },
  user_metadata: { full_name: 'Ada Lovelace', name: 'ada' },
});
const hs256 = (payload: object, secret = JWT_SECRET) =>
  new SignJWT({ ...payload }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

describe('supabaseProvider', () => {
  it('verifies an access token signed by the project\u2019s key: subject supabase:<user id>', async () => {
    const identity = await provider().verifyToken(await sign(key, validPayload()));
    expect(identity).toEqual({ subject: `supabase:${validPayload().sub}`, claims: { email: 'ada@example.test', name: 'Ada Lovelace' } });
  });

  it('maps phone to phone_number and user_metadata.name when there is no full_name', async () => {
    const payload = { ...validPayload(), email: '', phone: '15551234567', user_metadata: { name: 'ada' } };
    expect((await provider().verifyToken(await sign(key, payload))).claims).toEqual({ name: 'ada', phone_number: '15551234567' });
  });

  rejectsForgedTokens({ provider, key: () => key, validPayload });

  it('rejects the project\u2019s anon API key and anonymous users unless allowed', async () => {
    await expectRejected(provider(), await sign(key, { ...validPayload(), aud: undefined, role: 'anon', iss: 'supabase' }));
    const anonymous = await sign(key, { ...validPayload(), is_anonymous: true });
    await expectRejected(provider(), anonymous, 'anonymous user');
    await expect(provider({ allowAnonymous: true }).verifyToken(anonymous)).resolves.toBeDefined();
  });

  describe('with the legacy JWT secret', () => {
    const legacy = () => provider({ jwtSecret: JWT_SECRET });

    it('verifies HS256 tokens signed with it', async () => {
      await expect(legacy().verifyToken(await hs256(validPayload()))).resolves.toMatchObject({ subject: `supabase:${validPayload().sub}` });
    });

    it('still accepts tokens from the asymmetric keys, for projects mid-migration', async () => {
      await expect(legacy().verifyToken(await sign(key, validPayload()))).resolves.toBeDefined();
    });

    it('rejects another secret, the public key as secret, wrong claims and expiry', async () => {
      await expectRejected(legacy(), await hs256(validPayload(), 'another-secret-another-secret-another'), 'invalid signature');
      await expectRejected(legacy(), await hs256(validPayload(), new TextDecoder().decode(key.publicPEMBytes)), 'invalid signature');
      await expectRejected(legacy(), await hs256({ ...validPayload(), aud: 'anon' }), 'unexpected "aud" claim');
      await expectRejected(legacy(), await hs256({ ...validPayload(), iss: 'https://other.supabase.co/auth/v1' }), 'unexpected "iss" claim');
      await expectRejected(legacy(), await hs256({ ...validPayload(), exp: now() - 60 }), 'token expired');
    });

    it('never accepts HS256 without a configured secret', async () => {
      await expectRejected(provider(), await hs256(validPayload()), 'algorithm not allowed');
    });
  });

  describe('configuration', () => {
    it('supabaseProviderFromEnv reads SUPABASE_URL and SUPABASE_JWT_SECRET', async () => {
      const fromEnv = supabaseProviderFromEnv({}, { SUPABASE_URL: `${project.url}/`, SUPABASE_JWT_SECRET: JWT_SECRET });
      expect(fromEnv).toMatchObject({ id: 'supabase', issuer: `${project.url}/auth/v1` });
      await expect(fromEnv.verifyToken(await hs256(validPayload()))).resolves.toBeDefined();
    });

    it('UPS-ENV-01: supabaseProvider takes no secret from process.env', async () => {
      vi.stubEnv('SUPABASE_JWT_SECRET', JWT_SECRET);
      try {
        await expectRejected(supabaseProvider({ url: project.url }), await hs256(validPayload()), 'algorithm not allowed');
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it('takes a jwksUri override', async () => {
      const elsewhere = await startJWKSServer('/keys', [key]);
      try {
        await expect(provider({ jwksUri: elsewhere.jwksUri }).verifyToken(await sign(key, validPayload()))).resolves.toBeDefined();
        expect(elsewhere.fetches()).toBe(1);
      } finally {
        await elsewhere.close();
      }
    });

    it('refuses to start without a project URL', () => {
      expect(() => supabaseProvider()).toThrow(KeywardConfigError);
      expect(() => supabaseProviderFromEnv({}, { SUPABASE_URL: '' })).toThrow(/SUPABASE_URL/);
    });
  });
});
