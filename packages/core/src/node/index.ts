/**
 * Node-only pieces of Keyward: `@keyward/core/node`. Everything here needs Node's built-ins (the DNS-pinning
 * safe fetch, and the `http` glue the framework adapters share); the main entry `@keyward/core` runs on any
 * runtime with Web Crypto and `fetch`.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { safeFetch } from '@keyward/core/node';
 *
 * const server = new AuthorizationServer({ issuer, store, fetch: (url) => safeFetch(url, { timeoutMs: 3000 }) });
 * ```
 *
 * @module
 */
export { OutboundFetchError, safeFetch, specialPurposeRange } from './safe-fetch.js';
export type { SafeFetchOptions, SafeFetchResponse } from './safe-fetch.js';
export * from './adapter.js';
/** The largest request body Keyward reads (64 KiB); the adapters' glue drains a larger one and answers 413. */
export { MAX_BODY_BYTES } from '../protocol/http.js';
export type { Reply } from '../protocol/reply.js';
