/**
 * `@keyward/store-sqlite`: a persistent `Store` for one Keyward server on one machine, in a SQLite
 * file through better-sqlite3.
 *
 * @example
 * ```ts
 * import { SQLiteStore } from '@keyward/store-sqlite';
 * const store = new SQLiteStore({ filename: './data/keyward.db' });
 * ```
 * @module
 */
export { SQLiteStore, type SQLiteStoreOptions } from './sqlite-store.js';
export { migrate, SCHEMA_VERSION } from './migrations.js';
