// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Splits a `scope` parameter into its distinct tokens, in order. Returns `null` when a token breaks the
 * RFC 6749 grammar, so the caller can answer `invalid_scope`.
 *
 * @example
 * ```ts
 * parseScope('mcp:tools  openid'); // ['mcp:tools', 'openid']
 * ```
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export function parseScope(value: string | undefined): string[] | null {
  if (value === undefined) return [];
  const tokens = value.split(' ').filter((token) => token !== '');
  if (!tokens.every((token) => SCOPE_TOKEN.test(token))) return null;
  return [...new Set(tokens)];
}

/**
 * Joins scope tokens with single spaces.
 *
 * @example
 * ```ts
 * formatScope(['mcp:tools', 'openid']); // 'mcp:tools openid'
 * ```
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/**
 * True when every token of `requested` is in `granted`.
 *
 * @example
 * ```ts
 * isScopeSubset(['mcp:tools'], ['mcp:tools', 'openid']); // true
 * ```
 * @see [OAuth 2.1 §4.3.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.3.1)
 */
export function isScopeSubset(requested: readonly string[], granted: readonly string[]): boolean {
  const allowed = new Set(granted);
  return requested.every((scope) => allowed.has(scope));
}
