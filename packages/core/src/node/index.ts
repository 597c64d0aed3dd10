/**
 * `@keyward/core/node`: the parts of Keyward that need Node's `http` module, for the framework adapters
 * and for servers written directly on `node:http`.
 *
 * @module
 */
export * from './adapter.js';
