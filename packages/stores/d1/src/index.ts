/**
 * `@keyward/store-d1`: Keyward's {@link Store} in Cloudflare D1, for authorization servers on Cloudflare Workers.
 *
 * @module
 */
export { D1Store, type D1StoreOptions, type D1DatabaseLike, type D1PreparedStatementLike } from './d1-store.js';
