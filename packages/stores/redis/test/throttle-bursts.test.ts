import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { describeThrottleBursts } from '../../../core/test/throttle/bursts.js';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
redis.on('error', () => undefined);
const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
// Unique per run and per test, and removed by SCAN afterwards: the server is shared.
const runPrefix = `keyward-throttle:${randomBytes(4).toString('hex')}:`;
let tests = 0;

afterAll(async () => {
  if (!skip) await deleteByPrefix(redis, runPrefix);
  redis.disconnect();
});

describeThrottleBursts({
  name: 'redis',
  skip,
  create: (clock) => new RedisStore({ client: redis, keyPrefix: `${runPrefix}${++tests}:`, clock }),
  cleanup: () => deleteByPrefix(redis, `${runPrefix}${tests}:`),
});
