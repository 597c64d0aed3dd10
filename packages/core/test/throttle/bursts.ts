/**
 * Throttles that must hold under concurrency, run against every store: the memory store here, SQLite and
 * PostgreSQL from their packages (imported relatively, like the store suite's availability probe). Every
 * burst is 100 requests through `server.fetch` at once; time is a fake clock, so nothing sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthorizationServer,
  type AuthorizationServerOptions,
  type LoginOptions,
  type PasswordAuthenticator,
  type Store,
} from '@keyward/core';
import { randomToken, timingSafeEqual } from '../../src/protocol/crypto.js';
import { calculatePKCECodeChallenge } from '../../src/protocol/pkce.js';

export interface ThrottleBurstOptions {
  /** Display name, e.g. 'memory', 'postgres'. */
  name: string;
  /** A fresh, empty store on the given clock. */
  create: (clock: () => number) => Promise<Store> | Store;
  cleanup?: ((store: Store) => Promise<void> | void) | undefined;
  /** Skip the whole suite with this printed reason (e.g. the server is not reachable). */
  skip?: string | false | undefined;
}

export const ISSUER = 'http://localhost:3009';
const REDIRECT_URI = 'http://127.0.0.1/callback';
export const PASSWORD = 'correct horse battery staple';
export const CLIENT_SECRET = 'the-real-client-secret-0123456789';
// Far from the wall clock on purpose: nothing may depend on Date.now().
export const START = Date.UTC(2030, 0, 1, 12);
const BURST = 100;

/**
 * A password check as slow as a real one (PBKDF2 on the thread pool), so concurrent attempts really are in
 * flight together while their passwords are checked, as they were when the throttle used to be beaten.
 */
const slowUsers: PasswordAuthenticator = {
  async verify(username, password) {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
    await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(16), iterations: 5_000 }, key, 256);
    return username === 'demo' && timingSafeEqual(password, PASSWORD) ? { subject: 'local:demo', claims: { name: 'Demo' } } : null;
  },
};

/** A sign-in form opened by one browser: what every POST to it needs. */
export interface LoginForm {
  cookie: string;
  fields: Record<string, string>;
}

/**
 * Drives the sign-in form and the token endpoint of one server through `server.fetch`, from any address.
 *
 * The sign-in pages' per-address request limit (`rateLimits.login`, 60 a minute, which also counts every
 * GET of the form) is off here unless `extra.rateLimits` says otherwise: these tests count what the
 * throttle decides, and a limit in front of it would refuse requests before it sees them. SEC-THR-11
 * runs a burst with every default limit on. The token endpoint's limit (120 a minute) stays on: no test
 * here sends that many from one address, and its RateLimit fields are part of what SEC-THR-05/08 compare.
 */
