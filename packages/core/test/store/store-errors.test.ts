import { describe, expect, it } from 'vitest';
import { AuthorizationServer, isTransientStoreError, StoreUnavailableError, type StaticClientOptions, type Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

const CLIENT = { clientId: 'svc', clientSecret: 'svc-secret-0123456789', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] } satisfies StaticClientOptions;

/** A memory store whose every call fails with `failure()` once `failing` is set. */
function failingStore(failure: () => unknown, extra: Partial<Store> = {}) {
  const store = new MemoryStore();
  const state = { failing: false };
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property in extra) return extra[property as keyof Store];
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (state.failing ? Promise.reject(failure()) : value.apply(target, args));
    },
  });
  return { store: proxy as Store, state };
}

function serverOn(store: Store) {
  const errors: unknown[] = [];
  const logs: { namespace: string; fields?: Record<string, unknown> }[] = [];
  const server = new AuthorizationServer({
    issuer: 'http://localhost:3009',
    store,
    scopes: ['mcp:tools'],
    clients: [CLIENT],
    onError: (error) => errors.push(error),
    logger: { debug: (namespace, _message, fields) => void logs.push({ namespace, fields }) },
  });
  const token = () =>
    server.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=svc&client_secret=${CLIENT.clientSecret}` });
  return { server, errors, logs, token };
}

describe('STORE-V2 store errors are classified: transient 503, anything else 500', () => {
  it('answers a refused connection with 503 temporarily_unavailable and Retry-After', async () => {
    const { store, state } = failingStore(() => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const { errors, token } = serverOn(store);
    state.failing = true;
    const response = await token();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect((await response.json()).error).toBe('temporarily_unavailable');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoreUnavailableError);
  });

  it('answers a TypeError thrown by a store with 500 server_error, reported once with the error itself and no data in the log', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'svc-secret-0123456789')");
    const { store, state } = failingStore(() => bug);
    const { errors, logs, token } = serverOn(store);
    state.failing = true;
    const response = await token();
    expect(response.status).toBe(500);
    expect(response.headers.get('retry-after')).toBeNull();
    const body = await response.json();
    expect(body.error).toBe('server_error');
    expect(JSON.stringify(body)).not.toContain('svc-secret');
    expect(errors).toEqual([bug]);
    expect(JSON.stringify(logs)).not.toContain('svc-secret');
    expect(logs.filter((log) => log.fields?.error === 'TypeError')).toHaveLength(1);
  });

  it("asks the store's own classifier, so a driver's closed-client error is transient", async () => {
    const closed = new Error('Connection is closed.');
    const { store, state } = failingStore(() => closed, { isTransientError: (error: unknown) => error === closed });
    const { token } = serverOn(store);
    state.failing = true;
    expect((await token()).status).toBe(503);
  });

  it('recognises driver codes through cause chains and AggregateErrors, and nothing else', () => {
    expect(isTransientStoreError(Object.assign(new Error('could not serialize access'), { code: '40001' }))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(true);
    expect(isTransientStoreError(new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }))).toBe(true);
    expect(isTransientStoreError(new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isTransientStoreError(new TypeError('x is not a function'))).toBe(false);
    expect(isTransientStoreError('ECONNREFUSED')).toBe(false);
  });
});
