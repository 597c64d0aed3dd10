import type { Clock } from '../protocol/clock.js';
import { accessTokenRevocationKey, clientRevocationKey, grantRevocationKey, type RevocationKey, type Store } from './store.js';

/** Options of {@link RevocationList}. */
export interface RevocationListOptions {
  store: Store;
  clock: Clock;
  /** How stale the list may get before a request waits for a refresh from the store, in ms (default 2000). */
  refreshIntervalMs?: number;
  /**
   * Whether to take pushed revocations from a store that offers `subscribeRevocations` (default true): then
   * another instance's revocation arrives as it is written rather than within `refreshIntervalMs`.
   */
  push?: boolean;
}

/**
 * Revoked grants and access-token ids, held in memory so the resource-server guard pays one Set lookup
 * per request. Another instance's revocations arrive within `refreshIntervalMs`, or as they are written when
 * the store pushes them (`subscribeRevocations`); this instance's own arrive at once through {@link add}.
 *
 * @example
 * ```ts
 * const revocations = new RevocationList({ store, clock: Date.now });
 * if (await revocations.isRevoked(payload.jti, payload.grant_id)) return unauthorized();
 * ```
 * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
 */
export class RevocationList {
  readonly #options: RevocationListOptions;
  readonly #revoked = new Map<RevocationKey, number>();
  #syncedUntil = 0;
  #lastSync = Number.NEGATIVE_INFINITY;
  #syncing: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #subscribed = false;

  constructor(options: RevocationListOptions) {
    this.#options = options;
  }

  /** Stops listening to the store's pushed revocations (polling goes on while the list is used). */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Records a revocation locally (the caller has written it to the store). */
  add(key: RevocationKey, expiresAt: number): void {
    this.#revoked.set(key, expiresAt);
  }

  /** True when the token `jti`, its grant, or its client (deleted registration) has been revoked. */
  async isRevoked(jti: string, grantId: string | undefined, clientId?: string): Promise<boolean> {
    return this.revokedNow(jti, grantId, clientId) ?? this.#isRevokedAfterSync(jti, grantId, clientId);
  }

  /**
   * {@link isRevoked} without a promise, when the list is fresh enough to answer from memory; undefined
   * when it must first be read again from the store, and then `isRevoked` answers. For callers that consult
   * the list on every request, as the bearer guard does for cached tokens.
   *
   * @example
   * ```ts
   * const revoked = revocations.revokedNow(jti, grantId) ?? (await revocations.isRevoked(jti, grantId));
   * ```
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  revokedNow(jti: string, grantId: string | undefined, clientId?: string): boolean | undefined {
    const now = this.#options.clock();
    if (this.#awaitsSubscription() || this.#stale(now)) return undefined;
    return this.#lookup(jti, grantId, clientId, now);
  }

  /** Push is on and the store offers it, but nothing has subscribed yet. */
  #awaitsSubscription(): boolean {
    return !this.#subscribed && this.#options.push !== false && this.#options.store.subscribeRevocations !== undefined;
  }

  /** The list was last read from the store longer ago than the refresh interval. */
  #stale(now: number): boolean {
    return now - this.#lastSync > (this.#options.refreshIntervalMs ?? 2000);
  }

  async #isRevokedAfterSync(jti: string, grantId: string | undefined, clientId: string | undefined): Promise<boolean> {
    const now = this.#options.clock();
    // Subscribed on first use, so a list that is never consulted holds no listening connection.
    if (this.#awaitsSubscription()) {
      this.#subscribed = true;
      this.#unsubscribe = this.#options.store.subscribeRevocations!((record) => this.add(record.key, record.expiresAt));
    }
    if (this.#stale(now)) await this.#sync(now);
    return this.#lookup(jti, grantId, clientId, now);
  }

  #lookup(jti: string, grantId: string | undefined, clientId: string | undefined, now: number): boolean {
    return (
      this.#has(accessTokenRevocationKey(jti), now) ||
      (grantId !== undefined && this.#has(grantRevocationKey(grantId), now)) ||
      (clientId !== undefined && this.#has(clientRevocationKey(clientId), now))
    );
  }

  #has(key: RevocationKey, now: number): boolean {
    const expiresAt = this.#revoked.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > now) return true;
    this.#revoked.delete(key);
    return false;
  }

  #sync(now: number): Promise<void> {
    // Concurrent requests share one store read.
    this.#syncing ??= (async () => {
      try {
        // Re-read a little overlap: a revocation written by another instance with a slightly older clock.
        const since = Math.max(0, this.#syncedUntil - 60_000);
        for (const record of await this.#options.store.listRevocations(since)) this.add(record.key, record.expiresAt);
        this.#syncedUntil = now;
      } catch {
        // While the database is away, tokens keep being checked against the list as last read (and this
        // server's own revocations, which arrive through add()); the next interval tries again.
      } finally {
        this.#lastSync = now;
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }
}
