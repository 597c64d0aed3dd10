import type { JWTPayload } from 'jose';

/** What a verified access token established, kept so that the next request with it skips the signature check. */
export interface VerifiedToken {
  /** Frozen: every request served from the cache hands out this one object as `AuthInfo.extra.claims`. */
  claims: Readonly<JWTPayload>;
  clientId: string;
  subject: string;
  jti: string;
  grantId: string | undefined;
  scopes: readonly string[];
  /** The token's `exp` (epoch seconds); from then on the entry is never served. */
  expiresAt: number;
}

/**
 * A bounded, least-recently-used map from a token's SHA-256 to what verifying it established. A Map keeps
 * insertion order, so moving a hit to the end and evicting from the front is an LRU in two operations.
 *
 * Keyed by SHA-256 rather than by the token itself so that the cache does not keep bearer tokens alive in
 * the heap (a heap snapshot or core dump would hand them out); SHA-256 is collision-resistant, so a hit
 * belongs to the very token that was verified, and a token differing in any byte, its signature included,
 * misses and is verified in full.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, VerifiedToken>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** The number of entries held; never more than the bound. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key` if its token has not expired at `now` (epoch ms); a hit becomes most recently used. */
  get(key: string, now: number): VerifiedToken | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    // Strictly before exp, without the clock tolerance the full check allows: a cached answer never outlives the token.
    if (now >= entry.expiresAt * 1000) return undefined;
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: VerifiedToken): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, entry);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
