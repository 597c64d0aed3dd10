/**
 * The conformance suite every {@link Store} implementation must pass.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../protocol/crypto.js';
import { sha256Sync } from './sha256-sync.js';
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  ConsentRecord,
  GrantRecord,
  InteractionRecord,
  RefreshTokenRecord,
  RevocationRecord,
  SigningKeyRecord,
  Store,
} from '../store/store.js';

/**
 * Options of {@link testStore}.
 *
 * @example
 * ```ts
 * const options: TestStoreOptions = {
 *   name: 'postgres',
 *   create: (clock) => new PostgresStore({ pool, clock }),
 *   cleanup: (store) => store.close?.(),
 *   skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set',
 * };
 * ```
 */
export interface TestStoreOptions {
  /** Display name, e.g. 'memory', 'postgres'. */
  name: string;
  /**
   * Creates a fresh, empty store using the given clock (epoch ms). Real-server stores (Redis) may ignore the
   * clock for native TTLs but must use it for expiry decisions.
   */
  create: (clock: () => number) => Promise<Store> | Store;
  /** Called after each test with the store it created. */
  cleanup?: ((store: Store) => Promise<void> | void) | undefined;
  /** Skip the whole suite, with a printed reason (e.g. server not reachable). */
  skip?: string | false | undefined;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// In the future, so a store that derives native TTLs from the wall clock still keeps the suite's records.
const START = Date.UTC(2030, 0, 1);
const RESOURCE = 'http://localhost:3009/mcp';
const REDIRECT_URI = 'http://127.0.0.1:33418/callback';

/** What the server would store for a secret: its SHA-256, base64url. */
function hashOf(secret: string): string {
  return sha256Sync(secret);
}

/**
 * Registers a vitest suite that checks a {@link Store} against the contract in `store.ts`: expiry judged by
 * the store's clock, the atomic operations under concurrent calls, and records that round-trip unchanged.
 * Time is a fake clock handed to `create`, so nothing sleeps. Requires vitest (an optional peer dependency).
 *
 * @example
 * ```ts
 * // test/redis-store.test.ts
 * import { testStore } from '@keyward/core/testing';
 * import { RedisStore } from '../src/index.js';
 *
 * testStore({
 *   name: 'redis',
 *   create: (clock) => new RedisStore({ url: process.env.REDIS_URL, clock }),
 *   cleanup: async (store) => { await (store as RedisStore).flush(); await store.close?.(); },
 *   skip: process.env.REDIS_URL ? false : 'REDIS_URL is not set',
 * });
 * ```
 */
export function testStore(options: TestStoreOptions): void {
  const { name, create, cleanup, skip } = options;
  if (skip) console.warn(`[keyward] skipping store suite "${name}": ${skip}`);
  const suite = skip ? describe.skip : describe;

  suite(`store conformance: ${name}`, () => {
    let now = START;
    const clock = (): number => now;
    let store: Store;

    beforeEach(async () => {
      now = START;
      store = await create(clock);
    });

    afterEach(async () => {
      await cleanup?.(store);
    });

    // Record factories: every required field filled with a realistic value, times relative to the clock.

    const client = (overrides: Partial<ClientRecord> = {}): ClientRecord => ({
      clientId: 'client-claude',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [REDIRECT_URI],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      metadata: {
        client_name: 'Claude Desktop',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
      },
      createdAt: now,
      expiresAt: null,
      ...overrides,
    });

    const grant = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
      grantId: 'grant-1',
      clientId: 'client-claude',
      subject: 'user-42',
      scopes: ['mcp:tools', 'mcp:resources'],
      resources: [RESOURCE],
      createdAt: now,
      expiresAt: now + 30 * DAY,
      ...overrides,
    });

    const code = (overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
      codeHash: hashOf('code-1'),
      grantId: 'grant-1',
      clientId: 'client-claude',
      subject: 'user-42',
      redirectUri: REDIRECT_URI,
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      scopes: ['mcp:tools'],
      resources: [RESOURCE],
      createdAt: now,
      expiresAt: now + MINUTE,
      ...overrides,
    });

