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

/** An entry and its neighbours in recency order; the list runs from the least to the most recently used. */
interface Slot {
  key: string;
  value: VerifiedToken;
  older: Slot | undefined;
  newer: Slot | undefined;
}

/**
 * A bounded, least-recently-used map from a token's SHA-256 to what verifying it established. A Map finds
 * the entry and a doubly linked list keeps the recency order, so a hit, an insert and an eviction each cost
 * a few pointer moves. (Evicting through a Map's own insertion order is not constant time in V8: a fresh
 * iterator walks past every entry deleted since the table was last rebuilt, several microseconds per
 * eviction at 10,000 entries, paid by every first-seen token once the cache is full.)
 *
 * Keyed by SHA-256 rather than by the token itself so that the cache does not keep bearer tokens alive in
 * the heap (a heap snapshot or core dump would hand them out); SHA-256 is collision-resistant, so a hit
 * belongs to the very token that was verified, and a token differing in any byte, its signature included,
 * misses and is verified in full.
 *
 * The guard stores a token through {@link admit}, the second time it verifies it, not the first. Tokens
 * presented once (a batch job's, a scan's, every client's first call) then neither evict the tokens of
 * busy sessions nor keep an entry alive long enough to reach the old generation of the heap, where each one
 * would wait for a full collection: under a stream of first-seen tokens, caching each one lengthened the
 * young collections by half. A session pays one more signature check, on its second request.
 */
export class VerifiedTokenCache {
  readonly #slots = new Map<string, Slot>();
  readonly #maxEntries: number;
  #oldest: Slot | undefined;
  #newest: Slot | undefined;
  /**
   * Fingerprints of keys verified once and not yet admitted, one per slot (0 is an empty slot). A key that
   * lands on another's slot replaces it: that token is admitted a verification later, and two keys with
   * the same slot and fingerprint (a chance of 2^-31) let one in a verification early. Neither changes an
   * answer; the table keeps nothing per token, so it never grows.
   */
  readonly #seenOnce: Int32Array;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
    // At least 1,024 slots (4 KiB), so that even a small cache remembers a few hundred recent keys.
    this.#seenOnce = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(maxEntries, 1024))));
  }

  /** The number of entries held; never more than the bound. */
  get size(): number {
    return this.#slots.size;
  }

  /** The entry for `key` if its token has not expired at `now` (epoch ms); a hit becomes most recently used. */
  get(key: string, now: number): VerifiedToken | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    // Strictly before exp, without the clock tolerance the full check allows: a cached answer never outlives the token.
    if (now >= slot.value.expiresAt * 1000) {
      this.#remove(slot);
      return undefined;
    }
    if (slot !== this.#newest) {
      this.#unlink(slot);
      this.#append(slot);
    }
    return slot.value;
  }

  /**
   * Stores `value` under `key` if this key was offered before, while nothing took its slot in the table
   * of keys seen once; otherwise remembers the key's fingerprint. True when stored.
   */
  admit(key: string, value: VerifiedToken): boolean {
    const fingerprint = fnv1a(key) | 1;
    const slot = (fingerprint ^ (fingerprint >>> 16)) & (this.#seenOnce.length - 1);
    if (this.#seenOnce[slot] !== fingerprint) {
      this.#seenOnce[slot] = fingerprint;
      return false;
    }
    this.#seenOnce[slot] = 0;
    this.set(key, value);
    return true;
  }

  set(key: string, value: VerifiedToken): void {
    const existing = this.#slots.get(key);
    if (existing !== undefined) this.#remove(existing);
    while (this.#slots.size >= this.#maxEntries && this.#oldest !== undefined) this.#remove(this.#oldest);
    const slot: Slot = { key, value, older: undefined, newer: undefined };
    this.#slots.set(key, slot);
    this.#append(slot);
  }

  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.#remove(slot);
  }

  #remove(slot: Slot): void {
    this.#slots.delete(slot.key);
    this.#unlink(slot);
  }

  #unlink(slot: Slot): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.#oldest = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.#newest = slot.older;
    slot.older = slot.newer = undefined;
  }

  #append(slot: Slot): void {
    slot.older = this.#newest;
    if (this.#newest) this.#newest.newer = slot;
    else this.#oldest = slot;
    this.#newest = slot;
  }
}

/** FNV-1a over the UTF-16 code units of `text`: the key is already a uniform digest, this only folds it to 32 bits. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}
