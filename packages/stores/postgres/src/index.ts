/**
 * `@keyward/store-postgres`: a persistent `Store` in PostgreSQL, shared by every Keyward server instance
 * behind a load balancer.
 *
 * @example
 * ```ts
 * import { PostgresStore } from '@keyward/store-postgres';
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL });
 * ```
 * @module
 */
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { migrate, DEFAULT_SCHEMA, SCHEMA_VERSION, type MigrateOptions } from './migrations.js';
