/**
 * The versioned schema of the PostgreSQL store.
 *
 * @module
 */
import type pg from 'pg';
import { checkIdentifier, MIGRATIONS, migrationStatements, postgresDialect, SCHEMA_VERSION as KIT_SCHEMA_VERSION } from '@keyward/sql-kit';
import { inTransaction } from './transaction.js';

/**
 * The schema the store's tables live in unless told otherwise.
 *
 * @example
 * ```ts
 * await pool.query(`GRANT USAGE ON SCHEMA ${DEFAULT_SCHEMA} TO keyward_app`);
 * ```
 */
export const DEFAULT_SCHEMA = 'keyward';

/**
 * The schema version this release of the store needs: the highest number in `<schema>.migrations` once
 * {@link migrate} has run.
 *
 * @example
 * ```ts
 * const { rows } = await pool.query('SELECT max(version) AS version FROM keyward.migrations');
 * if (rows[0].version !== SCHEMA_VERSION) console.warn('run migrate() before starting with migrate: false');
 * ```
 */
export const SCHEMA_VERSION: number = KIT_SCHEMA_VERSION;

/**
 * Quotes a schema name for SQL. Only plain identifiers are accepted, so a configuration value can never
 * inject SQL.
 */
export function quoteSchema(schema: string): string {
  return `"${checkIdentifier('PostgreSQL schema name', schema)}"`;
}

/**
 * Options of {@link migrate}.
 *
 * @example
 * ```ts
 * const options: MigrateOptions = { schema: 'auth' };
 * ```
 */
export interface MigrateOptions {
  /** The schema holding the store's tables, created when missing; defaults to `keyward`. */
  schema?: string | undefined;
}

/**
 * Brings the store's tables in a PostgreSQL schema up to {@link SCHEMA_VERSION}: creates the schema when
 * missing, then applies the numbered migrations not yet recorded in `<schema>.migrations`, all in one
 * transaction. Idempotent, and safe when several instances start at once: the transaction first takes a
 * `pg_advisory_xact_lock` for the schema, so the others wait and then find nothing left to do.
 *
 * `PostgresStore` calls it on first use unless constructed with `migrate: false`; call it yourself to
 * migrate in a deployment step with a role that may create tables.
 *
 * @param pool A pg pool; one connection is borrowed for the transaction.
 * @returns The versions this call applied, oldest first (empty when the schema was already current).
 * @example
 * ```ts
 * import pg from 'pg';
 * import { migrate } from '@keyward/store-postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * console.log('applied migrations', await migrate(pool, { schema: 'keyward' }));
 * await pool.end();
 * ```
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<number[]> {
  const schemaName = options.schema ?? DEFAULT_SCHEMA;
  const schema = quoteSchema(schemaName);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keyward:migrate:${schemaName}`]);
    // Existence is checked before creating because CREATE … IF NOT EXISTS still demands the CREATE
    // privilege; this way a role limited to reading and writing rows can start against a current schema.
    const existing = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName]);
    if (existing.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
    const table = await client.query('SELECT to_regclass($1) AS oid', [`${schema}.migrations`]);
    if (table.rows[0]?.oid === null) {
      await client.query(`
        CREATE TABLE ${schema}.migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )
      `);
    }
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    const dialect = postgresDialect({ schema: schemaName });
    for (const migration of pending) {
      for (const statement of migrationStatements(dialect, migration.version)) await client.query(statement);
      await client.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    return pending.map((migration) => migration.version);
  });
}
