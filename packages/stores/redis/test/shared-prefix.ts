import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

/**
 * For the several-instances tests: whether Redis is out of reach (the suite is then skipped, with the reason
 * printed), and a store and connection of their own per instance, as two processes would have, on one key
 * prefix of this test file's. The stores are closed and the keys deleted after the file's tests.
 */
export async function sharedPrefix(): Promise<{ skip: string | false; store: (clock?: () => number) => RedisStore }> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  redis.on('error', () => undefined);
  const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
  const keyPrefix = `keyward-multi:${randomBytes(4).toString('hex')}:`;
  const stores: RedisStore[] = [];
  afterAll(async () => {
    for (const created of stores) await created.close();
    if (!skip) await deleteByPrefix(redis, keyPrefix);
    redis.disconnect();
  });
  const store = (clock?: () => number) => {
    const created = new RedisStore({ url: REDIS_URL, keyPrefix, clock });
    stores.push(created);
    return created;
  };
  return { skip, store };
}
