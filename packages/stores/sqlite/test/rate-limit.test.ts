/**
 * OPS-RL-07: the rate limits counted in SQLite: two server instances on one database file share the count,
 * under concurrent bursts, while a second address is still served.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthorizationServer, DEFAULT_RATE_LIMITS } from '@keyward/core';
import { SQLiteStore } from '../src/index.js';

const directory = mkdtempSync(join(tmpdir(), 'keyward-sqlite-rl-'));
const stores: SQLiteStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  rmSync(directory, { recursive: true, force: true });
});

const issuer = 'http://localhost:3009';

function instance(filename: string, clock: () => number): AuthorizationServer {
  const store = new SQLiteStore({ filename, clock });
  stores.push(store);
  return new AuthorizationServer({ issuer, store, clock, scopes: ['mcp:tools'] });
}

const tokenRequest = () =>
  new Request(`${issuer}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&code=x&client_id=nobody' });

describe('rate limits on SQLiteStore', () => {
  it('OPS-RL-07: 1,000 concurrent token requests from one address across two instances sharing a database: exactly the limit is served, and another address still is', async () => {
    const now = Date.UTC(2030, 0, 1, 12);
    const filename = join(directory, 'shared.db');
    const servers = [instance(filename, () => now), instance(filename, () => now)];
    const { max } = DEFAULT_RATE_LIMITS.token;
    const statuses: number[] = [];
    for (let burst = 0; burst < 4; burst++) {
      const responses = await Promise.all(Array.from({ length: 250 }, (_, i) => servers[i % 2]!.fetch(tokenRequest(), { clientAddress: '198.51.100.66' })));
      statuses.push(...responses.map((response) => response.status));
      for (const response of responses.filter((r) => r.status === 429)) {
        expect(response.headers.get('retry-after')).toBe('60');
        expect(response.headers.get('ratelimit')).toBe('"default";r=0;t=60');
      }
    }
    expect(statuses.filter((status) => status !== 429).length).toBe(max);
    expect(statuses.filter((status) => status === 429).length).toBe(1000 - max);
    const other = await servers[1]!.fetch(tokenRequest(), { clientAddress: '203.0.113.1' });
    expect(other.status).toBe(401);
    expect(other.headers.get('ratelimit')).toBe(`"default";r=${max - 1};t=60`);
  });
});
