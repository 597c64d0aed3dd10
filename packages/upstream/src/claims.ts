/** The profile claims an upstream identity may carry into Keyward's userinfo and ID tokens. */
export const PROFILE_CLAIMS = ['name', 'email', 'email_verified', 'picture', 'preferred_username'] as const;

/**
 * Copies the named claims that hold a plain string or boolean. Upstream tokens carry much more (roles,
 * session ids, custom claims); passing only profile claims on keeps them out of tokens Keyward mints.
 */
export function pickClaims(source: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const name of names) {
    const value = source[name];
    if ((typeof value === 'string' && value !== '') || typeof value === 'boolean') claims[name] = value;
  }
  return claims;
}

/** The first non-empty string among the values, for claims with several upstream spellings. */
export function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value !== '');
}
