import { KeywardConfigError } from '@keyward/core';

/**
 * The environment a `…FromEnv` helper reads: `process.env` by default, or any record of variables (a
 * parsed `.env` file, a test's own values).
 *
 * @example
 * ```ts
 * const env: EnvironmentVariables = { SUPABASE_URL: 'https://abcd.supabase.co' };
 * ```
 */
export type EnvironmentVariables = Readonly<Record<string, string | undefined>>;

/** A variable of `env`, with an empty value read as unset (as `.env` files often leave them). */
export function envVar(env: EnvironmentVariables, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Parses a configured URL, failing at construction rather than at the first login. */
export function configURL(value: string, name: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new KeywardConfigError(`${name} must be an absolute URL`);
  }
}
