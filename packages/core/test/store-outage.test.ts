import { describe, expect, it } from 'vitest';
import { AuthorizationServer, MCPSessionBinding, type AuthInfo } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

/** A memory store that can be switched off, as a database outage would. */
function flakyStore() {
  const store = new MemoryStore();
  let down = false;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })) : value.apply(target, args));
    },
  });
  return { store: proxy, setDown: (value: boolean) => void (down = value) };
}

describe('store outages', () => {
  it('answers 503 temporarily_unavailable with Retry-After, then recovers', async () => {
    const { store, setDown } = flakyStore();
    const errors: unknown[] = [];
    const server = new AuthorizationServer({
      issuer: 'http://localhost:3009',
      store,
      scopes: ['mcp:tools'],
      clients: [{ clientId: 'svc', clientSecret: 'svc-secret-0123456789', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }],
      onError: (error) => errors.push(error),
    });
    // With the caller's address the secret check counts attempts in the store, so this request needs it.
    // (Without one, a configured client's client_credentials grant touches no store at all.)
    const tokenRequest = () =>
      server.fetch(
        new Request('http://localhost:3009/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=svc&client_secret=svc-secret-0123456789' }),
        { clientAddress: '192.0.2.7' },
      );
    expect((await tokenRequest()).status).toBe(200);
    setDown(true);
    const during = await tokenRequest();
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect((await during.json()).error).toBe('temporarily_unavailable');
    expect(errors).toHaveLength(1);
    setDown(false);
    expect((await tokenRequest()).status).toBe(200);
  });
});

describe('MCP session binding', () => {
  const auth = (clientId: string, subject: string, grantId: string): AuthInfo => ({ token: 't', clientId, scopes: [], extra: { subject, grantId, claims: {} } });

  it('keeps a session for refreshed tokens of the same grant and refuses other grants and clients', () => {
    const sessions = new MCPSessionBinding();
    sessions.bind('s1', auth('app', 'alice', 'g1'));
    expect(sessions.check('s1', auth('app', 'alice', 'g1'))).toBe('ok');
    expect(sessions.check('s1', auth('app', 'alice', 'g2'))).toBe('foreign');
    expect(sessions.check('s1', auth('other', 'alice', 'g1'))).toBe('foreign');
    expect(sessions.check('s2', auth('app', 'alice', 'g1'))).toBe('unknown');
    sessions.release('s1');
    expect(sessions.check('s1', auth('app', 'alice', 'g1'))).toBe('unknown');
  });

  it('keeps a session across a re-authorization of the same user and client only when asked to', () => {
    const strict = new MCPSessionBinding();
    strict.bind('s1', auth('app', 'alice', 'g1'));
    expect(strict.check('s1', auth('app', 'alice', 'g2'))).toBe('foreign');

    const acrossGrants = new MCPSessionBinding({ acrossGrants: true });
    acrossGrants.bind('s1', auth('app', 'alice', 'g1'));
    expect(acrossGrants.check('s1', auth('app', 'alice', 'g2'))).toBe('ok');
    expect(acrossGrants.check('s1', auth('app', 'mallory', 'g3'))).toBe('foreign');
    expect(acrossGrants.check('s1', auth('other', 'alice', 'g3'))).toBe('foreign');
  });

  it('binds client_credentials sessions to the client, whose every token has a fresh grant', () => {
    const sessions = new MCPSessionBinding();
    sessions.bind('s1', auth('svc', 'svc', 'g1'));
    expect(sessions.check('s1', auth('svc', 'svc', 'g2'))).toBe('ok');
  });
});
