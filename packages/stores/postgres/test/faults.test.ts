import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { closedPort, outageProxy } from '../../test-support/outage.js';
import { PostgresStore } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
const schema = `keyward_test_${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  if (!skip) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

/** DATABASE_URL pointed at another port of this machine. */
function urlOnPort(port: number): string {
  const url = new URL(DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.href;
}

describe('PostgresStore when the database is unreachable', () => {
  it('rejects promptly instead of hanging', async () => {
    const store = new PostgresStore({ connectionString: urlOnPort(await closedPort()) });
    const started = performance.now();
    await expect(store.getClient('client-1')).rejects.toThrow(/ECONNREFUSED/);
    await expect(store.consumeAuthorizationCode('code-hash')).rejects.toThrow(/ECONNREFUSED/);
    expect(performance.now() - started).toBeLessThan(2_000);
    await store.close();
  });

  it.skipIf(skip)('fails while the database is gone and recovers by itself when it returns', async () => {
    const proxy = await outageProxy(Number(new URL(DATABASE_URL).port || 5432), new URL(DATABASE_URL).hostname);
    const store = new PostgresStore({ connectionString: urlOnPort(proxy.port), schema });
    try {
      expect(await store.markUsed('jti:before', Date.now() + 60_000)).toBe(true);

      await proxy.stop();
      const started = performance.now();
      await expect(store.markUsed('jti:during', Date.now() + 60_000)).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(2_000);

      await proxy.start();
      expect(await store.markUsed('jti:after', Date.now() + 60_000)).toBe(true);
      expect(await store.markUsed('jti:before', Date.now() + 60_000)).toBe(false);
    } finally {
      await store.close();
      await proxy.stop();
    }
  });
});
