/**
 * `@keyward/store-mysql`: a persistent `Store` in MySQL or MariaDB, shared by every Keyward server instance
 * behind a load balancer.
 *
 * @example
 * ```ts
 * import { MySQLStore } from '@keyward/store-mysql';
 * const store = new MySQLStore({ uri: process.env.MYSQL_URL });
 * ```
 * @module
 */
export { MySQLStore, type MySQLStoreOptions } from './mysql-store.js';
export { migrate, SCHEMA_VERSION, type MigrateOptions } from './migrations.js';
