import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { closedPort, outageProxy } from '../../test-support/outage.js';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
redis.on('error', () => undefined);
const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
const keyPrefix = `keyward-test:${randomBytes(4).toString('hex')}:`;

afterAll(async () => {
  if (!skip) await deleteByPrefix(redis, keyPrefix);
  redis.disconnect();
});

/** Retries `call` until it resolves, for ioredis to finish reconnecting. */
async function eventually<T>(call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('RedisStore when Redis is unreachable', () => {
  it('rejects promptly instead of queueing the command', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    const started = performance.now();
    await expect(store.getClient('client-1')).rejects.toThrow();
    await expect(store.consumeAuthorizationCode('code-hash')).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_000);
    await store.close();
  });

  it.skipIf(skip)('fails while Redis is gone and recovers by itself when it returns', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await outageProxy(Number(target.port || 6379), target.hostname);
    const store = new RedisStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix });
    try {
      expect(await store.markUsed('jti:before', Date.now() + 60_000)).toBe(true);

      await proxy.stop();
      const started = performance.now();
      await expect(store.markUsed('jti:during', Date.now() + 60_000)).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(2_500);

      await proxy.start();
      expect(await eventually(() => store.markUsed('jti:after', Date.now() + 60_000))).toBe(true);
      expect(await store.markUsed('jti:before', Date.now() + 60_000)).toBe(false);
    } finally {
      await store.close();
      await proxy.stop();
    }
  });
});
