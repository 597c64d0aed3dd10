import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { ResourceServerGuard, type GuardResult } from '@keyward/core';
import { wellKnownURL } from '../src/protocol/metadata.js';
import { RevocationList } from '../src/store/revocation-list.js';
import { VerifiedTokenCache } from '../src/resource-server/verified-token-cache.js';
import { authOf, CLIENTS, ISSUER, PATHS, RESOURCE, setup, type Harness } from './support.js';

function bearer(token: string): Request {
  return new Request(RESOURCE, { headers: { authorization: `Bearer ${token}` } });
}

function refusal(result: GuardResult): { status: number; challenge: string } {
  expect(result.ok, 'expected the guard to refuse').toBe(false);
  if (result.ok) throw new Error('unreachable');
  return { status: result.response.status, challenge: result.response.headers.get('www-authenticate') ?? '' };
}

/**
 * A standalone guard on the server's published keys whose key resolver counts its calls: jose asks for a
 * key once per signature check, so the count is the number of tokens verified in full rather than served
 * from the cache.
 */
async function countingGuard(h: Harness, options: { tokenCacheSize?: number; revocations?: RevocationList } = {}) {
  const jwks = createLocalJWKSet((await (await h.server.request(PATHS.jwks)).json()) as JSONWebKeySet);
  const counter = { signatureChecks: 0 };
  const keys: JWTVerifyGetKey = (header, token) => {
    counter.signatureChecks++;
    return jwks(header, token);
  };
  const guard = new ResourceServerGuard({
    issuer: ISSUER,
    resource: RESOURCE,
    resourceMetadataUrl: wellKnownURL(RESOURCE, 'oauth-protected-resource'),
    keys,
    clock: () => h.now,
    ...options,
  });
  return { guard, counter };
}

/**
 * Presents `token` until the guard has it cached (a token enters the cache at its second verification) and
 * returns the last answer.
 */
async function cached(guard: ResourceServerGuard, token: string): Promise<GuardResult & { ok: true }> {
  const first = await guard.authenticate(bearer(token));
  const second = await guard.authenticate(bearer(token));
  if (!first.ok || !second.ok) throw new Error('the guard refused a valid token');
  return second;
}

