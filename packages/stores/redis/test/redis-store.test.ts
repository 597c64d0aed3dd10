import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { hasLoginStore } from '@keyward/core';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
redis.on('error', () => undefined);
const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
// Unique per run and per test, and removed by SCAN afterwards: the server is shared.
const runPrefix = `keyward-test:${randomBytes(4).toString('hex')}:`;
let tests = 0;

afterAll(async () => {
  if (!skip) await deleteByPrefix(redis, runPrefix);
  redis.disconnect();
});

const prefixes = new WeakMap<object, string>();

testStore({
  name: 'redis',
  skip,
  create: (clock) => {
    const keyPrefix = `${runPrefix}${++tests}:`;
    const store = new RedisStore({ client: redis, keyPrefix, clock });
    prefixes.set(store, keyPrefix);
    return store;
  },
  cleanup: (store) => deleteByPrefix(redis, prefixes.get(store)!),
  // Every key under the store's prefix with its value, whatever its type, as Redis holds it.
  rawDump: async (store) => {
    const keys = await redis.keys(`${prefixes.get(store)!}*`);
    const values = await Promise.all(
      keys.map(async (key) => {
        const type = await redis.type(key);
        if (type === 'string') return redis.get(key);
        if (type === 'hash') return redis.hgetall(key);
        if (type === 'set') return redis.smembers(key);
        if (type === 'zset') return redis.zrange(key, 0, -1);
        return type;
      }),
    );
    return JSON.stringify(keys.map((key, index) => [key, values[index]]));
  },
});

describe.skipIf(skip)('RedisStore', () => {
  const keyPrefix = `${runPrefix}own:`;

  it('STORE-V2: has the LoginStore group the built-in login needs', () => {
    expect(hasLoginStore(new RedisStore({ client: redis, keyPrefix }))).toBe(true);
  });

  it('gives every key a TTL past its record expiry, and none to a client that never expires', async () => {
    const now = Date.now();
    const store = new RedisStore({ client: redis, keyPrefix });
    await store.saveClient({
      clientId: 'forever',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [],
      grantTypes: [],
      responseTypes: [],
      metadata: {},
      createdAt: now,
      expiresAt: null,
    });
    await store.markUsed('jti:1', now + 60_000);
    expect(await redis.pttl(`${keyPrefix}client:forever`)).toBe(-1);
    const markerTtl = await redis.pttl(`${keyPrefix}used:jti:1`);
    expect(markerTtl).toBeGreaterThan(60_000);
    expect(markerTtl).toBeLessThanOrEqual(120_000);
    await deleteByPrefix(redis, keyPrefix);
  });

  it('sees two clients on one Redis consume a code exactly once', async () => {
    const now = Date.now();
    const first = new RedisStore({ client: redis, keyPrefix });
    const second = new RedisStore({ url: REDIS_URL, keyPrefix });
    await first.saveAuthorizationCode({
      codeHash: 'code-hash',
      grantId: 'grant-1',
      clientId: 'client-1',
      subject: 'user-1',
      redirectUri: 'http://127.0.0.1:33418/callback',
      scopes: [],
      resources: [],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    const results = await Promise.all([
      first.consumeAuthorizationCode('code-hash'),
      second.consumeAuthorizationCode('code-hash'),
    ]);
    expect(results.map((result) => result?.firstUse).sort()).toEqual([false, true]);
    await second.close();
    await deleteByPrefix(redis, keyPrefix);
  });

  it('leaves a client passed in open on close', async () => {
    await new RedisStore({ client: redis, keyPrefix }).close();
    expect(await redis.ping()).toBe('PONG');
  });
});

describe.skipIf(skip)('STORE-MIG RedisStore reads records written before contract v2', () => {
  const keyPrefix = `${runPrefix}contract-legacy:`;

  it('reads epoch-second authTime and clientSecretExpiresAt as milliseconds, and leaves 0 (never) alone', async () => {
    const now = Date.UTC(2027, 0, 1);
    const store = new RedisStore({ client: redis, keyPrefix, clock: () => now });
    const until = now + 60_000;
    // What the store of schema version 2 wrote: seconds in these two fields, milliseconds elsewhere.
    await redis.set(`${keyPrefix}client:old`, JSON.stringify({ clientId: 'old', clientSecretHash: 'h', clientSecretExpiresAt: 1_893_456_000, tokenEndpointAuthMethod: 'client_secret_basic', redirectUris: [], grantTypes: [], responseTypes: [], metadata: {}, createdAt: now, expiresAt: null }));
    await redis.set(`${keyPrefix}client:never`, JSON.stringify({ clientId: 'never', clientSecretHash: 'h', clientSecretExpiresAt: 0, tokenEndpointAuthMethod: 'client_secret_basic', redirectUris: [], grantTypes: [], responseTypes: [], metadata: {}, createdAt: now, expiresAt: null }));
    await redis.set(`${keyPrefix}session:old`, JSON.stringify({ sessionHash: 'old', subject: 'user-1', authTime: 1_796_374_800, createdAt: now, expiresAt: until }));
    await redis.hset(`${keyPrefix}grant:old`, { record: JSON.stringify({ grantId: 'old', clientId: 'c', subject: 'user-1', scopes: [], resources: [], authTime: 1_796_374_800, createdAt: now, expiresAt: until }), expiresAt: String(until) });
    await redis.hset(`${keyPrefix}code:old`, { record: JSON.stringify({ codeHash: 'old', grantId: 'old', clientId: 'c', subject: 'user-1', redirectUri: 'http://127.0.0.1/cb', scopes: [], resources: [], authTime: 1_796_374_800, createdAt: now, expiresAt: until }), expiresAt: String(until) });

    expect((await store.getClient('old'))?.clientSecretExpiresAt).toBe(1_893_456_000_000);
    expect((await store.getClient('never'))?.clientSecretExpiresAt).toBe(0);
    expect((await store.getSession('old'))?.authTime).toBe(1_796_374_800_000);
    expect((await store.getGrant('old'))?.authTime).toBe(1_796_374_800_000);
    expect((await store.getAuthorizationCode('old'))?.authTime).toBe(1_796_374_800_000);
    expect((await store.consumeAuthorizationCode('old'))?.record.authTime).toBe(1_796_374_800_000);

    // Written again by today's store, the record holds milliseconds and reads back unchanged.
    const session = (await store.getSession('old'))!;
    await store.saveSession(session);
    expect(JSON.parse((await redis.get(`${keyPrefix}session:old`))!).authTime).toBe(1_796_374_800_000);
    expect(await store.getSession('old')).toEqual(session);
    await deleteByPrefix(redis, keyPrefix);
  });
});
