import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AuthorizationServer } from '@keyward/core';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { instance as instanceOf, measurePropagation, summary, withoutPush } from '../../test-support/multi-instance.js';
import { PostgresStore } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
const schema = `keyward_multi_${randomBytes(4).toString('hex')}`;
const stores: PostgresStore[] = [];

/** A store of its own per instance, as two processes would have, on one shared schema. */
function store(clock?: () => number): PostgresStore {
  const created = new PostgresStore({ connectionString: DATABASE_URL, schema, clock });
  stores.push(created);
  return created;
}

afterAll(async () => {
  for (const created of stores) await created.close();
  if (!skip) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

describe.skipIf(skip)('several instances on one PostgreSQL', () => {
  it('MULTI-01 without push, instance B refuses a token revoked on A once its 2 s poll interval has passed, cache warm', async () => {
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

  it('MULTI-02 with push, instance B refuses a token revoked on A with no time passing on its clock', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 12) };
    const now = () => clock.now;
    const a = instanceOf(AuthorizationServer, store(now), now);
    const b = instanceOf(AuthorizationServer, store(now), now);
    const token = await a.mint();
    expect(await b.accepts(token)).toBe(true);
    await a.revoke(token);
    // The notification travels over a real connection: wait for it without moving B's clock.
    await expect.poll(() => b.accepts(token), { timeout: 2_000, interval: 5 }).toBe(false);
  });

  it('MULTI-03 measures the propagation bound in real time, polling and push', async () => {
    const polling = summary(await measurePropagation(instanceOf(AuthorizationServer, withoutPush(store()), Date.now), instanceOf(AuthorizationServer, withoutPush(store()), Date.now), 20, 3_000));
    const push = summary(await measurePropagation(instanceOf(AuthorizationServer, store(), Date.now), instanceOf(AuthorizationServer, store(), Date.now), 50, 1_000));
    if (process.env.KEYWARD_MULTI_REPORT) writeFileSync(process.env.KEYWARD_MULTI_REPORT, JSON.stringify({ store: 'postgres', polling, push }));
    expect(polling.max).toBeLessThanOrEqual(2_500);
    expect(push.max).toBeLessThan(1_000);
  }, 90_000);
});
