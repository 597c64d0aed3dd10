/**
 * `@keyward/store-redis`: a persistent `Store` in Redis, shared by every Keyward server instance behind a
 * load balancer.
 *
 * @example
 * ```ts
 * import { RedisStore } from '@keyward/store-redis';
 * const store = new RedisStore({ url: process.env.REDIS_URL });
 * ```
 * @module
 */
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
