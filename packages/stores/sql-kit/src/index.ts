/**
 * `@keyward/sql-kit`: what Keyward's SQL stores share. The tables are described once ({@link TABLES}); a
 * {@link Dialect} says how an engine spells them; rows, DDL and the whole `Store` ({@link SqlStore}) are
 * generated from the two. Bundled into each SQL store's build, never published on its own.
 *
 * @example
 * ```ts
 * import { SqlStore, sqliteDialect, migrationStatements, MIGRATIONS } from '@keyward/sql-kit';
 * ```
 * @module
 */
export * from './schema.js';
export * from './dialect.js';
export * from './rows.js';
export * from './ddl.js';
export * from './sql-store.js';
