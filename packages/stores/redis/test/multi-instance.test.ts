import { AuthorizationServer } from '@keyward/core';
import { describe, expect, it } from 'vitest';
import { instance as instanceOf, withoutPush } from '../../test-support/multi-instance.js';
import { sharedPrefix } from './shared-prefix.js';

const { skip, store } = await sharedPrefix();

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

  it('MULTI-10 instance A rotates its signing key while A and B mint and verify: every token verifies on the other instance', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 12) };
    const now = () => clock.now;
    const shared = store(now);
    const a = instanceOf(AuthorizationServer, shared, now, { signing: { rotateAfterSeconds: 3 } });
    await a.server.ready();
    const b = instanceOf(AuthorizationServer, store(now), now);
    await b.server.ready();
    const kids = new Set<string>();
    const refused: string[] = [];
    // 6 s in 100 ms steps: A's key passes its 3 s maximum age half-way and A rotates while both serve.
    for (let step = 0; step < 60; step++) {
      if (step === 29) {
        // Just before the rotation someone sends B a token with a key id it does not know, so B has re-read
        // the keys a moment ago when A's first token under the new key arrives.
        const [header, payload, signature] = (await a.mint()).split('.');
        const forged = `${btoa(JSON.stringify({ ...JSON.parse(atob(header!)), kid: 'unknown-kid' })).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}.${payload}.${signature}`;
        expect(await b.accepts(forged)).toBe(false);
      }
      const [fromA, fromB] = await Promise.all([a.mint(), b.mint()]);
      kids.add(String(JSON.parse(atob(fromA.split('.')[0]!)).kid));
      const [onB, onA] = await Promise.all([b.accepts(fromA), a.accepts(fromB)]);
      if (!onB) refused.push(`step ${step}: B refused A's token`);
      if (!onA) refused.push(`step ${step}: A refused B's token`);
      clock.now += 100;
    }
    expect(kids.size).toBe(2);
    expect(refused).toEqual([]);
  }, 30_000);

  it('MULTI-11 with push, a grant revoked on A by refresh-token reuse is refused on B at once, cache warm', async () => {
    const clockA = { now: Date.UTC(2030, 0, 1, 12) };
    const clockB = { now: clockA.now };
    const a = instanceOf(AuthorizationServer, store(() => clockA.now), () => clockA.now);
    const b = instanceOf(AuthorizationServer, store(() => clockB.now), () => clockB.now);
    const { access_token: access, refresh_token: refresh } = await a.login();
    expect(await b.accepts(access)).toBe(true);
    expect(await b.accepts(access)).toBe(true);
    expect(await a.refresh(refresh)).toBe(200);
    // Past the grace period for a client's concurrent retry on A only; B's clock stands still.
    clockA.now += 10_000;
    expect(await a.refresh(refresh)).toBe(400);
    expect(await a.accepts(access)).toBe(false);
    await expect.poll(() => b.accepts(access), { timeout: 2_000, interval: 5 }).toBe(false);
  });

  it('MULTI-12 with push, a client deleted on A (RFC 7592) has its tokens refused on B at once, cache warm', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 12) };
    const now = () => clock.now;
    const a = instanceOf(AuthorizationServer, store(now), now);
    const b = instanceOf(AuthorizationServer, store(now), now);
    const { token, remove } = await a.registerAndMint();
    expect(await b.accepts(token)).toBe(true);
    expect(await b.accepts(token)).toBe(true);
    expect(await remove()).toBe(204);
    await expect.poll(() => b.accepts(token), { timeout: 2_000, interval: 5 }).toBe(false);
  });
});
