import type { Clock } from '../protocol/clock.js';
import type { Store } from '../store/store.js';

/** One counter a throttle consults: its store key, how many attempts it allows, and its fixed window. */
export interface ThrottleKey {
  key: string;
  /** Attempts allowed in one window; `Infinity` for a counter that is only read (it refuses nothing itself). */
  limit: number;
  windowMs: number;
}

/** A counter as one attempt saw it. */
export interface ThrottleCount extends ThrottleKey {
  /** Attempts that counted against the key in this window before this one. */
  before: number;
  /** Epoch milliseconds at which the window closes (now, for a counter that was never incremented). */
  resetAt: number;
}

/**
 * Counts attempts at secrets (passwords, client secrets, upstream tokens) per key in fixed windows through
 * the Store, whose `incrementCounter` is atomic in every store, so a limit holds across concurrent requests
 * and across instances. Two ways to use it:
 *
 * - {@link reserve} before a slow check (a password hash): every attempt is counted before the check runs,
 *   so N concurrent guesses cost N attempts and an attempt over the limit never reaches the check. A success
 *   then hands its attempt back with {@link refund}, so the owner's own sign-ins never add up to a lock-out.
 * - {@link peek} / {@link fail} around a fast check (a SHA-256 compare): only failures are counted, each
 *   decided by its own atomic increment, and a success is accepted only while the counter it read was under
 *   the limit. A right guess therefore gets through only as one of the first `limit` attempts of its window,
 *   the same bound reserving gives, without three store writes on every successful request.
 */
export class AttemptThrottle {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Counts this attempt on every key before the secret is checked. Nothing is released when it fails. */
  async reserve(keys: readonly ThrottleKey[]): Promise<ThrottleCount[]> {
    const counters = await Promise.all(keys.map((key) => this.#store.incrementCounter(key.key, key.windowMs)));
    // Refunds live beside the window they belong to, so they vanish with it and never outlast it.
    const refunds = await Promise.all(counters.map((counter, index) => this.#store.getCounter(refundKey(keys[index]!.key, counter.resetAt))));
    return counters.map((counter, index) => ({ ...keys[index]!, before: Math.max(0, counter.count - 1 - (refunds[index]?.count ?? 0)), resetAt: counter.resetAt }));
  }

  /** Hands back reserved attempts that succeeded, in the windows they were counted in. */
  async refund(counts: readonly ThrottleCount[]): Promise<void> {
    const now = this.#clock();
    await Promise.all(counts.filter((count) => count.resetAt > now).map((count) => this.#store.incrementCounter(refundKey(count.key, count.resetAt), count.resetAt - now)));
  }

  /** Reads failures counted so far, without counting anything. */
  async peek(keys: readonly ThrottleKey[]): Promise<ThrottleCount[]> {
    const now = this.#clock();
    const counters = await Promise.all(keys.map((key) => this.#store.getCounter(key.key)));
    return counters.map((counter, index) => ({ ...keys[index]!, before: counter?.count ?? 0, resetAt: counter?.resetAt ?? now }));
  }

  /** Counts a failure on every key; `before` excludes it, so an answer decided from it is this failure's own. */
  async fail(keys: readonly ThrottleKey[]): Promise<ThrottleCount[]> {
    const counters = await Promise.all(keys.map((key) => this.#store.incrementCounter(key.key, key.windowMs)));
    return counters.map((counter, index) => ({ ...keys[index]!, before: counter.count - 1, resetAt: counter.resetAt }));
  }

  /** Seconds until the latest window among the over-limit counters closes, or null when none is over its limit. */
  retryAfter(counts: readonly ThrottleCount[]): number | null {
    const over = counts.filter((count) => count.before >= count.limit);
    if (over.length === 0) return null;
    return Math.max(1, Math.ceil((Math.max(...over.map((count) => count.resetAt)) - this.#clock()) / 1000));
  }
}

function refundKey(key: string, resetAt: number): string {
  return `${key}:refunded:${resetAt}`;
}

/**
 * The source a throttle counts an address under. One IPv6 host usually holds a whole /64 (SLAAC, privacy
 * addresses), so counting per address would give it 2^64 fresh budgets: IPv6 counts per /64, and an
 * IPv4-mapped IPv6 address as the IPv4 address it carries.
 *
 * @example
 * ```ts
 * throttleSource('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 * throttleSource('::ffff:192.0.2.7');     // '192.0.2.7'
 * ```
 * @see [RFC 7421 §1](https://www.rfc-editor.org/rfc/rfc7421#section-1)
 */
export function throttleSource(address: string): string {
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address.replace(/%.*$/, '').replace(/^\[|\]$/g, ''));
  if (!groups) return address;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (with an embedded IPv4 tail allowed), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  let text = address.toLowerCase();
  const ipv4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (ipv4) {
    const bytes = ipv4.slice(1).map(Number);
    if (bytes.some((byte) => byte > 255)) return null;
    text = `${text.slice(0, ipv4.index)}${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (half: string) => (half === '' ? [] : half.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const parts = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!parts.every((part) => /^[0-9a-f]{1,4}$/.test(part))) return null;
  return parts.map((part) => parseInt(part, 16));
}
