/**
 * Per-source request limits counted in the Store, so every instance sharing the Store shares the count,
 * and the IETF RateLimit header fields that tell a client where it stands.
 *
 * @module
 */
import type { Clock } from '../protocol/clock.js';
import type { Store } from '../store/store.js';

/**
 * A fixed-window limit: at most `max` requests per `windowMs` milliseconds from one source address.
 *
 * @example
 * ```ts
 * const limit: RateLimit = { windowMs: 60_000, max: 300 };
 * ```
 * @see [draft-ietf-httpapi-ratelimit-headers §2](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/)
 */
export interface RateLimit {
  windowMs: number;
  max: number;
}

/**
 * The endpoints that `AuthorizationServerOptions.rateLimits` configures.
 *
 * @example
 * ```ts
 * const off: Partial<Record<RateLimitedEndpoint, false>> = { introspect: false };
 * ```
 * @see [OAuth 2.1 §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3)
 */
export type RateLimitedEndpoint = 'token' | 'authorize' | 'register' | 'revoke' | 'introspect' | 'userinfo' | 'login';

/**
 * The default limits per source address and minute. They sit far above what a client following the
 * protocol sends (one authorization, a code exchange, a refresh an hour) while a scripted flood stops
 * within a minute; introspection is higher because one resource server asks for all its users.
 * Registration's default is its own `registration.rateLimit` (20 a minute).
 *
 * @example
 * ```ts
 * new AuthorizationServer({ issuer, store, rateLimits: { token: { ...DEFAULT_RATE_LIMITS.token, max: 600 } } });
 * ```
 * @see [draft-ietf-httpapi-ratelimit-headers](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/)
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<Exclude<RateLimitedEndpoint, 'register'>, RateLimit>> = {
  token: { windowMs: 60_000, max: 120 },
  authorize: { windowMs: 60_000, max: 60 },
  revoke: { windowMs: 60_000, max: 60 },
  introspect: { windowMs: 60_000, max: 600 },
  userinfo: { windowMs: 60_000, max: 120 },
  login: { windowMs: 60_000, max: 60 },
};

/**
 * The default limit of a guarded MCP endpoint: ten requests a second from one address, sustained.
 *
 * @example
 * ```ts
 * const guard = server.createGuard({ rateLimit: { ...DEFAULT_GUARD_RATE_LIMIT, max: 1200 } });
 * ```
 */
export const DEFAULT_GUARD_RATE_LIMIT: Readonly<RateLimit> = { windowMs: 60_000, max: 600 };

/** The outcome of counting one request. @internal */
export interface RateLimitDecision {
  allowed: boolean;
  /** `RateLimit-Policy` and `RateLimit` always; `Retry-After` when refused. */
  headers: Record<string, string>;
}

/**
 * Counts one request and decides. The count is reserved before it is compared (the Store's atomic
 * increment), so N concurrent requests can never all see room for one more.
 *
 * @internal
 * @see [draft-ietf-httpapi-ratelimit-headers §3, §4](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/)
 */
export async function countRequest(store: Store, clock: Clock, key: string, limit: RateLimit): Promise<RateLimitDecision> {
  const counter = await store.incrementCounter(key, limit.windowMs);
  const reset = Math.max(0, Math.ceil((counter.resetAt - clock()) / 1000));
  const remaining = Math.max(0, limit.max - counter.count);
  const headers: Record<string, string> = {
    'ratelimit-policy': `"default";q=${limit.max};w=${Math.ceil(limit.windowMs / 1000)}`,
    ratelimit: `"default";r=${remaining};t=${reset}`,
  };
  const allowed = counter.count <= limit.max;
  if (!allowed) headers['retry-after'] = String(Math.max(1, reset));
  return { allowed, headers };
}
