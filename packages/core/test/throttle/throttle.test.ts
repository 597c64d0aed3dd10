/**
 * The parts of the sign-in and client-secret throttles that do not depend on the store: how sources are
 * counted, the answers that must not tell ids apart, the options, and the upstream token sign-in.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AuthorizationServer, KeywardConfigError, type KeywardEvent } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { AttemptThrottle, throttleSource } from '../../src/operations/throttle.js';
import { CLIENT_SECRET, expectRateLimitFields, ISSUER, observable, PASSWORD, START, tally, throttleHarness } from './bursts.js';

let now = START;
beforeEach(() => {
  now = START;
});
const harness = (...args: Parameters<typeof throttleHarness> extends [unknown, unknown, ...infer Rest] ? Rest : never) =>
  throttleHarness(new MemoryStore({ clock: () => now }), () => now, ...args);

describe('refunds (SEC-THR-04)', () => {
  const key = { key: 'k', limit: 2, windowMs: 60_000 };

  it('SEC-THR-04: a refund hands back one attempt in its own window and never carries into the next', async () => {
    const throttle = new AttemptThrottle(new MemoryStore({ clock: () => now }), () => now);
    const success = await throttle.reserve([key]);
    now += 30_000;
    await throttle.refund(success);
    // Refunded: the next two attempts still fit, the third is over the limit until the window closes.
    expect((await throttle.reserve([key]))[0]!.before).toBe(0);
    expect((await throttle.reserve([key]))[0]!.before).toBe(1);
    expect(throttle.retryAfter(await throttle.reserve([key]))).toBe(30);
    // A new window starts from nothing: the refund, made half-way through the old window, does not give the
    // next one a free attempt.
    now += 30_000;
    const fresh = await throttle.reserve([key]);
    expect(fresh[0]!.before).toBe(0);
    expect((await throttle.reserve([key]))[0]!.before).toBe(1);
    // A refund that arrives after its window closed changes nothing.
    now += 60_000;
    const late = await throttle.reserve([key]);
    now += 60_000;
    await throttle.refund(late);
    expect((await throttle.reserve([key]))[0]!.before).toBe(0);
    expect((await throttle.reserve([key]))[0]!.before).toBe(1);
  });

  it('SEC-THR-04: concurrent reservations each see their own count; failures only are counted by fail()', async () => {
    const throttle = new AttemptThrottle(new MemoryStore({ clock: () => now }), () => now);
    const counts = await Promise.all(Array.from({ length: 20 }, () => throttle.reserve([key])));
    expect(counts.map((count) => count[0]!.before).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    const other = { ...key, key: 'other' };
    expect((await throttle.peek([other]))[0]!.before).toBe(0);
    await throttle.fail([other]);
    expect((await throttle.peek([other]))[0]!.before).toBe(1);
  });
});

describe('sources (SEC-THR-07)', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::ffff:c000:207', '192.0.2.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::1', '2001:db8:1:2::/64'],
    ['[2001:db8::1]', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['unknown', 'unknown'],
    ['not:an:address:::', 'not:an:address:::'],
  ])('SEC-THR-07: %s is counted as %s', (address, source) => {
    expect(throttleSource(address)).toBe(source);
  });

  it('SEC-THR-07: addresses of one IPv6 /64 share one budget: 11 guesses from 11 addresses, the 11th gets 429', async () => {
    const h = harness();
    const statuses: number[] = [];
    for (let i = 1; i <= 11; i++) statuses.push(await h.signInFresh(`2001:db8:7:7::${i.toString(16)}`, `guess-${i}`));
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    expect(await h.signInFresh('2001:db8:7:8::1', PASSWORD)).toBe(303);
  });
});

describe('client secrets: known and unknown ids look the same (SEC-THR-08)', () => {
  /** A token request with the given credentials, from one address. */
  function request(h: ReturnType<typeof harness>, auth: { basic?: [string, string]; post?: [string, string]; none?: string }, address = '203.0.113.80') {
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth.basic) headers.authorization = `Basic ${btoa(`${auth.basic[0]}:${auth.basic[1]}`)}`;
    if (auth.post) body.set('client_id', auth.post[0]), body.set('client_secret', auth.post[1]);
    if (auth.none) body.set('client_id', auth.none);
    return h.send(new Request(`${ISSUER}/oauth/token`, { method: 'POST', headers, body }), address);
  }

  it('SEC-THR-08: Basic: an unknown id, a wrong secret, a public client with a secret and the right secret over the other method get one answer', async () => {
    const h = harness({}, {
      clients: [
        { clientId: 'machine', clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] },
        { clientId: 'poster', clientSecret: CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] },
        { clientId: 'public', redirectUris: ['http://127.0.0.1/cb'] },
      ],
    });
    const seen = await Promise.all(
      [
        { basic: ['no-such-client', 'guess'] as [string, string] },
        { basic: ['machine', 'guess'] as [string, string] },
        { basic: ['public', 'guess'] as [string, string] },
        { basic: ['poster', CLIENT_SECRET] as [string, string] },
      ].map(async (auth, index) => observable(await request(h, auth, `203.0.113.${90 + index}`))),
    );
    expect(new Set(seen).size).toBe(1);
    expectRateLimitFields(...seen);
    const { status, body } = JSON.parse(seen[0]!);
    expect(status).toBe(401);
    expect(JSON.parse(body)).toMatchObject({ error: 'invalid_client', error_description: 'client authentication failed' });
    expect((await request(h, { basic: ['machine', CLIENT_SECRET] })).status).toBe(200);
  });

  it('SEC-THR-08: client_secret_post: an unknown id and a wrong secret get one answer; so do an unknown id and a confidential id without a secret', async () => {
    const h = harness({}, { clients: [{ clientId: 'poster', clientSecret: CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }] });
    const unknown = await observable(await request(h, { post: ['no-such-client', 'guess'] }, '203.0.113.95'));
    const wrong = await observable(await request(h, { post: ['poster', 'guess'] }, '203.0.113.96'));
    expect(unknown).toBe(wrong);
    // One after the other from one address: only the RateLimit count differs, and observable() masks it.
    const withoutSecret = await observable(await request(h, { none: 'poster' }));
    const unknownWithoutSecret = await observable(await request(h, { none: 'no-such-client' }));
    expect(withoutSecret).toBe(unknownWithoutSecret);
    expectRateLimitFields(unknown, wrong, withoutSecret, unknownWithoutSecret);
    expect(JSON.parse(withoutSecret).status).toBe(401);
  });

  it('SEC-THR-08: an expired secret is counted and answered like a wrong one', async () => {
    const h = harness({}, { registration: { initialAccessTokens: ['initial-access-token-0123456789'], clientSecretLifetime: 60 } });
    const registered = await (
      await h.send(
        new Request(`${ISSUER}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer initial-access-token-0123456789' },
          body: JSON.stringify({ client_name: 'Machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }),
        }),
        '192.0.2.1',
      )
    ).json();
    expect((await h.tokenRequest(registered.client_id, registered.client_secret, '203.0.113.97')).status).toBe(200);
    now += 61_000;
    const expired = await observable(await h.tokenRequest(registered.client_id, registered.client_secret, '203.0.113.97'));
    const unknown = await observable(await h.tokenRequest('no-such-client', registered.client_secret, '203.0.113.98'));
    expect(expired).toBe(unknown);
    expectRateLimitFields(expired, unknown);
    for (let i = 0; i < 19; i++) await h.tokenRequest(registered.client_id, registered.client_secret, '203.0.113.97');
    expect((await h.tokenRequest(registered.client_id, registered.client_secret, '203.0.113.97')).status).toBe(429);
  });
  it('SEC-THR-08: a client assertion for an unknown id, for a secret client and with a foreign key for a private_key_jwt client get one answer', async () => {
    const h = harness({}, { registration: { initialAccessTokens: ['initial-access-token-0123456789'] } });
    const registered = await generateKeyPair('ES256');
    const foreign = await generateKeyPair('ES256');
    const client = await (
      await h.send(
        new Request(`${ISSUER}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer initial-access-token-0123456789' },
          body: JSON.stringify({
            client_name: 'Signer',
            grant_types: ['client_credentials'],
            token_endpoint_auth_method: 'private_key_jwt',
            jwks: { keys: [{ ...(await exportJWK(registered.publicKey)), alg: 'ES256', kid: 'k1' }] },
          }),
        }),
        '192.0.2.1',
      )
    ).json();
    const assertion = (sub: string, key: CryptoKey) =>
      new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(sub)
        .setSubject(sub)
        .setAudience(ISSUER)
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.floor(now / 1000) + 60)
        .sign(key);
    const attempt = async (sub: string, key: CryptoKey) =>
      observable(
        await h.send(
          new Request(`${ISSUER}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: await assertion(sub, key),
            }),
          }),
          '203.0.113.99',
        ),
      );
    const seen = [await attempt(client.client_id, foreign.privateKey), await attempt('no-such-client', foreign.privateKey), await attempt('machine', foreign.privateKey)];
    expect(new Set(seen).size).toBe(1);
    expectRateLimitFields(...seen);
    expect(JSON.parse(seen[0]!).status).toBe(401);
    expect(JSON.parse(await attempt(client.client_id, registered.privateKey)).status).toBe(200);
  });
});

describe('sign-in options (SEC-THR-09)', () => {
  it('SEC-THR-09: the earlier { perUser, perSource } form still works, and perUserAndSource tightens one address', async () => {
    const legacy = harness({ attemptLimits: { perUser: 10, perSource: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await legacy.signInFresh('203.0.113.100', `guess-${i}`));
    expect(statuses).toEqual([401, 401, 401, 429]);

    const tight = harness({ attemptLimits: { perUserAndSource: 2 } });
    const tightStatuses: number[] = [];
    for (let i = 0; i < 3; i++) tightStatuses.push(await tight.signInFresh('203.0.113.101', `guess-${i}`));
    expect(tightStatuses).toEqual([401, 401, 429]);
    expect(await tight.signInFresh('203.0.113.102', PASSWORD)).toBe(303);
  });

  it('SEC-THR-09: perUser and slowedPerMinute set the documented rate for a distributed guesser', async () => {
    const h = harness({ attemptLimits: { perUser: 2, slowedPerMinute: 1 } });
    const sources = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    const forms = await Promise.all(sources.map((source) => h.openLoginForm(source)));
    expect((await Promise.all(sources.map((source, index) => h.signIn(forms[index]!, source, 'first')))).map((response) => response.status)).toEqual([401, 401, 401]);
    const again = await Promise.all(sources.map((source, index) => h.signIn(forms[index]!, source, 'again')));
    expect(tally(again.map((response) => response.status))).toEqual({ 401: 1, 429: 2 });
    expect(again.find((response) => response.status === 429)!.headers.get('retry-after')).toBe('60');
  });

  it('SEC-THR-09: a limit that is not a positive integer, or not a known limit, is a configuration error', () => {
    const build = (attemptLimits: unknown) =>
      new AuthorizationServer({ issuer: ISSUER, store: new MemoryStore(), login: { users: { verify: async () => null }, attemptLimits: attemptLimits as never } });
    expect(() => build({ perUser: 0 })).toThrow(KeywardConfigError);
    expect(() => build({ perSource: 1.5 })).toThrow(KeywardConfigError);
    expect(() => build({ perUsr: 5 })).toThrow(KeywardConfigError);
    expect(() => build({ perUser: 5, slowedPerMinute: 1 })).not.toThrow();
  });
});

describe('upstream token sign-in (SEC-THR-10)', () => {
  it('SEC-THR-10, OPS-EVT-01: 100 concurrent bad upstream tokens from one source: 50 are checked, the rest get 429; a good one from elsewhere signs in; each is reported', async () => {
    let checked = 0;
    const events: KeywardEvent[] = [];
    const h = harness({
      providers: [
        {
          kind: 'token',
          id: 'idp',
          displayName: 'IdP',
          async verifyToken(token) {
            checked++;
            await new Promise((resolve) => setImmediate(resolve));
            if (token !== 'good-token') throw new Error('bad token');
            return { subject: 'idp:alice', claims: {} };
          },
        },
      ],
    }, { onEvent: (event) => events.push(event) });
    const form = await h.openLoginForm('203.0.113.110');
    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => h.post(form, '203.0.113.110', { provider: 'idp', token: `bad-${index}` }, '/oauth/login/token')));
    expect(tally(responses.map((response) => response.status))).toEqual({ 401: 50, 429: 50 });
    expect(checked).toBe(50);
    const elsewhere = await h.openLoginForm('192.0.2.111');
    expect((await h.post(elsewhere, '192.0.2.111', { provider: 'idp', token: 'good-token' }, '/oauth/login/token')).status).toBe(303);
    const signIns = events.filter((event) => event.type.startsWith('signin.'));
    expect(tally(signIns.map((event) => ({ 'signin.failed': 401, 'signin.throttled': 429, 'signin.succeeded': 303 })[event.type as string] ?? 0))).toEqual({ 401: 50, 429: 50, 303: 1 });
    expect(signIns.find((event) => event.type === 'signin.failed')).toMatchObject({ method: 'token', provider: 'idp', clientId: 'app', sourceAddress: '203.0.113.110', endpoint: 'login' });
    expect(signIns.find((event) => event.type === 'signin.throttled')).toMatchObject({ method: 'token', clientId: 'app', sourceAddress: '203.0.113.110' });
    expect(signIns.find((event) => event.type === 'signin.succeeded')).toMatchObject({ method: 'token', provider: 'idp', clientId: 'app', subject: 'idp:alice', sourceAddress: '192.0.2.111' });
  });
});
