/**
 * Per-endpoint rate limits: 1,000 requests from one address at every limited endpoint, sent in concurrent
 * bursts, see exactly the limit served and 429s beyond it with Retry-After and the RateLimit fields,
 * while a second address is still served.
 */
import { describe, expect, it } from 'vitest';
import { AuthorizationServer, DEFAULT_GUARD_RATE_LIMIT, DEFAULT_RATE_LIMITS, type KeywardEvent, type RateLimitedEndpoint } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { basicHeader } from './support.js';

const issuer = 'http://localhost:3009';
const ATTACKER = '198.51.100.66';
const BYSTANDER = '2001:db8::7';
const TOTAL = 1_000;
const BURST = 250;

function makeServer(options: Partial<ConstructorParameters<typeof AuthorizationServer>[0]> = {}, events: KeywardEvent[] = []) {
  const clock = { now: Date.UTC(2030, 0, 1, 12) };
  const server = new AuthorizationServer({
    issuer,
    store: new MemoryStore({ clock: () => clock.now }),
    clock: () => clock.now,
    scopes: ['mcp:tools', 'openid'],
    clients: [{ clientId: 'machine', clientSecret: 'machine-secret-0123456789', grantTypes: ['client_credentials'] }],
    login: { users: { verify: async () => null } },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { server, clock };
}

/** One cheap request per endpoint: each is refused by the endpoint itself, which is what a flood looks like. */
const REQUESTS: Record<RateLimitedEndpoint, () => Request> = {
  token: () => new Request(`${issuer}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&code=x&client_id=nobody' }),
  authorize: () => new Request(`${issuer}/oauth/authorize?client_id=nobody&response_type=code`),
  register: () => new Request(`${issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
  revoke: () => new Request(`${issuer}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('machine', 'machine-secret-0123456789') }, body: 'token=abc' }),
  introspect: () => new Request(`${issuer}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('machine', 'machine-secret-0123456789') }, body: 'token=abc' }),
  userinfo: () => new Request(`${issuer}/oauth/userinfo`),
  login: () => new Request(`${issuer}/oauth/login?interaction=unknown`),
};

async function flood(send: () => Promise<Response>): Promise<Response[]> {
  const responses: Response[] = [];
  for (let sent = 0; sent < TOTAL; sent += BURST) responses.push(...(await Promise.all(Array.from({ length: BURST }, send))));
  return responses;
}

function expectLimited(responses: Response[], max: number, windowSeconds: number, served = max) {
  const refused = responses.filter((response) => response.status === 429);
  const passed = responses.filter((response) => response.status !== 429);
  expect(passed.length).toBe(served);
  expect(refused.length).toBe(TOTAL - served);
  for (const response of passed) expect(response.headers.get('ratelimit-policy')).toBe(`"default";q=${max};w=${windowSeconds}`);
  for (const response of refused) expect(response.headers.get('ratelimit-policy')).toBe(`"default";q=${max};w=${windowSeconds}`);
  // The atomic count hands every served request its own place in the window.
  const remaining = passed.map((response) => Number(/;r=(\d+);/.exec(response.headers.get('ratelimit') ?? '')?.[1]));
  if (served === max) expect(new Set(remaining)).toEqual(new Set(Array.from({ length: max }, (_, i) => i)));
  for (const response of refused) {
    expect(response.headers.get('ratelimit')).toBe(`"default";r=0;t=${windowSeconds}`);
    expect(Number(response.headers.get('retry-after'))).toBe(windowSeconds);
  }
  return refused;
}

describe('rate limits at every endpoint', () => {
  for (const endpoint of Object.keys(REQUESTS) as RateLimitedEndpoint[]) {
    it(`OPS-RL-01: ${TOTAL} concurrent requests at ${endpoint} from one address: the limit is served, the rest get 429, another address is still served`, async () => {
      const events: KeywardEvent[] = [];
      const { server } = makeServer({}, events);
      // Registration's default is its own limit, 20 a minute.
      const { max, windowMs } = endpoint === 'register' ? { max: 20, windowMs: 60_000 } : DEFAULT_RATE_LIMITS[endpoint];
      const responses = await flood(() => server.fetch(REQUESTS[endpoint](), { clientAddress: ATTACKER }));
      const refused = expectLimited(responses, max, windowMs / 1000);
      const served = max;
      const sample = refused.at(-1)!;
      if (endpoint === 'authorize' || endpoint === 'login') {
        expect(sample.headers.get('content-type')).toMatch(/^text\/html/);
      } else {
        expect(sample.headers.get('content-type')).toBe('application/json');
        expect(await sample.json()).toMatchObject({ error: endpoint === 'register' ? 'invalid_request' : 'slow_down' });
      }
      const other = await server.fetch(REQUESTS[endpoint](), { clientAddress: BYSTANDER });
      expect(other.status).not.toBe(429);
      expect(other.headers.get('ratelimit')).toBe(`"default";r=${max - 1};t=${windowMs / 1000}`);
      expect(events.filter((event) => event.type === 'rate_limited').length).toBe(TOTAL - served);
      expect(events.find((event) => event.type === 'rate_limited')).toMatchObject({ sourceAddress: ATTACKER, endpoint });
    });
  }

  it(`OPS-RL-02: ${TOTAL} concurrent requests at the guarded MCP endpoint: the guard's limit holds, another address is still served`, async () => {
    const events: KeywardEvent[] = [];
    const { server } = makeServer({}, events);
    const guard = server.createGuard({ scopes: ['mcp:tools'] });
    const results = await flood(async () => {
      const result = await guard.authenticate(new Request(`${issuer}/mcp`, { method: 'POST' }), { clientAddress: ATTACKER });
      expect(result.ok).toBe(false);
      return result.ok ? new Response(null) : result.response;
    });
    const { max, windowMs } = DEFAULT_GUARD_RATE_LIMIT;
    const refused = expectLimited(results, max, windowMs / 1000);
    expect(await refused[0]!.json()).toMatchObject({ error: 'slow_down' });
    expect(results.filter((response) => response.status === 401).length).toBe(max);
    const other = await guard.authenticate(new Request(`${issuer}/mcp`, { method: 'POST' }), { clientAddress: BYSTANDER });
    expect(!other.ok && other.response.status).toBe(401);
    expect(events.filter((event) => event.type === 'rate_limited' && event.endpoint === 'mcp' && event.sourceAddress === ATTACKER).length).toBe(TOTAL - max);
  });
});

describe('rate limit configuration', () => {
  it('OPS-RL-03: a configured limit applies per window of the injected clock, and the window reopens', async () => {
    const { server, clock } = makeServer({ rateLimits: { token: { windowMs: 10_000, max: 3 } } });
    const send = () => server.fetch(REQUESTS.token(), { clientAddress: ATTACKER });
    const first = await Promise.all([send(), send(), send(), send()]);
    expect(first.map((response) => response.status).sort()).toEqual([401, 401, 401, 429]);
    clock.now += 4_000;
    const blocked = await send();
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('6');
    expect(blocked.headers.get('ratelimit')).toBe('"default";r=0;t=6');
    clock.now += 6_000;
    expect((await send()).status).toBe(401);
  });

  it('OPS-RL-04: false turns a limit off; requests without a client address are not counted', async () => {
    const { server } = makeServer({ rateLimits: { token: false } });
    const responses = await Promise.all(Array.from({ length: 200 }, () => server.fetch(REQUESTS.token(), { clientAddress: ATTACKER })));
    expect(responses.every((response) => response.status === 401 && !response.headers.has('ratelimit'))).toBe(true);
    const { server: other } = makeServer({ rateLimits: { introspect: { windowMs: 60_000, max: 1 } } });
    const anonymous = await Promise.all(Array.from({ length: 5 }, () => other.fetch(REQUESTS.introspect())));
    expect(anonymous.every((response) => response.status === 200)).toBe(true);
  });

  it('OPS-RL-05: a guard limit is configurable and false turns it off', async () => {
    const { server } = makeServer();
    const strict = server.createGuard({ rateLimit: { windowMs: 60_000, max: 2 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const result = await strict.authenticate(new Request(`${issuer}/mcp`), { clientAddress: ATTACKER });
      statuses.push(result.ok ? 200 : result.response.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
    const open = server.createGuard({ rateLimit: false });
    const results = await Promise.all(Array.from({ length: 700 }, () => open.authenticate(new Request(`${issuer}/mcp`), { clientAddress: ATTACKER })));
    expect(results.every((result) => !result.ok && result.response.status === 401)).toBe(true);
  });

  it('OPS-RL-08: a Store that cannot count lets requests through: the token endpoint and the guard keep working', async () => {
    class NoCounters extends MemoryStore {
      override async incrementCounter(): Promise<never> {
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      }
    }
    const events: KeywardEvent[] = [];
    const server = new AuthorizationServer({
      issuer,
      store: new NoCounters(),
      scopes: ['mcp:tools'],
      clients: [{ clientId: 'machine', clientSecret: 'machine-secret-0123456789', grantTypes: ['client_credentials'] }],
      onEvent: (event) => events.push(event),
    });
    const response = await server.fetch(
      new Request(`${issuer}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('machine', 'machine-secret-0123456789') }, body: 'grant_type=client_credentials&scope=mcp%3Atools' }),
      { clientAddress: ATTACKER },
    );
    expect(response.status).toBe(200);
    expect(response.headers.has('ratelimit')).toBe(false);
    const { access_token: token } = (await response.json()) as { access_token: string };
    const result = await server.createGuard().authenticate(new Request(`${issuer}/mcp`, { headers: { authorization: `Bearer ${token}` } }), { clientAddress: ATTACKER });
    expect(result.ok).toBe(true);
    expect(events.filter((event) => event.type === 'store.unavailable')).toEqual([expect.objectContaining({ endpoint: 'mcp', sourceAddress: ATTACKER })]);
  });

  it('OPS-RL-06: a malformed rateLimits option is refused at construction', () => {
    expect(() => makeServer({ rateLimits: { token: { windowMs: 0, max: 5 } } })).toThrow(/rateLimits\.token/);
    expect(() => makeServer({ rateLimits: { bogus: { windowMs: 1000, max: 5 } } as never })).toThrow(/rateLimits/);
  });
});
