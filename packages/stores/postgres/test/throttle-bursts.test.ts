import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { describeThrottleBursts } from '../../../core/test/throttle/bursts.js';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { PostgresStore } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
// A schema of its own per run, so parallel runs and other projects' data are never touched.
const schema = `keyward_throttle_${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  if (!skip) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

describeThrottleBursts({
  name: 'postgres',
  skip,
  create: async (clock) => {
    const store = new PostgresStore({ pool, schema, clock });
    await store.init();
    return store;
  },
  // Every test starts from an empty store, counters included.
  cleanup: async () => {
    const { rows } = await pool.query<{ tables: string }>(
      `SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') AS tables
       FROM pg_tables WHERE schemaname = $1 AND tablename <> 'migrations'`,
      [schema],
    );
    if (rows[0]?.tables) await pool.query(`TRUNCATE ${rows[0].tables}`);
  },
});
