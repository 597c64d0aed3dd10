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

/** The wall clock. */
export const systemClock: Clock = () => Date.now();

/** Seconds since the epoch, as JWT and OAuth JSON members count time. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock() / 1000);
}
