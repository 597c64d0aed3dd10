import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { closedPort, outageProxy } from '../../test-support/outage.js';
import { AuthorizationServer } from '@keyward/core';
import { RedisStore } from '../src/index.js';
import { deleteByPrefix, describeAddress, REDIS_URL } from './redis.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
redis.on('error', () => undefined);
const skip = await skipUnlessReachable('Redis', describeAddress(REDIS_URL), () => redis.ping());
const keyPrefix = `keyward-test:${randomBytes(4).toString('hex')}:`;
const contractPrefix = `keyward-contract:${randomBytes(4).toString('hex')}:`;

afterAll(async () => {
  if (!skip) await deleteByPrefix(redis, keyPrefix);
  if (!skip) await deleteByPrefix(redis, contractPrefix);
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

describe('STORE-V2 RedisStore classifies its errors', () => {
  const server = (store: RedisStore) =>
    new AuthorizationServer({
      issuer: 'http://localhost:3009',
      store,
      scopes: ['mcp:tools'],
      clients: [{ clientId: 'svc', clientSecret: 'svc-secret-0123456789', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }],
    });
  const tokenRequest = (target: AuthorizationServer) =>
    target.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=svc&client_secret=svc-secret-0123456789' });

  it('calls a refused connection transient', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    const error = await store.getClient('client-1').catch((caught: unknown) => caught);
    expect(store.isTransientError(error)).toBe(true);
    expect((await tokenRequest(server(store))).status).toBe(503);
    await store.close();
  });

  it.skipIf(skip)('calls a closed connection and a stopped Redis transient, and answers 503 through the server', async () => {
    const closed = new RedisStore({ url: REDIS_URL, keyPrefix: `${contractPrefix}closed:` });
    expect(await closed.getClient('client-1')).toBeNull();
    await closed.close();
    const error = await closed.getClient('client-1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(closed.isTransientError(error)).toBe(true);
    const response = await tokenRequest(server(closed));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');

    const target = new URL(REDIS_URL);
    const proxy = await outageProxy(Number(target.port || 6379), target.hostname);
    const store = new RedisStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: `${contractPrefix}stopped:` });
    try {
      expect(await store.markUsed('jti:before', Date.now() + 60_000)).toBe(true);
      await proxy.stop();
      const stopped = await store.markUsed('jti:during', Date.now() + 60_000).catch((caught: unknown) => caught);
      expect(store.isTransientError(stopped)).toBe(true);
    } finally {
      await store.close();
      await proxy.stop();
    }
  });

  it.skipIf(skip)('calls a TypeError a bug, answered 500 server_error through the server', async () => {
    const store = new RedisStore({ client: redis, keyPrefix: `${contractPrefix}bug:` });
    const error = await store.saveClient(undefined as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect(store.isTransientError(error)).toBe(false);
    // The real store, whose getClient runs into the same TypeError (a bug, as the server must see it).
    const broken = new Proxy(store, {
      get: (target, property) =>
        property === 'getClient' ? () => target.saveClient(undefined as never).then(() => null) : typeof Reflect.get(target, property) === 'function' ? (Reflect.get(target, property) as (...args: unknown[]) => unknown).bind(target) : Reflect.get(target, property),
    });
    const errors: unknown[] = [];
    // No configured clients: the server must ask the store for svc.
    const target = new AuthorizationServer({ issuer: 'http://localhost:3009', store: broken, scopes: ['mcp:tools'], clients: [], onError: (caught) => errors.push(caught) });
    const response = await tokenRequest(target);
    expect(response.status).toBe(500);
    expect((await response.json()).error).toBe('server_error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
  });
});
