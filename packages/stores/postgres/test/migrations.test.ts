import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { migrate, PostgresStore, SCHEMA_VERSION } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
const schemas: string[] = [];

/** A schema name of this run, dropped afterwards. */
function freshSchema(): string {
  const schema = `keyward_test_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  return schema;
}

async function appliedVersions(schema: string): Promise<number[]> {
  const { rows } = await pool.query<{ version: number }>(`SELECT version FROM "${schema}".migrations ORDER BY version`);
  return rows.map((row) => row.version);
}

afterAll(async () => {
  if (!skip) for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe.skipIf(skip)('migrate (PostgreSQL)', () => {
  const allVersions = Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1);

  it('creates the schema, applies every migration once, and is a no-op when run again', async () => {
    const schema = freshSchema();
    expect(await migrate(pool, { schema })).toEqual(allVersions);
    expect(await migrate(pool, { schema })).toEqual([]);
    expect(await appliedVersions(schema)).toEqual(allVersions);
  });

  it('lets two instances starting at once both succeed, applying each migration exactly once', async () => {
    const schema = freshSchema();
    const results = await Promise.all([migrate(pool, { schema }), migrate(pool, { schema }), migrate(pool, { schema })]);
    expect(results.flat().sort()).toEqual(allVersions);
    expect(await appliedVersions(schema)).toEqual(allVersions);
  });

  it('migrates on first use unless told not to', async () => {
    const schema = freshSchema();
    const unmigrated = new PostgresStore({ pool, schema, migrate: false });
    await expect(unmigrated.getClient('client-1')).rejects.toThrow(/does not exist/);

    const store = new PostgresStore({ pool, schema });
    const [first, second] = await Promise.all([store.getClient('client-1'), store.getClient('client-2')]);
    expect([first, second]).toEqual([null, null]);
    expect(await appliedVersions(schema)).toEqual(allVersions);
    expect(await unmigrated.getClient('client-1')).toBeNull();
  });

  it('runs against a schema a DBA created, with a role that may only read and write rows', async () => {
    const schema = freshSchema();
    await migrate(pool, { schema });
    const role = `keyward_test_role_${randomBytes(4).toString('hex')}`;
    await pool.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
      const url = new URL(DATABASE_URL);
      url.username = role;
      const store = new PostgresStore({ connectionString: url.href, schema });
      try {
        expect(await store.markUsed('jti:1', Date.now() + 60_000)).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      await pool.query(`DROP OWNED BY ${role}`);
      await pool.query(`DROP ROLE ${role}`);
    }
  });
});
