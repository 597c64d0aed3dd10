import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { READ_AT } from '../../test-support/fixture-records.js';
import { checkFixtureReadsBack } from '../../test-support/forward-migration.js';
import { migrate, PostgresStore, SCHEMA_VERSION } from '../src/index.js';
import { DATABASE_URL, describeAddress } from './database.js';

const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', () => undefined);
const skip = await skipUnlessReachable('PostgreSQL', describeAddress(DATABASE_URL), () => pool.query('SELECT 1'));
const schemas: string[] = [];

afterAll(async () => {
  if (!skip) for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

/**
 * Loads a committed `pg_dump` into a schema of this run: the dump's own schema name is replaced, and psql's
 * meta-commands (`\restrict`) are left out, since pg runs plain SQL.
 */
async function loadFixture(name: string, dumpedSchema: string): Promise<string> {
  const schema = `keyward_test_store_v2_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  const dump = readFileSync(new URL(`../../test-support/fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n')
    .replaceAll(dumpedSchema, schema);
  const client = await pool.connect();
  try {
    await client.query(dump);
  } finally {
    // The dump empties search_path for its session; give the pool a fresh connection back.
    client.release(true);
  }
  return schema;
}

describe.skipIf(skip)('STORE-MIG forward migration (PostgreSQL)', () => {
  it('opens a schema dumped at schema version 2, migrates it and reads every record back intact', async () => {
    const schema = await loadFixture('postgres-schema-v2.sql', 'keyward_store_v2_fixture');
    const store = new PostgresStore({ pool, schema, clock: () => READ_AT });
    await checkFixtureReadsBack(store);
    const { rows } = await pool.query<{ version: number }>(`SELECT max(version) AS version FROM "${schema}".migrations`);
    expect(rows[0]?.version).toBe(SCHEMA_VERSION);
    expect(await migrate(pool, { schema })).toEqual([]);
  });

  it('leaves the migrated fixture with the same tables, columns and indexes as a schema created today', async () => {
    const migrated = await loadFixture('postgres-schema-v2.sql', 'keyward_store_v2_fixture');
    await migrate(pool, { schema: migrated });
    const fresh = `keyward_test_store_v2_${randomBytes(4).toString('hex')}`;
    schemas.push(fresh);
    await migrate(pool, { schema: fresh });
    expect(await shape(migrated)).toEqual(await shape(fresh));
  });
});

/** Every column (table, name, type, nullable) and every index definition of a schema, without its name. */
async function shape(schema: string): Promise<unknown> {
  const columns = await pool.query(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  const indexes = await pool.query(
    `SELECT indexname, replace(indexdef, $1, 'S') AS indexdef FROM pg_indexes WHERE schemaname = $2 ORDER BY indexname`,
    [`"${schema}"`, schema],
  );
  return { columns: columns.rows, indexes: indexes.rows.map((row) => ({ ...row, indexdef: String(row.indexdef).replace(schema, 'S') })) };
}
