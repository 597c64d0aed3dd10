// Two example processes on one PostgreSQL (and again on one Redis), as two instances behind a load balancer:
// same issuer, different ports. What one instance issues or counts, the other sees, and the single-use
// rules hold across them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTarget, redisTarget } from './databases.js';
import { CONFIDENTIAL, devLoginCode, devLoginTokens, eventually, freePort, INITIALIZE, postMcp, redeemCode, refresh, sleep, startExample, whoami, type RunningExample } from './support.js';

const targets = { PostgreSQL: await postgresTarget('shared-store.test.ts (PostgreSQL)'), Redis: await redisTarget('shared-store.test.ts (Redis)') };
// Short enough to wait out, long enough to replay within it.
const GRACE_SECONDS = 1;
const REGISTRATION_LIMIT = 5;

afterAll(async () => {
  await Promise.all(Object.values(targets).map((target) => target.cleanup()));
});

describe.each(Object.entries(targets))('two instances on one %s', (_name, target) => {
  let a: RunningExample;
  let b: RunningExample;

  beforeAll(async () => {
    if (target.skip) return;
    const issuer = `http://localhost:${await freePort()}`;
    const env = {
      ...target.env,
      OAUTH_ISSUER: issuer,
      OAUTH_DEV_LOGIN: 'demo',
      OAUTH_CLIENT_ID: CONFIDENTIAL.id,
      OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret,
      OAUTH_REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS),
      OAUTH_REGISTRATION_RATE_LIMIT: String(REGISTRATION_LIMIT),
    };
    // One after the other: the first creates the signing keys, the second loads them.
    a = await startExample(env);
    b = await startExample(env);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it.skipIf(target.skip)('AUTHZ-CODE-01: a code issued at A is redeemed at B, once', async () => {
    const issued = await devLoginCode(a.base);
    const response = await redeemCode(b.base, issued);
    const tokens = await response.json();
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    // B's token is good at A too: one issuer, one key set, one audience.
    expect(await whoami(a.base, tokens.access_token)).toMatchObject({ sub: 'demo' });
    const again = await redeemCode(a.base, issued);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it.skipIf(target.skip)('AUTHZ-RT-03, AUTHZ-RT-07: a refresh token rotated at A and replayed at B is reuse: the successor and the grant are revoked', async () => {
    const tokens = await devLoginTokens(a.base);
    const rotated = await (await refresh(a.base, tokens.refresh_token)).json();
    expect(rotated.refresh_token).toBeTypeOf('string');

    // Within the grace period a replay is a client's retry: refused, but the family lives on.
    const retry = await refresh(b.base, tokens.refresh_token);
    expect(retry.status).toBe(400);
    expect(await retry.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await tokenInfo(b.base, rotated.refresh_token)).active).toBe(true);

    await sleep(GRACE_SECONDS * 1000 + 100);
    const replay = await refresh(b.base, tokens.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    // The successor, rotated at A before the replay at B, is dead at A as well…
    const successor = await refresh(a.base, rotated.refresh_token);
    expect(successor.status).toBe(400);
    expect(await successor.json()).toMatchObject({ error: 'invalid_grant' });
    // …and A's guard refuses the grant's access tokens once it has read the revocation from the store.
    await eventually(async () => (await postMcp(a.base, rotated.access_token, INITIALIZE)).status === 401, 5_000, "A refusing the revoked grant's access token");
  });

  it.skipIf(target.skip)('AUTHZ-DCR-08: the registration rate limit is counted in the store, across instances', async () => {
    const register = (base: string) =>
      fetch(`${base}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'rate-limit test', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' }),
      });
    const statuses = [];
    for (const base of [a.base, a.base, a.base, b.base, b.base]) statuses.push((await register(base)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201]);
    const sixth = await register(b.base);
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await sixth.json()).toMatchObject({ error: 'invalid_request' });
    expect((await register(a.base)).status).toBe(429);
  });
});

/** Introspects `token` at `base` as the confidential client of OAUTH_CLIENT_ID, which may see every token. */
async function tokenInfo(base: string, token: string): Promise<{ active: boolean }> {
  const response = await fetch(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${CONFIDENTIAL.id}:${CONFIDENTIAL.secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return response.json();
}
