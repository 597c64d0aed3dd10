import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { clerkProvider, clerkProviderFromEnv } from '../src/index.js';
import type { ClerkProviderOptions } from '../src/index.js';
import { expectRejected, rejectsForgedTokens } from './forged-tokens.js';
import { now, sendJSON, sign, signingKey, startJWKSServer, startServer } from './support.js';
import type { LocalServer, SigningKey } from './support.js';

const APP = 'https://app.example.test';
let key: SigningKey;
let frontendApi: Awaited<ReturnType<typeof startJWKSServer>>;
let backendApi: LocalServer;
const backendRequests: { url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  key = await signingKey('RS256', 'ins_2abc');
  frontendApi = await startJWKSServer('/.well-known/jwks.json', [key]);
  backendApi = await startServer((req, res) => {
    backendRequests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (req.headers.authorization !== 'Bearer sk_test_secret') return sendJSON(res, 401, { errors: [] });
    if (req.url !== '/v1/users/user_2xyz') return sendJSON(res, 404, { errors: [] });
    sendJSON(res, 200, {
      id: 'user_2xyz',
      username: 'ada',
      first_name: 'Ada',
      last_name: 'Lovelace',
      image_url: 'https://img.clerk.test/ada.png',
      primary_email_address_id: 'idn_2',
      email_addresses: [
        { id: 'idn_1', email_address: 'old@example.test', verification: { status: 'unverified' } },
        { id: 'idn_2', email_address: 'ada@example.test', verification: { status: 'verified' } },
      ],
    });
  });
});
afterAll(async () => {
  await frontendApi.close();
  await backendApi.close();
});

const provider = (extra: ClerkProviderOptions = {}) => clerkProvider({ frontendApi: frontendApi.url, ...extra });
const validPayload = () => ({
  iss: frontendApi.url,
  sub: 'user_2xyz',
  sid: 'sess_2abc',
  azp: APP,
  iat: now() - 5,
  nbf: now() - 5,
  exp: now() + 60,
});

describe('clerkProvider', () => {
  it('verifies a session token from the instance key set: subject clerk:<user id>', async () => {
    await expect(provider().verifyToken(await sign(key, validPayload()))).resolves.toEqual({ subject: 'clerk:user_2xyz', claims: {} });
  });

  // Session tokens carry no aud; azp plays its part (below).
  rejectsForgedTokens({ provider: () => provider({ authorizedParties: [APP] }), key: () => key, validPayload, checksAudience: false });

  it('rejects a token that is not yet valid (nbf)', async () => {
    await expectRejected(provider(), await sign(key, { ...validPayload(), nbf: now() + 600 }), 'unexpected "nbf" claim');
  });

  it('checks azp against authorizedParties, and then requires it', async () => {
    const strict = provider({ authorizedParties: [APP, 'https://admin.example.test'] });
    await expect(strict.verifyToken(await sign(key, validPayload()))).resolves.toMatchObject({ subject: 'clerk:user_2xyz' });
    await expectRejected(strict, await sign(key, { ...validPayload(), azp: 'https://evil.example.test' }), 'unexpected "azp" claim');
    const { azp, ...withoutAzp } = validPayload();
    await expectRejected(strict, await sign(key, withoutAzp), 'unexpected "azp" claim');
    // Without a list, azp is not checked.
    await expect(provider().verifyToken(await sign(key, withoutAzp))).resolves.toBeDefined();
  });

  it('fetches the profile from the Backend API with the secret key when asked', async () => {
    const detailed = provider({ fetchUserDetails: true, secretKey: 'sk_test_secret', apiUrl: backendApi.url });
    const identity = await detailed.verifyToken(await sign(key, validPayload()));
    expect(identity.claims).toEqual({
      name: 'Ada Lovelace',
      preferred_username: 'ada',
      picture: 'https://img.clerk.test/ada.png',
      email: 'ada@example.test',
      email_verified: true,
    });
    expect(backendRequests.at(-1)).toEqual({ url: '/v1/users/user_2xyz', authorization: 'Bearer sk_test_secret' });
  });

  it('reports a Backend API failure as unavailable, and never calls it for a rejected token', async () => {
    const wrongKey = provider({ fetchUserDetails: true, secretKey: 'sk_test_wrong', apiUrl: backendApi.url });
    await expect(wrongKey.verifyToken(await sign(key, validPayload()))).rejects.toMatchObject({ code: 'unavailable' });
    const calls = backendRequests.length;
    await expectRejected(wrongKey, await sign(key, { ...validPayload(), exp: now() - 60 }));
    expect(backendRequests.length).toBe(calls);
  });

  describe('configuration', () => {
    const pk = (host: string, kind = 'test') => `pk_${kind}_${Buffer.from(`${host}$`).toString('base64')}`;

    it('derives the Frontend API from the publishable key, given or read by clerkProviderFromEnv', () => {
      expect(clerkProvider({ publishableKey: pk('clerk.example.com', 'live') }).issuer).toBe('https://clerk.example.com');
      const env = { CLERK_PUBLISHABLE_KEY: pk('happy-hen-12.clerk.accounts.dev') };
      expect(clerkProviderFromEnv({}, env)).toMatchObject({ id: 'clerk', issuer: 'https://happy-hen-12.clerk.accounts.dev' });
      expect(clerkProviderFromEnv({ publishableKey: pk('clerk.example.com') }, env).issuer).toBe('https://clerk.example.com');
      expect(() => clerkProviderFromEnv({}, { CLERK_PUBLISHABLE_KEY: '' })).toThrow(/CLERK_PUBLISHABLE_KEY/);
    });

    it('takes the Frontend API as a host or a URL', () => {
      expect(clerkProvider({ frontendApi: 'clerk.example.com' }).issuer).toBe('https://clerk.example.com');
      expect(clerkProvider({ frontendApi: 'https://clerk.example.com/' }).issuer).toBe('https://clerk.example.com');
    });

    it('UPS-ENV-01: clerkProvider reads nothing from process.env, secrets included', () => {
      vi.stubEnv('CLERK_PUBLISHABLE_KEY', pk('happy-hen-12.clerk.accounts.dev'));
      vi.stubEnv('CLERK_FRONTEND_API', 'clerk.example.com');
      vi.stubEnv('CLERK_SECRET_KEY', 'sk_test_from_process_env');
      try {
        expect(() => clerkProvider()).toThrow(KeywardConfigError);
        expect(() => clerkProvider({ frontendApi: 'clerk.example.com', fetchUserDetails: true })).toThrow(/secretKey/);
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it('rejects a malformed publishable key and fetchUserDetails without a secret key', () => {
      expect(() => clerkProvider({ publishableKey: 'pk_test_bm90LWEta2V5' })).toThrow(KeywardConfigError);
      expect(() => clerkProvider({ publishableKey: 'sk_test_abc' })).toThrow(KeywardConfigError);
      expect(() => clerkProvider({ frontendApi: 'clerk.example.com', fetchUserDetails: true })).toThrow(KeywardConfigError);
      // With CLERK_SECRET_KEY, clerkProviderFromEnv turns fetchUserDetails on and passes the key along.
      expect(() => clerkProviderFromEnv({}, { CLERK_PUBLISHABLE_KEY: pk('clerk.example.com'), CLERK_SECRET_KEY: 'sk_test_abc' })).not.toThrow();
    });
  });
});
