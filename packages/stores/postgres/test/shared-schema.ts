import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { PostgresStore } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

/**
 * For the several-instances tests: whether PostgreSQL is out of reach (the suite is then skipped, with the
 * reason printed), and stores of their own per instance, as two processes would have, on one schema of this
 * test file's. The stores are closed and the schema dropped after the file's tests.
 */
export async function sharedSchema(): Promise<{ skip: string | false; store: (clock?: () => number) => PostgresStore }> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
  const schema = `keyward_multi_${randomBytes(4).toString('hex')}`;
  const stores: PostgresStore[] = [];
  afterAll(async () => {
    for (const created of stores) await created.close();
    if (!skip) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });
  const store = (clock?: () => number) => {
    const created = new PostgresStore({ connectionString: DATABASE_URL, schema, clock });
    stores.push(created);
    return created;
  };
  return { skip, store };
}