    const refreshToken = (overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
      tokenHash: hashOf('refresh-1'),
      grantId: 'grant-1',
      clientId: 'client-claude',
      subject: 'user-42',
      scopes: ['mcp:tools'],
      resources: [RESOURCE],
      createdAt: now,
      expiresAt: now + 30 * DAY,
      ...overrides,
    });

    const interaction = (overrides: Partial<InteractionRecord> = {}): InteractionRecord => ({
      interactionId: 'interaction-1',
      clientId: 'client-claude',
      redirectUri: REDIRECT_URI,
      state: 'af0ifjsldkj',
      scopes: ['mcp:tools'],
      resources: [RESOURCE],
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      responseMode: 'query',
      createdAt: now,
      expiresAt: now + 10 * MINUTE,
      ...overrides,
    });

    const session = (overrides: Partial<BrowserSessionRecord> = {}): BrowserSessionRecord => ({
      sessionHash: hashOf('session-cookie-1'),
      subject: 'user-42',
      claims: { name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true },
      authTime: Math.floor(now / SECOND),
      createdAt: now,
      expiresAt: now + HOUR,
      ...overrides,
    });

    const consent = (overrides: Partial<ConsentRecord> = {}): ConsentRecord => ({
      subject: 'user-42',
      clientId: 'client-claude',
      scopes: ['mcp:tools', 'openid'],
      createdAt: now,
      expiresAt: now + 30 * DAY,
      ...overrides,
    });

    const revocation = (overrides: Partial<RevocationRecord> = {}): RevocationRecord => ({
      key: 'grant:grant-1',
      revokedAt: now,
      expiresAt: now + HOUR,
      ...overrides,
    });

    const signingKey = (overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
      kid: 'key-2030-01',
      alg: 'ES256',
      privateJwk: {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
      },
      publicJwk: {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      },
      createdAt: now,
      retiresAt: now + 90 * DAY,
      expiresAt: now + 91 * DAY,
      ...overrides,
    });

    /** Runs `count` copies of `call` without awaiting in between, as concurrent requests would. */
    const concurrently = <T>(count: number, call: (index: number) => Promise<T>): Promise<T[]> =>
      Promise.all(Array.from({ length: count }, (_, index) => call(index)));

    describe('clients', () => {
      it('saves, reads, overwrites and deletes a client', async () => {
        expect(await store.getClient('client-claude')).toBeNull();
        await store.saveClient(client());
        expect(await store.getClient('client-claude')).toEqual(client());

        await store.saveClient(client({ clientName: 'Claude Code', redirectUris: ['http://127.0.0.1:9000/cb'] }));
        expect(await store.getClient('client-claude')).toMatchObject({
          clientName: 'Claude Code',
          redirectUris: ['http://127.0.0.1:9000/cb'],
        });

        await store.deleteClient('client-claude');
        expect(await store.getClient('client-claude')).toBeNull();
      });

      it('round-trips every field of a confidential client, nested metadata included', async () => {
        const full = client({
          clientId: 'client-confidential',
          clientSecretHash: hashOf('client-secret'),
          clientSecretExpiresAt: 0,
          tokenEndpointAuthMethod: 'client_secret_basic',
          redirectUris: ['https://app.example.com/callback', 'https://app.example.com/alt'],
          grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
          scopes: ['mcp:tools', 'mcp:resources', 'offline_access'],
          clientName: 'Example App',
          applicationType: 'web',
          registrationAccessTokenHash: hashOf('registration-token'),
          metadata: {
            client_name: 'Example App',
            redirect_uris: ['https://app.example.com/callback', 'https://app.example.com/alt'],
            contacts: ['ops@example.com'],
            software_statement_claims: { software_id: 'example', version: 3, beta: false, tags: ['a', 'b'] },
            logo_uri: null,
          },
          expiresAt: now + 90 * DAY,
        });
        await store.saveClient(full);
        expect(await store.getClient('client-confidential')).toEqual(full);
      });

      it('returns copies, so mutating a read record leaves the stored one unchanged', async () => {
        await store.saveClient(client());
        const read = await store.getClient('client-claude');
        read!.redirectUris.push('https://evil.example/callback');
        (read!.metadata as { client_name: string }).client_name = 'Evil';
        expect(await store.getClient('client-claude')).toEqual(client());
      });

      it('treats an expired client as absent and keeps one with expiresAt null', async () => {
        await store.saveClient(client({ clientId: 'client-temporary', expiresAt: now + DAY }));
        await store.saveClient(client({ clientId: 'client-forever', expiresAt: null }));
        now += DAY;
        expect(await store.getClient('client-temporary')).toBeNull();
        now += 10_000 * DAY;
        expect(await store.getClient('client-forever')).not.toBeNull();
      });
    });

    describe('grants', () => {
      it('lists a subject\'s unexpired grants, newest first, revoked ones included', async () => {
        await store.saveGrant(grant({ grantId: 'grant-a', createdAt: now - 2 * MINUTE }));
        await store.saveGrant(grant({ grantId: 'grant-b', createdAt: now - MINUTE, clientId: 'client-cursor' }));
        await store.saveGrant(grant({ grantId: 'grant-short', createdAt: now - 3 * MINUTE, expiresAt: now + MINUTE }));
        await store.saveGrant(grant({ grantId: 'grant-other', subject: 'user-43' }));
        await store.revokeGrant('grant-a', now);
        expect((await store.listGrants('user-42')).map((g) => g.grantId)).toEqual(['grant-b', 'grant-a', 'grant-short']);
        expect((await store.listGrants('user-42')).find((g) => g.grantId === 'grant-a')?.revokedAt).toBe(now);
        now += MINUTE;
        expect((await store.listGrants('user-42')).map((g) => g.grantId)).toEqual(['grant-b', 'grant-a']);
        expect(await store.listGrants('user-44')).toEqual([]);
      });

      it('saves and reads a grant', async () => {
        const full = grant({ authTime: Math.floor(now / 1000), claims: { name: 'Ada', email: 'ada@example.com' }, upstreamTokens: 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag' });
        await store.saveGrant(full);
        expect(await store.getGrant('grant-1')).toEqual(full);
        expect(await store.getGrant('grant-unknown')).toBeNull();
      });

      it('revokeGrant sets revokedAt and keeps the first one when repeated', async () => {
        await store.saveGrant(grant());
        await store.revokeGrant('grant-1', now + 1);
        await store.revokeGrant('grant-1', now + 2);
        expect(await store.getGrant('grant-1')).toEqual({ ...grant(), revokedAt: now + 1 });
      });

      it('revoking an unknown grant is a no-op', async () => {
        await expect(store.revokeGrant('grant-unknown', now)).resolves.toBeUndefined();
        expect(await store.getGrant('grant-unknown')).toBeNull();
      });

      it('treats an expired grant as absent', async () => {
        await store.saveGrant(grant({ expiresAt: now + HOUR }));
        now += HOUR - 1;
        expect(await store.getGrant('grant-1')).not.toBeNull();
        now += 1;
        expect(await store.getGrant('grant-1')).toBeNull();
      });
    });

    describe('authorization codes', () => {
      it('reads a code without consuming it, before and after consumption', async () => {
        await store.saveAuthorizationCode(code());
        expect(await store.getAuthorizationCode(code().codeHash)).toEqual(code());
        expect((await store.consumeAuthorizationCode(code().codeHash))?.firstUse).toBe(true);
        expect(await store.getAuthorizationCode(code().codeHash)).toEqual(code());
        expect(await store.getAuthorizationCode(hashOf('code-2'))).toBeNull();
        now += MINUTE;
        expect(await store.getAuthorizationCode(code().codeHash)).toBeNull();
      });

      it('AUTHZ-CODE-04: 50 concurrent consumes of one code give exactly one firstUse', async () => {
        await store.saveAuthorizationCode(code());
        const results = await concurrently(50, () => store.consumeAuthorizationCode(code().codeHash));
        expect(results.every((result) => result !== null)).toBe(true);
        expect(results.filter((result) => result?.firstUse === true)).toHaveLength(1);
      });

      it('returns the same record with firstUse false on replay', async () => {
        const record = code();
        await store.saveAuthorizationCode(record);
        expect(await store.consumeAuthorizationCode(record.codeHash)).toEqual({ record, firstUse: true });
        now += 10 * SECOND;
        expect(await store.consumeAuthorizationCode(record.codeHash)).toEqual({ record, firstUse: false });
        expect(await store.consumeAuthorizationCode(record.codeHash)).toEqual({ record, firstUse: false });
      });

      it('returns null for an unknown code', async () => {
        expect(await store.consumeAuthorizationCode(hashOf('never-issued'))).toBeNull();
      });

      it('AUTHZ-IMPL-02: expiry judged by the store clock', async () => {
        await store.saveAuthorizationCode(code({ codeHash: hashOf('code-unused') }));
        await store.saveAuthorizationCode(code({ codeHash: hashOf('code-used') }));
        expect((await store.consumeAuthorizationCode(hashOf('code-used')))?.firstUse).toBe(true);

        now += MINUTE;
        expect(await store.consumeAuthorizationCode(hashOf('code-unused'))).toBeNull();
        expect(await store.consumeAuthorizationCode(hashOf('code-used'))).toBeNull();
      });
    });

    describe('refresh tokens', () => {
      it('saves and reads a refresh token', async () => {
        await store.saveRefreshToken(refreshToken());
        expect(await store.getRefreshToken(refreshToken().tokenHash)).toEqual(refreshToken());
        expect(await store.getRefreshToken(hashOf('refresh-unknown'))).toBeNull();
      });

      it('AUTHZ-RT-07: 20 concurrent rotations of one refresh token give exactly one successor', async () => {
        const presented = refreshToken();
        await store.saveRefreshToken(presented);
        const successors = Array.from({ length: 20 }, (_, i) => refreshToken({ tokenHash: hashOf(`refresh-2-${i}`) }));
        const results = await concurrently(20, (i) => store.rotateRefreshToken(presented.tokenHash, successors[i]!));

        expect(results.filter((result) => result.status === 'rotated')).toHaveLength(1);
        expect(results.filter((result) => result.status === 'reused')).toHaveLength(19);
        const stored = await Promise.all(successors.map((successor) => store.getRefreshToken(successor.tokenHash)));
        const winner = results.findIndex((result) => result.status === 'rotated');
        expect(stored.map((record) => record !== null)).toEqual(successors.map((_, i) => i === winner));
      });

      it('marks the presented token rotated and stores the successor', async () => {
        const presented = refreshToken();
        await store.saveRefreshToken(presented);
        now += HOUR;
        const successor = refreshToken({ tokenHash: hashOf('refresh-2') });
        const result = await store.rotateRefreshToken(presented.tokenHash, successor);

        expect(result).toMatchObject({ status: 'rotated', previous: { tokenHash: presented.tokenHash, grantId: 'grant-1' } });
        expect(await store.getRefreshToken(presented.tokenHash)).toEqual({ ...presented, rotatedAt: now });
        expect(await store.getRefreshToken(successor.tokenHash)).toEqual(successor);
      });

      it('rotating an already rotated token reports reuse and inserts nothing', async () => {
        const presented = refreshToken();
        await store.saveRefreshToken(presented);
        await store.rotateRefreshToken(presented.tokenHash, refreshToken({ tokenHash: hashOf('refresh-2') }));
        const replay = await store.rotateRefreshToken(presented.tokenHash, refreshToken({ tokenHash: hashOf('refresh-3') }));

        expect(replay).toEqual({ status: 'reused', previous: { ...presented, rotatedAt: now } });
        expect(await store.getRefreshToken(hashOf('refresh-3'))).toBeNull();
      });

      it('reports not_found for an unknown or expired token', async () => {
        const successor = refreshToken({ tokenHash: hashOf('refresh-2') });
        expect(await store.rotateRefreshToken(hashOf('refresh-unknown'), successor)).toEqual({ status: 'not_found' });

        await store.saveRefreshToken(refreshToken({ expiresAt: now + DAY }));
        now += DAY;
        expect(await store.getRefreshToken(refreshToken().tokenHash)).toBeNull();
        expect(await store.rotateRefreshToken(refreshToken().tokenHash, successor)).toEqual({ status: 'not_found' });
        expect(await store.getRefreshToken(successor.tokenHash)).toBeNull();
      });

      it('rotates the successor in turn', async () => {
        await store.saveRefreshToken(refreshToken());
        await store.rotateRefreshToken(refreshToken().tokenHash, refreshToken({ tokenHash: hashOf('refresh-2') }));
        const third = refreshToken({ tokenHash: hashOf('refresh-3') });
        expect((await store.rotateRefreshToken(hashOf('refresh-2'), third)).status).toBe('rotated');
        expect(await store.getRefreshToken(third.tokenHash)).toEqual(third);
      });
    });

    describe('interactions', () => {
      it('saves, reads and consumes an interaction once', async () => {
        const full = interaction({
          nonce: 'n-0S6_WzA2Mj',
          prompt: 'consent',
          maxAge: 3600,
          sessionBinding: hashOf('browser-session'),
        });
        await store.saveInteraction(full);
        expect(await store.getInteraction('interaction-1')).toEqual(full);
        expect(await store.consumeInteraction('interaction-1')).toEqual(full);
        expect(await store.consumeInteraction('interaction-1')).toBeNull();
        expect(await store.getInteraction('interaction-1')).toBeNull();
      });

      it('gives a concurrently consumed interaction to exactly one caller', async () => {
        await store.saveInteraction(interaction());
        const results = await concurrently(20, () => store.consumeInteraction('interaction-1'));
        expect(results.filter((result) => result !== null)).toEqual([interaction()]);
      });

      it('treats an expired interaction as absent', async () => {
        await store.saveInteraction(interaction());
        now += 10 * MINUTE;
        expect(await store.getInteraction('interaction-1')).toBeNull();
        expect(await store.consumeInteraction('interaction-1')).toBeNull();
      });
    });

    describe('browser sessions', () => {
      it('saves, reads and deletes a session by the hash of its cookie', async () => {
        const full = session({ upstreamTokens: 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag' });
        await store.saveSession(full);
        expect(await store.getSession(full.sessionHash)).toEqual(full);
        expect(await store.getSession(hashOf('session-cookie-2'))).toBeNull();
        await store.deleteSession(full.sessionHash);
        expect(await store.getSession(full.sessionHash)).toBeNull();
      });

      it('treats a session past its timeout as absent', async () => {
        await store.saveSession(session());
        now += HOUR;
        expect(await store.getSession(hashOf('session-cookie-1'))).toBeNull();
      });
    });

    describe('consents', () => {
      it('remembers one consent per user and client, replaced when saved again', async () => {
        await store.saveConsent(consent());
        await store.saveConsent(consent({ clientId: 'client-cursor', scopes: ['mcp:tools'] }));
        await store.saveConsent(consent({ scopes: ['mcp:tools', 'openid', 'mcp:admin'] }));
        expect((await store.getConsent('user-42', 'client-claude'))?.scopes).toEqual(['mcp:tools', 'openid', 'mcp:admin']);
        expect((await store.getConsent('user-42', 'client-cursor'))?.scopes).toEqual(['mcp:tools']);
        expect(await store.getConsent('user-43', 'client-claude')).toBeNull();
      });

      it('keeps subjects and client ids apart even when they contain separators', async () => {
        await store.saveConsent(consent({ subject: 'a:b', clientId: 'c' }));
        expect(await store.getConsent('a', 'b:c')).toBeNull();
        expect(await store.getConsent('a:b', 'c')).not.toBeNull();
      });

      it('treats an expired consent as absent', async () => {
        await store.saveConsent(consent());
        now += 30 * DAY;
        expect(await store.getConsent('user-42', 'client-claude')).toBeNull();
      });
    });

    describe('revocations', () => {
      it('lists revocations recorded at or after since', async () => {
        await store.addRevocation(revocation({ key: 'grant:grant-old', revokedAt: now - MINUTE }));
        await store.addRevocation(revocation({ key: 'grant:grant-1', revokedAt: now }));
        await store.addRevocation(revocation({ key: 'jti:4f1c9a', revokedAt: now + MINUTE }));

        const keys = (await store.listRevocations(now)).map((r) => r.key).sort();
        expect(keys).toEqual(['grant:grant-1', 'jti:4f1c9a']);
        expect(await store.listRevocations(now - HOUR)).toHaveLength(3);
        expect(await store.listRevocations(now + HOUR)).toEqual([]);
      });

      it('leaves expired revocations out', async () => {
        const long = revocation({ key: 'jti:long', expiresAt: now + HOUR });
        await store.addRevocation(revocation({ key: 'jti:short', expiresAt: now + MINUTE }));
        await store.addRevocation(long);
        now += MINUTE;
        expect(await store.listRevocations(0)).toEqual([long]);
      });
    });

    describe('signing keys', () => {
      it('saves and lists keys', async () => {
        const hs256: SigningKeyRecord = {
          kid: 'key-hs256',
          alg: 'HS256',
          privateJwk: { kty: 'oct', k: 'GawgguFyGrWKav7AX4VKUg' },
          createdAt: now,
          retiresAt: null,
          expiresAt: null,
        };
        expect(await store.listSigningKeys()).toEqual([]);
        await store.saveSigningKey(signingKey());
        await store.saveSigningKey(hs256);
        const keys = (await store.listSigningKeys()).sort((a, b) => a.kid.localeCompare(b.kid));
        expect(keys).toEqual([signingKey(), hs256].sort((a, b) => a.kid.localeCompare(b.kid)));
      });

      it('replaces a key saved again under the same kid', async () => {
        await store.saveSigningKey(signingKey());
        await store.saveSigningKey(signingKey({ retiresAt: now + MINUTE }));
        expect(await store.listSigningKeys()).toEqual([signingKey({ retiresAt: now + MINUTE })]);
      });

      it('leaves expired keys out', async () => {
        await store.saveSigningKey(signingKey({ kid: 'key-old', retiresAt: now, expiresAt: now + HOUR }));
        await store.saveSigningKey(signingKey());
        now += HOUR;
        expect((await store.listSigningKeys()).map((key) => key.kid)).toEqual(['key-2030-01']);
      });
    });

    describe('markUsed', () => {
      it('is true the first time and false afterwards', async () => {
        expect(await store.markUsed('jti:9b2e', now + MINUTE)).toBe(true);
        expect(await store.markUsed('jti:9b2e', now + MINUTE)).toBe(false);
        expect(await store.markUsed('jti:other', now + MINUTE)).toBe(true);
      });

      it('is true for exactly one of 20 concurrent calls', async () => {
        const results = await concurrently(20, () => store.markUsed('dpop:7c1d', now + MINUTE));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('is true again once the marker has expired', async () => {
        await store.markUsed('jti:9b2e', now + MINUTE);
        now += MINUTE;
        expect(await store.markUsed('jti:9b2e', now + MINUTE)).toBe(true);
      });
    });

    describe('counters', () => {
      it('reads a counter without changing it, and nothing once its window has closed', async () => {
        expect(await store.getCounter('login:user:ada')).toBeNull();
        await store.incrementCounter('login:user:ada', MINUTE);
        await store.incrementCounter('login:user:ada', MINUTE);
        expect(await store.getCounter('login:user:ada')).toEqual({ count: 2, resetAt: now + MINUTE });
        expect(await store.getCounter('login:user:ada')).toEqual({ count: 2, resetAt: now + MINUTE });
        now += MINUTE;
        expect(await store.getCounter('login:user:ada')).toBeNull();
      });

      it('counts within a fixed window', async () => {
        expect(await store.incrementCounter('token:203.0.113.7', MINUTE)).toEqual({ count: 1, resetAt: START + MINUTE });
        now += 30 * SECOND;
        expect(await store.incrementCounter('token:203.0.113.7', MINUTE)).toEqual({ count: 2, resetAt: START + MINUTE });
        expect(await store.incrementCounter('token:198.51.100.2', MINUTE)).toEqual({ count: 1, resetAt: now + MINUTE });
      });

      it('starts a new window at count 1 once resetAt is reached', async () => {
        await store.incrementCounter('token:203.0.113.7', MINUTE);
        await store.incrementCounter('token:203.0.113.7', MINUTE);
        now += MINUTE;
        expect(await store.incrementCounter('token:203.0.113.7', MINUTE)).toEqual({ count: 1, resetAt: now + MINUTE });
      });

      it('loses no update under 50 concurrent increments', async () => {
        const results = await concurrently(50, () => store.incrementCounter('register:203.0.113.7', MINUTE));
        expect(new Set(results.map((result) => result.count)).size).toBe(50);
        expect(await store.incrementCounter('register:203.0.113.7', MINUTE)).toMatchObject({ count: 51 });
      });
    });

    describe('purgeExpired', () => {
      it('removes expired records of every kind, counts them and keeps live ones', async () => {
        const soon = now + MINUTE;
        await store.saveClient(client({ clientId: 'client-expiring', expiresAt: soon }));
        await store.saveGrant(grant({ grantId: 'grant-expiring', expiresAt: soon }));
        await store.saveAuthorizationCode(code({ codeHash: hashOf('code-expiring'), expiresAt: soon }));
        await store.saveRefreshToken(refreshToken({ tokenHash: hashOf('refresh-expiring'), expiresAt: soon }));
        await store.saveInteraction(interaction({ interactionId: 'interaction-expiring', expiresAt: soon }));
        await store.addRevocation(revocation({ key: 'jti:expiring', expiresAt: soon }));
        await store.markUsed('jti:expiring', soon);

        const live = {
          client: client(),
          grant: grant(),
          refreshToken: refreshToken(),
          interaction: interaction(),
          revocation: revocation(),
          signingKey: signingKey(),
        };
        await store.saveClient(live.client);
        await store.saveGrant(live.grant);
        await store.saveRefreshToken(live.refreshToken);
        await store.saveInteraction(live.interaction);
        await store.addRevocation(live.revocation);
        await store.saveSigningKey(live.signingKey);

        now += MINUTE;
        expect(await store.purgeExpired()).toBeGreaterThan(0);
        expect(await store.purgeExpired()).toBe(0);

        expect(await store.getClient(live.client.clientId)).toEqual(live.client);
        expect(await store.getGrant(live.grant.grantId)).toEqual(live.grant);
        expect(await store.getRefreshToken(live.refreshToken.tokenHash)).toEqual(live.refreshToken);
        expect(await store.getInteraction(live.interaction.interactionId)).toEqual(live.interaction);
        expect(await store.listRevocations(0)).toEqual([live.revocation]);
        expect(await store.listSigningKeys()).toEqual([live.signingKey]);
        expect(await store.markUsed('jti:expiring', now + MINUTE)).toBe(true);
      });
    });

    describe('hash-only storage', () => {
      it('AUTHZ-IMPL-02: hash-only storage', async () => {
        // The store only ever sees what the server's own sha256 produces; the plaintext is no lookup key.
        const plaintext = 'Xq9vO1b3aZ0Jr6k2PzE8wTyL4uN7sQmC5dHfGiKjRlA';
        const tokenHash = await sha256(plaintext);
        await store.saveRefreshToken(refreshToken({ tokenHash }));

        expect(await store.getRefreshToken(tokenHash)).toMatchObject({ tokenHash });
        expect(await store.getRefreshToken(plaintext)).toBeNull();
        expect(await store.getRefreshToken(await sha256(`${plaintext}x`))).toBeNull();
      });
    });
  });
}
