import type { Store } from './store.js';

/**
 * A Store call failed (database unreachable, timeout, failed transaction). The server answers it with 503
 * `temporarily_unavailable` and `Retry-After`, never with a 500: the request can succeed once the database
 * is back, and the store's own atomic operations guarantee that nothing was half-written.
 *
 * @example
 * ```ts
 * server.fetch(request); // a PostgreSQL outage answers 503 {"error":"temporarily_unavailable"}
 * ```
 * @see [RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)
 */
export class StoreUnavailableError extends Error {
  /** The Store method that failed (`getClient`, `rotateRefreshToken`, …), for logs and events. */
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super(`store operation ${operation} failed`, { cause });
    this.name = 'StoreUnavailableError';
    this.operation = operation;
  }
}

/** Wraps every method of a store so that a failure surfaces as {@link StoreUnavailableError}. */
export function guardStore(store: Store): Store {
  // One wrapper per method, made on first use: the store is called several times per request.
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(property);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => Promise<unknown>;
        wrapper = async (...args: unknown[]) => {
          try {
            return await method.apply(target, args);
          } catch (error) {
            throw new StoreUnavailableError(String(property), error);
          }
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
