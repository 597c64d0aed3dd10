import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
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
});

describe.skipIf(skip)('RedisStore', () => {
  const keyPrefix = `${runPrefix}own:`;

  it('declares itself atomic and shared', () => {
    expect(new RedisStore({ client: redis, keyPrefix }).capabilities).toEqual({ atomic: true, shared: true });
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
