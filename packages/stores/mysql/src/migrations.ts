/**
 * The versioned schema of the MySQL store.
 *
 * @module
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { checkIdentifier, MIGRATIONS, migrationStatements, mysqlDialect, SCHEMA_VERSION as KIT_SCHEMA_VERSION } from '@keyward/sql-kit';

/**
 * The schema version this release of the store needs: the highest number in `<prefix>migrations` once
 * {@link migrate} has run.
 *
 * @example
 * ```ts
 * const [rows] = await pool.query('SELECT max(version) AS version FROM keyward_migrations');
 * if (rows[0].version !== SCHEMA_VERSION) console.warn('run migrate() before starting with migrate: false');
 * ```
 */
export const SCHEMA_VERSION: number = KIT_SCHEMA_VERSION;

/**
 * Options of {@link migrate}.
 *
 * @example
 * ```ts
 * const options: MigrateOptions = { prefix: 'auth_' };
 * ```
 */
export interface MigrateOptions {
  /** Prefix of the store's table names in the connection's database; defaults to `keyward_`. */
  prefix?: string | undefined;
}

/**
 * Brings the store's tables in the pool's database up to {@link SCHEMA_VERSION}, applying the numbered
 * migrations not yet recorded in `<prefix>migrations`. Idempotent, and safe when several instances start at
 * once: it holds `GET_LOCK('keyward:migrate:<prefix>')` while it works, so the others wait and then find
 * nothing left to do. MySQL commits each DDL statement by itself, so a migration that fails half-way is not
 * rolled back: fix the cause and drop what it created before running it again.
 *
 * `MySQLStore` calls it on first use unless constructed with `migrate: false`.
 *
 * @param pool A mysql2 promise pool; one connection is borrowed while migrating.
 * @returns The versions this call applied, oldest first (empty when the schema was already current).
 * @example
 * ```ts
 * import mysql from 'mysql2/promise';
 * import { migrate } from '@keyward/store-mysql';
 *
 * const pool = mysql.createPool('mysql://keyward@db.internal:3306/app');
 * console.log('applied migrations', await migrate(pool));
 * await pool.end();
 * ```
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<number[]> {
  const prefix = checkIdentifier('table prefix', options.prefix ?? 'keyward_');
  const dialect = mysqlDialect({ prefix });
  const connection = await pool.getConnection();
  const lock = `keyward:migrate:${prefix}`;
  try {
    const [[locked]] = await connection.query<RowDataPacket[]>('SELECT GET_LOCK(?, 60) AS got', [lock]);
    if (locked?.got !== 1) throw new Error(`Timed out waiting for the lock ${lock} held by another migration`);
    await connection.query(
      `CREATE TABLE IF NOT EXISTS \`${prefix}migrations\` (version INT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB`,
    );
    const [rows] = await connection.query<RowDataPacket[]>(`SELECT version FROM \`${prefix}migrations\``);
    const applied = new Set(rows.map((row) => Number(row.version)));
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      for (const statement of migrationStatements(dialect, migration.version)) await connection.query(statement);
      await connection.query(`INSERT INTO \`${prefix}migrations\` (version, name, applied_at) VALUES (?, ?, ?)`, [
        migration.version,
        migration.name,
        Date.now(),
      ]);
    }
    return pending.map((migration) => migration.version);
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => undefined);
    connection.release();
  }
}
