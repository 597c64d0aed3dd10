import { KeywardConfigError } from '@keyward/core';

/** An environment variable, with an empty value read as unset (as `.env` files often leave them). */
export function envVar(name: string): string | undefined {
  const value = process.env[name];
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
