import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { AuthorizationServer } from '@keyward/core';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { instance as instanceOf, measurePropagation, summary, withoutPush } from '../../test-support/multi-instance.js';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
redis.on('error', () => undefined);
const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
const keyPrefix = `keyward-multi:${randomBytes(4).toString('hex')}:`;
const stores: RedisStore[] = [];

/** A store and connection of its own per instance, as two processes would have, on one shared prefix. */
function store(clock?: () => number): RedisStore {
  const created = new RedisStore({ url: REDIS_URL, keyPrefix, clock });
  stores.push(created);
  return created;
}

afterAll(async () => {
  for (const created of stores) await created.close();
  if (!skip) await deleteByPrefix(redis, keyPrefix);
  redis.disconnect();
});

describe.skipIf(skip)('several instances on one Redis', () => {
  it('MULTI-04 without push, instance B refuses a token revoked on A once its 2 s poll interval has passed, cache warm', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 12) };
    const now = () => clock.now;
    const a = instanceOf(AuthorizationServer, withoutPush(store(now)), now);
    const b = instanceOf(AuthorizationServer, withoutPush(store(now)), now);
    const token = await a.mint();
    expect(await b.accepts(token)).toBe(true);
    expect(await b.accepts(token)).toBe(true);
    await a.revoke(token);
    expect(await a.accepts(token)).toBe(false);
    clock.now += 2_000;
    expect(await b.accepts(token)).toBe(true);
    clock.now += 1;
    expect(await b.accepts(token)).toBe(false);
  });

  it('MULTI-05 with push, instance B refuses a token revoked on A with no time passing on its clock', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 12) };
    const now = () => clock.now;
    const a = instanceOf(AuthorizationServer, store(now), now);
    const b = instanceOf(AuthorizationServer, store(now), now);
    const token = await a.mint();
    expect(await b.accepts(token)).toBe(true);
    await a.revoke(token);
    await expect.poll(() => b.accepts(token), { timeout: 2_000, interval: 5 }).toBe(false);
  });

  it('MULTI-06 measures the propagation bound in real time, polling and push', async () => {
    const polling = summary(await measurePropagation(instanceOf(AuthorizationServer, withoutPush(store()), Date.now), instanceOf(AuthorizationServer, withoutPush(store()), Date.now), 20, 3_000));
    const push = summary(await measurePropagation(instanceOf(AuthorizationServer, store(), Date.now), instanceOf(AuthorizationServer, store(), Date.now), 50, 1_000));
    if (process.env.KEYWARD_MULTI_REPORT) writeFileSync(process.env.KEYWARD_MULTI_REPORT, JSON.stringify({ store: 'redis', polling, push }));
    expect(polling.max).toBeLessThanOrEqual(2_500);
    expect(push.max).toBeLessThan(1_000);
  }, 90_000);
});
