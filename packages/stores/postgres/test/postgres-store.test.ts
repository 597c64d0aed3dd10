import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { hasLoginStore } from '@keyward/core';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { PostgresStore } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
// A schema of its own per run, so parallel runs and other projects' data are never touched.
const schema = `keyward_test_${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  if (!skip) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

/** Empties every store table (the suite needs an empty store per test), keeping the migrations record. */
async function truncateAll(): Promise<void> {
  const { rows } = await pool.query<{ tables: string }>(
    `SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') AS tables
     FROM pg_tables WHERE schemaname = $1 AND tablename <> 'migrations'`,
    [schema],
  );
  if (rows[0]?.tables) await pool.query(`TRUNCATE ${rows[0].tables}`);
}

testStore({
  name: 'postgres',
  skip,
  create: async (clock) => {
    const store = new PostgresStore({ pool, schema, clock });
    await store.init();
    return store;
  },
  cleanup: truncateAll,
  // Every row of every table in the schema, as text, read through the test's own connection.
  rawDump: async () => {
    const { rows } = await pool.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema]);
    const dumps = await Promise.all(rows.map(({ tablename }) => pool.query(`SELECT row_to_json(t)::text AS row FROM "${schema}"."${tablename}" t`)));
    return dumps.flatMap((dump) => dump.rows.map((row: { row: string }) => row.row)).join('\n');
  },
});

describe.skipIf(skip)('PostgresStore', () => {
  it('STORE-V2: has the LoginStore group the built-in login needs', () => {
    expect(hasLoginStore(new PostgresStore({ pool, schema }))).toBe(true);
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => new PostgresStore({ pool, schema: 'keyward; DROP TABLE users' })).toThrow(TypeError);
  });

  it('leaves a pool passed in open on close, and ends one it opened', async () => {
    await new PostgresStore({ pool, schema }).close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const own = new PostgresStore({ connectionString: DATABASE_URL, schema });
    expect(await own.getClient('client-unknown')).toBeNull();
    await own.close();
    await expect(own.getClient('client-unknown')).rejects.toThrow();
  });

  it('sees two instances on one database rotate a refresh token exactly once', async () => {
    const first = new PostgresStore({ pool, schema });
    const second = new PostgresStore({ connectionString: DATABASE_URL, schema });
    const now = Date.now();
    const token = (tokenHash: string) => ({
      tokenHash,
      grantId: 'grant-1',
      clientId: 'client-1',
      subject: 'user-1',
      scopes: ['mcp:tools'],
      resources: [],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    await first.saveRefreshToken(token('presented'));
    const results = await Promise.all([
      first.rotateRefreshToken('presented', token('successor-a')),
      second.rotateRefreshToken('presented', token('successor-b')),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['reused', 'rotated']);
    await truncateAll();
    await second.close();
  });
});