export function throttleHarness(store: Store, clock: () => number, login: Partial<LoginOptions> = {}, extra: Partial<AuthorizationServerOptions> = {}) {
  const server = new AuthorizationServer({
    rateLimits: { login: false },
    issuer: ISSUER,
    store,
    clock,
    scopes: ['mcp:tools'],
    clients: [
      { clientId: 'app', redirectUris: [REDIRECT_URI] },
      { clientId: 'machine', clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] },
    ],
    login: { users: slowUsers, ...login },
    ...extra,
  });

  function send(request: Request, address: string): Promise<Response> {
    return server.fetch(request, { clientAddress: address });
  }

  /** Starts an authorization from a fresh browser at `address` and opens its login form. */
  async function openLoginForm(address: string): Promise<LoginForm> {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'app',
      redirect_uri: REDIRECT_URI,
      code_challenge: await calculatePKCECodeChallenge(randomToken()),
      code_challenge_method: 'S256',
      scope: 'mcp:tools',
    });
    const started = await send(new Request(`${ISSUER}/oauth/authorize?${query}`), address);
    expect(started.status).toBe(303);
    const cookie = started.headers.getSetCookie().map((value) => value.split(';', 1)[0]).join('; ');
    const page = await send(new Request(new URL(started.headers.get('location')!, ISSUER), { headers: { cookie } }), address);
    expect(page.status).toBe(200);
    const fields: Record<string, string> = {};
    for (const match of (await page.text()).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = match[2]!;
    return { cookie, fields };
  }

  /** Posts a form to the login flow (`/oauth/login`, or the upstream token sign-in). */
  function post(form: LoginForm, address: string, fields: Record<string, string>, path = '/oauth/login'): Promise<Response> {
    return send(
      new Request(`${ISSUER}${path}`, {
        method: 'POST',
        headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, ...fields }),
      }),
      address,
    );
  }

  function signIn(form: LoginForm, address: string, password: string, username = 'demo'): Promise<Response> {
    return post(form, address, { username, password });
  }

  async function signInFresh(address: string, password: string, username = 'demo'): Promise<number> {
    return (await signIn(await openLoginForm(address), address, password, username)).status;
  }

  /** One client_credentials request authenticated with client_secret_basic. */
  function tokenRequest(clientId: string, secret: string, address: string): Promise<Response> {
    return send(
      new Request(`${ISSUER}/oauth/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      }),
      address,
    );
  }

  return { server, send, openLoginForm, post, signIn, signInFresh, tokenRequest };
}

/**
 * What a caller can see of a response: status, body and every header, except the remaining count (`r=`)
 * of the `RateLimit` field. That count goes down by one with every request from an address whatever the
 * request was, so it tells two answers to one address apart by their order, not by the client id they
 * named; it is replaced by `r=*`. Everything else of the field (the policy name, the reset time) and
 * `RateLimit-Policy` are compared as sent. {@link expectRateLimitFields} checks the fields were there.
 */
export async function observable(response: Response): Promise<string> {
  const headers = [...response.headers].map(([name, value]): [string, string] => [name, name === 'ratelimit' ? value.replace(/;r=\d+/, ';r=*') : value]);
  return JSON.stringify({ status: response.status, body: await response.text(), headers: headers.sort() });
}

/** Every answer (from {@link observable}) carried `RateLimit-Policy` and a `RateLimit` field with its count masked. */
export function expectRateLimitFields(...seen: string[]): void {
  for (const answer of seen) {
    const headers = new Map<string, string>(JSON.parse(answer).headers);
    expect(headers.get('ratelimit-policy')).toMatch(/^"default";q=\d+;w=\d+$/);
    expect(headers.get('ratelimit')).toMatch(/^"default";r=\*;t=\d+$/);
  }
}

/** How many responses had each status. */
export function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

export function describeThrottleBursts(options: ThrottleBurstOptions): void {
  if (options.skip) console.warn(`[keyward] skipping throttle bursts "${options.name}": ${options.skip}`);
  describe.skipIf(Boolean(options.skip))(`throttles under concurrency (${options.name})`, () => {
    let now = START;
    let store: Store;
    let h: ReturnType<typeof throttleHarness>;

    beforeEach(async () => {
      now = START;
      store = await options.create(() => now);
      h = throttleHarness(store, () => now);
    });
    afterEach(async () => {
      await options.cleanup?.(store);
    });

    it('SEC-THR-01: 100 concurrent sign-ins for one user (99 wrong, the right one last) cost 100 attempts: at most 10 are checked, the rest get 429', async () => {
      const address = '203.0.113.10';
      const form = await h.openLoginForm(address);
      const passwords = [...Array.from({ length: BURST - 1 }, (_, index) => `guess-${index}`), PASSWORD];
      const responses = await Promise.all(passwords.map((password) => h.signIn(form, address, password)));
      const counts = tally(responses.map((response) => response.status));
      // Exactly as many attempts reach the password check as the per-user-and-source limit allows.
      expect((counts[401] ?? 0) + (counts[303] ?? 0)).toBe(10);
      expect(counts[429]).toBe(BURST - 10);
      expect(responses.filter((response) => response.status === 429).every((response) => Number(response.headers.get('retry-after')) > 0)).toBe(true);
      // The burst was counted: the right password alone is refused from that source until the window closes.
      expect(await h.signInFresh(address, PASSWORD)).toBe(429);
      now += 15 * 60_000;
      expect(await h.signInFresh(address, PASSWORD)).toBe(303);
    });

    it('SEC-THR-02: a burst of wrong passwords for `demo` from one address does not lock the owner out at another address', async () => {
      const attacker = '198.51.100.20';
      const form = await h.openLoginForm(attacker);
      const statuses = (await Promise.all(Array.from({ length: BURST }, (_, index) => h.signIn(form, attacker, `guess-${index}`)))).map((response) => response.status);
      expect(tally(statuses)).toEqual({ 401: 10, 429: BURST - 10 });
      expect(await h.signInFresh('192.0.2.30', PASSWORD)).toBe(303);
    });

    it('SEC-THR-03: a distributed guesser is slowed to 3 attempts a minute once `demo` has 10 failures; a source that never failed still signs in', async () => {
      // 40 sources, one wrong guess each: a source that has not failed is never refused…
      const sources = Array.from({ length: 40 }, (_, index) => `198.51.100.${index + 1}`);
      const forms = await Promise.all(sources.map((source) => h.openLoginForm(source)));
      const first = await Promise.all(sources.map((source, index) => h.signIn(forms[index]!, source, `first-${index}`)));
      expect(tally(first.map((response) => response.status))).toEqual({ 401: 40 });
      // …but every source that has failed now shares 3 attempts a minute for this username.
      for (let minute = 0; minute < 3; minute++) {
        const again = await Promise.all(sources.map((source, index) => h.signIn(forms[index]!, source, `again-${minute}-${index}`)));
        expect(tally(again.map((response) => response.status))).toEqual({ 401: 3, 429: 37 });
        now += 60_000;
      }
      // The owner, at an address that has not failed, is not refused, and signs in.
      expect(await h.signInFresh('192.0.2.31', PASSWORD)).toBe(303);
    });

    it('SEC-THR-04: the owner is never locked out by their own successes, even 30 in a row from one address', async () => {
      for (let i = 0; i < 30; i++) expect(await h.signInFresh('192.0.2.32', PASSWORD)).toBe(303);
      // 30 successes left the whole budget: 10 wrong passwords still get 401, the 11th attempt 429.
      const form = await h.openLoginForm('192.0.2.32');
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await h.signIn(form, '192.0.2.32', `typo-${i}`)).status);
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
    });

    it('SEC-THR-11: with the default per-address request limits on, a burst of 100 sign-ins still reaches the password check at most 10 times; both 429s say why and when to retry', async () => {
      h = throttleHarness(store, () => now, {}, { rateLimits: {} });
      const address = '203.0.113.12';
      const form = await h.openLoginForm(address);
      const passwords = [...Array.from({ length: BURST - 1 }, (_, index) => `guess-${index}`), PASSWORD];
      const responses = await Promise.all(passwords.map((password) => h.signIn(form, address, password)));
      const pages = await Promise.all(responses.map(async (response) => ({ status: response.status, headers: response.headers, text: await response.text() })));
      const refused = pages.filter((page) => page.status === 429);
      // The request limit (60 a minute for the sign-in pages, the form's GET included) refuses first; what it
      // lets through meets the throttle, which checks no more passwords than it would alone.
      const limited = refused.filter((page) => page.text.includes('Too many requests from this address'));
      const throttled = refused.filter((page) => page.text.includes('Too many failed sign-in attempts'));
      expect(limited).toHaveLength(BURST - 59);
      expect(limited.length + throttled.length).toBe(refused.length);
      const checked = pages.filter((page) => page.status === 401 || page.status === 303);
      expect(checked.length + refused.length).toBe(BURST);
      expect(checked.length).toBeLessThanOrEqual(10);
      expect(checked.length).toBeGreaterThan(0);
      // Two different 429s, neither of which depends on whether the username exists: the request limit
      // speaks of the address, the throttle of failed sign-ins. Both say when to retry and carry the
      // RateLimit fields of the request limit.
      for (const page of refused) {
        expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(page.headers.get('ratelimit')).toMatch(/^"default";r=\d+;t=\d+$/);
        expect(page.headers.get('ratelimit-policy')).toBe('"default";q=60;w=60');
      }
      for (const page of limited) expect(page.headers.get('ratelimit')).toMatch(/^"default";r=0;t=\d+$/);
      // Once the request window closes, the throttle still refuses that source, the right password included…
      now += 60_000;
      const after = await h.signIn(await h.openLoginForm(address), address, PASSWORD);
      expect(after.status).toBe(429);
      expect(await after.text()).toContain('Too many failed sign-in attempts');
      // …until its own window closes.
      now += 15 * 60_000;
      expect(await h.signInFresh(address, PASSWORD)).toBe(303);
    });

    it('SEC-THR-05: 100 concurrent wrong secrets for a known and for an unknown client id get the same answers: 20 × 401 then 429, byte for byte', async () => {
      const known = await Promise.all(Array.from({ length: BURST }, (_, index) => h.tokenRequest('machine', `guess-${index}`, '203.0.113.50')));
      const unknown = await Promise.all(Array.from({ length: BURST }, (_, index) => h.tokenRequest('no-such-client', `guess-${index}`, '203.0.113.51')));
      const knownSeen = await Promise.all(known.map(observable));
      const unknownSeen = await Promise.all(unknown.map(observable));
      expect(tally(known.map((response) => response.status))).toEqual({ 401: 20, 429: 80 });
      expect(knownSeen.sort()).toEqual(unknownSeen.sort());
      expectRateLimitFields(...knownSeen, ...unknownSeen);
      // Over the limit, the right secret gets the answer an unknown id gets: guessing stops either way.
      const right = await observable(await h.tokenRequest('machine', CLIENT_SECRET, '203.0.113.50'));
      expect(right).toBe(await observable(await h.tokenRequest('no-such-client', CLIENT_SECRET, '203.0.113.51')));
      expect(JSON.parse(right).status).toBe(429);
    });

    it('SEC-THR-06: 100 concurrent guesses at many client ids from one source: 50 are checked, then the source is refused for every id; the real client elsewhere is not', async () => {
      const attacker = '203.0.113.60';
      const statuses = (await Promise.all(Array.from({ length: BURST }, (_, index) => h.tokenRequest(`guess-id-${index}`, `guess-${index}`, attacker)))).map(
        (response) => response.status,
      );
      expect(tally(statuses)).toEqual({ 401: 50, 429: 50 });
      expect((await h.tokenRequest('machine', CLIENT_SECRET, attacker)).status).toBe(429);
      expect((await h.tokenRequest('machine', CLIENT_SECRET, '192.0.2.61')).status).toBe(200);
      now += 10 * 60_000;
      expect((await h.tokenRequest('machine', CLIENT_SECRET, attacker)).status).toBe(200);
    });
  });
}
