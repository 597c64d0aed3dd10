// The example on PostgreSQL (and on Redis) through a TCP proxy that the test cuts and restores, like a
// database that goes away mid-flow. While it is gone the token endpoint answers 503 temporarily_unavailable
// with Retry-After (never a 500, never a stack trace) and the process stays up; once it is back the very same
// flow completes, and nothing was half-written.
//
// Which way the code goes: the proxy is cut before the token request, so the store's atomic consume itself
// fails and the code is never marked used: after the outage the same code redeems normally. (Had the consume
// committed and a later step failed, the retry would be a replay: invalid_grant and the grant revoked, the
// RFC 9700 §4.2.4 answer; nothing in between is possible, as the consume is one atomic statement.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outageProxy, postgresTarget, redisTarget, throughPort, type OutageProxy } from './databases.js';
import { devLoginCode, devLoginTokens, eventually, redeemCode, refresh, startExample, tokenRequest, whoami, type RunningExample } from './support.js';

const targets = { PostgreSQL: await postgresTarget('outage.test.ts (PostgreSQL)'), Redis: await redisTarget('outage.test.ts (Redis)') };

afterAll(async () => {
  await Promise.all(Object.values(targets).map((target) => target.cleanup()));
});

/** A 503 the way RFC 6749 §5.2 and the store-errors contract want it: JSON, no-store, Retry-After, nothing internal. */
async function expectUnavailable(response: Response): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(503);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
  expect(Object.keys(body).every((key) => ['error', 'error_description', 'error_uri'].includes(key))).toBe(true);
  expect(text).not.toMatch(/ECONNREFUSED|Error:|at .*\.(ts|js):\d+|node_modules/);
}

describe.each(Object.entries(targets))('database outage on %s', (_name, target) => {
  let proxy: OutageProxy;
  let example: RunningExample;

  beforeAll(async () => {
    if (target.skip) return;
    proxy = await outageProxy(target.port, target.host);
    example = await startExample({ ...throughPort(target, proxy.port), OAUTH_DEV_LOGIN: 'demo' });
  });

  afterAll(async () => {
    await example?.stop();
    await proxy?.stop();
  });

  it.skipIf(target.skip)('AUTHZ-CODE-01, AUTHZ-RT-02: 503 temporarily_unavailable while the database is gone; the same code and refresh token work once it is back', async () => {
    const earlier = await devLoginTokens(example.base);
    const issued = await devLoginCode(example.base);

    await proxy.stop();
    try {
      await expectUnavailable(await redeemCode(example.base, issued));
      await expectUnavailable(await refresh(example.base, earlier.refresh_token));
      // A new authorization (the dev login writes a grant and a code) cannot finish either; the authorization
      // endpoint says so the RFC 6749 §4.1.2.1 way, by redirecting to the client with temporarily_unavailable.
      const authorize = new URL(`${example.base}/oauth/authorize`);
      authorize.search = new URLSearchParams({ response_type: 'code', client_id: 'mcp-public-client', redirect_uri: issued.redirectUri, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
      const redirected = await fetch(authorize, { redirect: 'manual' });
      expect(redirected.status).toBe(302);
      const callback = new URL(redirected.headers.get('location')!);
      expect(`${callback.origin}${callback.pathname}`).toBe(issued.redirectUri);
      expect(callback.searchParams.get('error')).toBe('temporarily_unavailable');
      await expectUnavailable(
        await fetch(`${example.base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/callback'] }) }),
      );
      // The resource server verifies tokens with keys it holds in memory: MCP keeps working meanwhile.
      expect(await whoami(example.base, earlier.access_token)).toMatchObject({ sub: 'demo' });
      expect(example.alive()).toBe(true);
    } finally {
      await proxy.start();
    }

    // A token request with an unknown code is answered 400 once the store is reachable again (the client
    // reconnects by itself), without touching the real code.
    await eventually(async () => (await tokenRequest(example.base, { grant_type: 'authorization_code', code: 'unknown', code_verifier: 'x'.repeat(43) })).status === 400, 15_000, 'the store reconnecting');

    const response = await redeemCode(example.base, issued);
    const tokens = await response.json();
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    expect(await whoami(example.base, tokens.access_token)).toMatchObject({ sub: 'demo' });
    // Still single use after the outage.
    expect((await redeemCode(example.base, issued)).status).toBe(400);

    // The refresh token refused during the outage was not rotated then: it rotates now, and its successor too.
    const rotated = await refresh(example.base, earlier.refresh_token);
    const next = await rotated.json();
    expect(rotated.status, JSON.stringify(next)).toBe(200);
    const again = await refresh(example.base, next.refresh_token);
    expect(again.status).toBe(200);
    expect(example.output()).not.toMatch(/unhandled|uncaught/i);
    expect(example.alive()).toBe(true);
  });
});
