/**
 * The versioned schema of the SQLite store.
 *
 * @module
 */
import type Database from 'better-sqlite3';
import { MIGRATIONS, migrationStatements, SCHEMA_VERSION as KIT_SCHEMA_VERSION, sqliteDialect } from '@keyward/sql-kit';

/**
 * The schema version this release of the store needs: the highest number in `keyward_migrations` once
 * {@link migrate} has run.
 *
 * @example
 * ```ts
 * const current = db.prepare('SELECT max(version) FROM keyward_migrations').pluck().get();
 * if (current !== SCHEMA_VERSION) migrate(db);
 * ```
 */
export const SCHEMA_VERSION: number = KIT_SCHEMA_VERSION;

/**
 * Brings the Keyward tables of a SQLite database up to {@link SCHEMA_VERSION}. Idempotent: migrations already
 * recorded in `keyward_migrations` are skipped, so running it again changes nothing. All pending migrations
 * run in one `BEGIN IMMEDIATE` transaction, so a second process migrating the same file waits (up to its
 * `busy_timeout`) and then finds nothing left to do. `SQLiteStore` calls it when constructed; call it
 * yourself only to migrate ahead of deployment.
 *
 * Tables are prefixed `keyward_` because the store may share a database file with the application's own.
 *
 * @param db An open better-sqlite3 database.
 * @returns The versions this call applied, oldest first (empty when the schema was already current).
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { migrate } from '@keyward/store-sqlite';
 *
 * const applied = migrate(new Database('keyward.db'));
 * console.log(applied.length ? `applied ${applied.join(', ')}` : 'schema up to date');
 * ```
 */
export function migrate(db: Database.Database): number[] {
  const dialect = sqliteDialect();
  const applyPending = db.transaction((): number[] => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS keyward_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at INTEGER NOT NULL
      ) STRICT
    `);
    const applied = new Set(db.prepare('SELECT version FROM keyward_migrations').pluck().all() as number[]);
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    const record = db.prepare('INSERT INTO keyward_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of pending) {
      for (const statement of migrationStatements(dialect, migration.version)) db.exec(statement);
      record.run(migration.version, migration.name, Date.now());
    }
    return pending.map((migration) => migration.version);
  });
  return applyPending.immediate();
}
