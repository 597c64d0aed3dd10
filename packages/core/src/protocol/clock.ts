/**
 * The time source of a server or store, in milliseconds since the epoch. Tests inject their own, so no
 * test sleeps to see something expire.
 *
 * @example
 * ```ts
 * let now = Date.now();
 * const store = new MemoryStore({ clock: () => now });
 * now += 61_000; // the 60 s authorization code is now expired
 * ```
 */
export type Clock = () => number;

/**
 * The wall clock, the default of every `clock` option.
 *
 * @example
 * ```ts
 * new AuthorizationServer({ issuer, store, clock: systemClock });
 * ```
 */
export const systemClock: Clock = () => Date.now();

/**
 * Seconds since the epoch, as JWT and OAuth JSON members count time.
 *
 * @example
 * ```ts
 * const iat = epochSeconds(clock);
 * ```
 * @see [RFC 7519 §2 (NumericDate)](https://www.rfc-editor.org/rfc/rfc7519#section-2)
 */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock() / 1000);
}
