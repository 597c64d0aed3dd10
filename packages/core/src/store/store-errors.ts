import type { Store } from './store.js';

/**
 * A Store call failed for a reason that passes (database unreachable, connection reset, timeout, a
 * serialization failure, an exhausted pool). The server answers it with 503 `temporarily_unavailable` and
 * `Retry-After`: the request can succeed once the database is back, and the store's own atomic operations
 * guarantee that nothing was half-written. Any other error a store throws is a bug and is answered with 500
 * `server_error`.
 *
 * A store throws it itself, or lets the server classify its errors through {@link Store.isTransientError}.
 *
 * @example
 * ```ts
 * try {
 *   return await pool.query(sql, values);
 * } catch (error) {
 *   throw isTransientStoreError(error) ? new StoreUnavailableError('getClient', error) : error;
 * }
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

// Node's network errors; PostgreSQL SQLSTATEs of connection loss (class 08), serialization failure and
// deadlock (retry the transaction), too many connections, shutdown, lock and statement timeouts; SQLite's
// busy and locked databases.
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTCONN', 'ESOCKETTIMEDOUT',
  '08000', '08001', '08003', '08004', '08006', '08007', '40001', '40P01', '53300', '55P03', '57014', '57P01',
  '57P02', '57P03',
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT',
]);

/**
 * Whether a database driver's error is one that passes: a refused, reset or timed-out connection, a
 * serialization failure or deadlock, too many connections, a busy SQLite file. Looks at the error's `code`
 * (Node errno names, PostgreSQL SQLSTATEs, SQLite result codes), its `cause` chain and the errors of an
 * `AggregateError`. A store uses it in {@link Store.isTransientError}, adding what only its driver says.
 *
 * @example
 * ```ts
 * isTransientStoreError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })); // true
 * isTransientStoreError(new TypeError("Cannot read properties of undefined (reading 'clientId')")); // false
 * ```
 * @see [PostgreSQL error codes](https://www.postgresql.org/docs/current/errcodes-appendix.html)
 */
export function isTransientStoreError(error: unknown): boolean {
  for (let depth = 0; depth < 8 && error instanceof Error; depth++) {
    if (error instanceof StoreUnavailableError) return true;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (error instanceof AggregateError && error.errors.some((inner) => isTransientStoreError(inner))) return true;
    error = error.cause;
  }
  return false;
}

/**
 * Wraps every method of a store so that a transient failure surfaces as {@link StoreUnavailableError},
 * classified by the store's own `isTransientError` (or {@link isTransientStoreError} when it has none).
 * Every other error passes unchanged: the server answers it with 500 and reports it to `onError`.
 */
export function guardStore(store: Store): Store {
  const isTransient = store.isTransientError ? (error: unknown) => isTransientStoreError(error) || store.isTransientError!(error) : isTransientStoreError;
  // One wrapper per method, made on first use: the store is called several times per request.
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'isTransientError') return value;
      let wrapper = wrappers.get(property);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => Promise<unknown>;
        wrapper = async (...args: unknown[]) => {
          try {
            return await method.apply(target, args);
          } catch (error) {
            if (error instanceof StoreUnavailableError) throw error;
            throw isTransient(error) ? new StoreUnavailableError(String(property), error) : error;
          }
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