/** A token whose last signature character is changed: same header and payload, another signature. */
function withOtherSignature(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.at(-1)}`;
}

describe('guard cache: a token seen before costs a lookup, never a weaker check', () => {
  it('PERF-GUARD-01: from its third request on a token is served without a signature check, and each request gets its own AuthInfo', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const { guard, counter } = await countingGuard(h);
    const first = await guard.authenticate(bearer(token));
    const second = await guard.authenticate(bearer(token));
    expect(counter.signatureChecks, 'a token enters the cache at its second verification').toBe(2);
    const third = await guard.authenticate(bearer(token));
    expect(counter.signatureChecks).toBe(2);
    if (!first.ok || !second.ok || !third.ok) throw new Error('refused');
    expect(third.auth).toEqual(first.auth);
    // Changing one caller's AuthInfo must not change what the next request gets.
    third.auth.scopes.push('mcp:admin');
    const fourth = await guard.authenticate(bearer(token));
    if (!fourth.ok) throw new Error('refused');
    expect(fourth.auth.scopes).toEqual(['mcp:tools']);
    expect(Object.isFrozen(fourth.auth.extra!.claims)).toBe(true);
    expect(counter.signatureChecks).toBe(2);
  });

  it('PERF-GUARD-01: tokenCacheSize 0 turns the cache off; a negative or fractional size is a configuration error', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const { guard, counter } = await countingGuard(h, { tokenCacheSize: 0 });
    for (let i = 0; i < 3; i++) expect((await guard.authenticate(bearer(token))).ok).toBe(true);
    expect(counter.signatureChecks).toBe(3);
    await expect(countingGuard(h, { tokenCacheSize: -1 })).rejects.toThrow(/tokenCacheSize/);
    await expect(countingGuard(h, { tokenCacheSize: 1.5 })).rejects.toThrow(/tokenCacheSize/);
  });

  it('PERF-GUARD-02: a token with the same header and payload but another signature is verified in full and refused', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const { guard, counter } = await countingGuard(h);
    await cached(guard, token);
    const forged = withOtherSignature(token);
    expect(forged.split('.').slice(0, 2)).toEqual(token.split('.').slice(0, 2));
    for (let i = 0; i < 3; i++) expect(refusal(await guard.authenticate(bearer(forged))).status).toBe(401);
    expect(counter.signatureChecks, 'the forgery is verified in full every time').toBe(5);
    // And the genuine token is still served from the cache.
    expect((await guard.authenticate(bearer(token))).ok).toBe(true);
    expect(counter.signatureChecks).toBe(5);
  });

  it('PERF-GUARD-03: a cached token is refused once it has expired (injected clock), the cache never outliving exp', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const { guard } = await countingGuard(h, { tokenCacheSize: 10 });
    const first = await cached(guard, token);
    const exp = first.auth.expiresAt!;
    h.advance(exp - Math.floor(h.now / 1000) - 1);
    expect((await guard.authenticate(bearer(token))).ok, 'one second before exp').toBe(true);
    // Past exp plus the 5 s clock tolerance the full check allows, the cached entry must not answer.
    h.advance(7);
    const late = refusal(await guard.authenticate(bearer(token)));
    expect(late.status).toBe(401);
    expect(late.challenge).toContain('error="invalid_token"');
  });

  it('PERF-GUARD-04: revoking a cached access token by its jti (RFC 7009) refuses it at once', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const guard = h.server.createGuard();
    await cached(guard, token);
    const revoked = await h.server.request('/oauth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: CLIENTS.public.clientId }),
    });
    expect(revoked.status).toBe(200);
    expect(refusal(await guard.authenticate(bearer(token))).challenge).toContain('error="invalid_token"');
  });

  it('PERF-GUARD-04: revoking the refresh token (the whole grant) refuses its cached access token at once', async () => {
    const h = setup();
    const tokens = await h.login();
    const guard = h.server.createGuard();
    await cached(guard, tokens.access_token);
    const revoked = await h.server.request('/oauth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token!, client_id: CLIENTS.public.clientId }),
    });
    expect(revoked.status).toBe(200);
    expect(refusal(await guard.authenticate(bearer(tokens.access_token))).status).toBe(401);
  });

  it('PERF-GUARD-04: a refresh-token replay (family revocation) refuses the cached access tokens of the grant', async () => {
    const h = setup();
    const tokens = await h.login();
    const guard = h.server.createGuard();
    const rotated = await h.refresh(tokens.refresh_token!, authOf('public'));
    expect(rotated.status).toBe(200);
    const { access_token: successor } = (await rotated.json()) as { access_token: string };
    for (const token of [tokens.access_token, successor]) await cached(guard, token);
    h.advance(10); // past the reuse grace period: the replay revokes the family
    expect((await h.refresh(tokens.refresh_token!, authOf('public'))).status).toBe(400);
    for (const token of [tokens.access_token, successor]) expect(refusal(await guard.authenticate(bearer(token))).status).toBe(401);
  });

  it('PERF-GUARD-04: deleting a registered client (RFC 7592) refuses its cached access tokens', async () => {
    const h = setup({ registration: { rateLimit: false } });
    const registered = await h.server.request('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://dcr.example.com/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
    });
    expect(registered.status).toBe(201);
    const client = (await registered.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const { verifier, location } = await h.code({ extra: { client_id: client.client_id, redirect_uri: 'https://dcr.example.com/cb' } });
    const code = location.searchParams.get('code')!;
    const issued = await h.redeem(code, verifier, { method: 'none', clientId: client.client_id }, { redirect_uri: 'https://dcr.example.com/cb' });
    expect(issued.status).toBe(200);
    const { access_token: token } = (await issued.json()) as { access_token: string };
    const guard = h.server.createGuard();
    await cached(guard, token);
    const deleted = await h.server.request(new URL(client.registration_client_uri).pathname, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(deleted.status).toBe(204);
    expect(refusal(await guard.authenticate(bearer(token))).status).toBe(401);
  });

  it('PERF-GUARD-04: a standalone guard sees another instance\'s revocation of a cached token within the list\'s refresh interval', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const revocations = new RevocationList({ store: h.store, clock: () => h.now, refreshIntervalMs: 2000 });
    const { guard } = await countingGuard(h, { revocations });
    const granted = await cached(guard, token);
    await h.server.revokeGrant(granted.auth.extra!.grantId as string);
    h.advance(3);
    expect(refusal(await guard.authenticate(bearer(token))).status).toBe(401);
  });

  it('PERF-GUARD-05: the cache holds at most tokenCacheSize tokens and evicts the least recently used', async () => {
    const h = setup();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await h.login()).access_token);
    const [a, b, c] = tokens as [string, string, string];
    const { guard, counter } = await countingGuard(h, { tokenCacheSize: 2 });
    await cached(guard, a);
    await cached(guard, b);
    await guard.authenticate(bearer(a)); // a is now more recently used than b
    expect(counter.signatureChecks).toBe(4);
    await cached(guard, c); // evicts b
    expect(counter.signatureChecks).toBe(6);
    await guard.authenticate(bearer(a));
    await guard.authenticate(bearer(c));
    expect(counter.signatureChecks, 'a and c are still cached').toBe(6);
    await guard.authenticate(bearer(b));
    expect(counter.signatureChecks, 'b was evicted').toBe(7);
  });

  it('PERF-GUARD-05: under a long random mix of inserts, hits, expiries and deletes the cache keeps exactly the most recently used entries', () => {
    const bound = 64;
    const cache = new VerifiedTokenCache(bound);
    // The reference: an array from least to most recently used, each entry with its expiry.
    const model: { key: string; expiresAt: number }[] = [];
    const entry = (key: string, expiresAt: number) => ({ claims: {}, clientId: 'c', subject: 's', jti: key, grantId: undefined, scopes: [], expiresAt });
    // mulberry32: a seeded generator, so a failure replays exactly.
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    for (let step = 0; step < 20_000; step++) {
      const key = `k${random(200)}`;
      const now = step * 1000;
      const at = model.findIndex((item) => item.key === key);
      const operation = random(10);
      if (operation < 5) {
        const expiresAt = step + random(400); // epoch seconds, read at step × 1000 ms: some have expired when read again
        cache.set(key, entry(key, expiresAt));
        if (at >= 0) model.splice(at, 1);
        if (model.length >= bound) model.shift();
        model.push({ key, expiresAt });
      } else if (operation < 9) {
        const hit = cache.get(key, now);
        const expected = at >= 0 && now < model[at]!.expiresAt * 1000;
        expect(hit?.jti, `step ${step}: get ${key}`).toBe(expected ? key : undefined);
        if (at >= 0) {
          const [item] = model.splice(at, 1);
          if (expected) model.push(item!);
        }
      } else {
        cache.delete(key);
        if (at >= 0) model.splice(at, 1);
      }
      expect(cache.size).toBe(model.length);
    }
    // Reading every model entry, oldest first, finds each one: nothing the model kept was evicted early.
    for (const item of [...model]) expect(cache.get(item.key, 0)?.jti).toBe(item.key);
    expect(cache.size).toBe(model.length);
  });

  it('PERF-GUARD-05: a concurrent burst of distinct tokens never grows the cache past its bound', async () => {
    const cache = new VerifiedTokenCache(50);
    const entry = (i: number) => ({ claims: {}, clientId: 'c', subject: 's', jti: `j${i}`, grantId: undefined, scopes: [], expiresAt: 2e9 });
    await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        await Promise.resolve();
        cache.set(`k${i}`, entry(i));
        expect(cache.size).toBeLessThanOrEqual(50);
      }),
    );
    expect(cache.size).toBe(50);
    // The 50 most recent survive; the first 450 were evicted in order.
    expect(cache.get('k449', 0)).toBeUndefined();
    expect(cache.get('k450', 0)?.jti).toBe('j450');

    const h = setup();
    const tokens = await Promise.all(Array.from({ length: 12 }, async () => (await h.login()).access_token));
    const { guard, counter } = await countingGuard(h, { tokenCacheSize: 4 });
    const results = await Promise.all(tokens.flatMap((token) => [guard.authenticate(bearer(token)), guard.authenticate(bearer(token))]));
    expect(results.every((result) => result.ok)).toBe(true);
    // Only the last four tokens can still be cached: replaying all twelve checks at least eight signatures.
    const before = counter.signatureChecks;
    for (const token of tokens) await guard.authenticate(bearer(token));
    expect(counter.signatureChecks - before).toBeGreaterThanOrEqual(8);
  });

  it('PERF-GUARD-06: a cached token is looked up before the header\'s syntax check, yet every header gets the answer a cache-less guard gives', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const { guard: warm, counter } = await countingGuard(h);
    const { guard: cold } = await countingGuard(h, { tokenCacheSize: 0 });
    await cached(warm, token);
    const headers = [
      `Bearer ${token}`,
      `bearer ${token}`,
      `BEARER ${token}`,
      `Bearer    ${token}  `,
      `Bearer\t${token}`,
      ` Bearer ${token}`,
      `Bearer ${token}\t`,
      `Bearer ${token}\u00a0`,
      `Bearer ${token}, Bearer ${token}`,
      `Bearer ${token} x`,
      `Bearer ${token}x`,
      `Bearer ${withOtherSignature(token)}`,
      `Basic ${token}`,
      `Bearerx ${token}`,
      `${'Bearer'.replace('e', '\u0435')} ${token}`,
      'Bearer',
      'Bearer ',
      'Bearer     ',
    ];
    const answer = (result: GuardResult) =>
      result.ok ? { ok: true, token: result.auth.token } : { ok: false, status: result.response.status, challenge: result.response.headers.get('www-authenticate') };
    for (const header of headers) {
      for (const bodyToken of [false, true]) {
        expect(answer(await warm.authenticateHeader(header, { bodyToken })), JSON.stringify({ header: header.replace(token, '<token>'), bodyToken })).toEqual(
          answer(await cold.authenticateHeader(header, { bodyToken })),
        );
      }
    }
    // Every spelling the syntax check accepts is answered from the cache, without another signature check.
    const checked = counter.signatureChecks;
    for (const header of headers.slice(0, 4)) expect((await warm.authenticateHeader(header)).ok).toBe(true);
    expect(counter.signatureChecks).toBe(checked);
  });

  it('PERF-GUARD-07: tokens presented once stay out of the cache, so a stream of them never pushes out a session\'s token', async () => {
    const h = setup();
    const [session, other, late, ...oneShots] = (await Promise.all(Array.from({ length: 19 }, async () => (await h.login()).access_token))) as [string, string, string, ...string[]];
    const { guard, counter } = await countingGuard(h, { tokenCacheSize: 2 });
    await cached(guard, session);
    await cached(guard, other);
    // Sixteen tokens, each presented once, half of them at the same time: with room for two entries, every
    // one of them would have evicted a cached token had it been stored.
    for (const token of oneShots.slice(0, 8)) expect((await guard.authenticate(bearer(token))).ok).toBe(true);
    const burst = await Promise.all(oneShots.slice(8).map((token) => guard.authenticate(bearer(token))));
    expect(burst.every((result) => result.ok)).toBe(true);
    expect(counter.signatureChecks).toBe(4 + 16);
    for (const token of [session, other]) expect((await guard.authenticate(bearer(token))).ok).toBe(true);
    expect(counter.signatureChecks, 'both session tokens are still cached').toBe(20);
    // A token presented a second time is admitted then, and evicts the least recently used entry.
    await cached(guard, late);
    expect((await guard.authenticate(bearer(late))).ok).toBe(true);
    expect(counter.signatureChecks).toBe(22);
    await guard.authenticate(bearer(session));
    expect(counter.signatureChecks, 'the session token was the least recently used').toBe(23);
  });

  it('PERF-GUARD-07: the cache admits a key at its second offer, within a bound, whatever the order of offers', () => {
    const cache = new VerifiedTokenCache(64);
    const entry = (i: number) => ({ claims: {}, clientId: 'c', subject: 's', jti: `j${i}`, grantId: undefined, scopes: [], expiresAt: 2e9 });
    for (let i = 0; i < 1000; i++) expect(cache.admit(`once-${i}`, entry(i))).toBe(false);
    expect(cache.size, 'keys offered once are not stored').toBe(0);
    let admitted = 0;
    for (let i = 0; i < 1000; i++) {
      cache.admit(`twice-${i}`, entry(i));
      if (cache.admit(`twice-${i}`, entry(i))) admitted++;
      expect(cache.get(`twice-${i}`, 0)?.jti).toBe(admitted === i + 1 ? `j${i}` : undefined);
    }
    // Back to back, nothing can take a key's slot between its two offers.
    expect(admitted).toBe(1000);
    expect(cache.size).toBe(64);
  });
});
