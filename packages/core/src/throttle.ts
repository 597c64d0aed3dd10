import type { Clock } from './clock.js';
import type { Store } from './store.js';

/**
 * Counts failed attempts (passwords, client secrets, upstream tokens) per key in a fixed window through the
 * Store, so the limit holds across instances. Only failures count: a user who signs in often is never
 * locked out by succeeding, while a guesser is stopped, correct guess or not, once a key is over its limit.
 */
export class FailureThrottle {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #windowMs: number;

  constructor(store: Store, clock: Clock, windowMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#windowMs = windowMs;
  }

  /** Seconds until the first over-limit key's window closes, or null when every key may try. */
  async retryAfter(limits: ReadonlyArray<readonly [key: string, limit: number]>): Promise<number | null> {
    const counters = await Promise.all(limits.map(([key]) => this.#store.getCounter(key)));
    const blocked = counters.find((counter, index) => counter !== null && counter.count >= limits[index]![1]);
    return blocked ? Math.max(1, Math.ceil((blocked.resetAt - this.#clock()) / 1000)) : null;
  }

  async recordFailure(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.#store.incrementCounter(key, this.#windowMs)));
  }
}
