// RFC 8252 §7.3 lets a native app's loopback redirect use any port. Everything but the port must match
// byte for byte, so the URI is split by pattern, never normalised through `URL`.
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?([/?][^#]*)?$/;

const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:']);

function splitLoopback(uri: string): { host: string; rest: string } | null {
  const match = LOOPBACK.exec(uri);
  if (!match) return null;
  // RFC 3986 §3.2.3 / RFC 6335 §6: a port beyond 65535 names no port; such a URI is not a usable redirect target.
  if (match[2] !== undefined && Number(match[2]) > 65535) return null;
  return { host: match[1]!, rest: match[3] ?? '' };
}

/**
 * True when the requested redirect URI is one of the registered ones: exact simple string comparison
 * (RFC 3986 §6.2.1), except that a loopback `http` URI may carry any port (RFC 8252 §7.3). The exception
 * covers the port alone: not the path, the query, the scheme, nor `localhost` standing for `127.0.0.1`.
 * Keyward extends it to `http://localhost`, which MCP clients register in practice, host kept exact.
 *
 * @example
 * ```ts
 * redirectUriMatches(['http://127.0.0.1/cb'], 'http://127.0.0.1:51004/cb'); // true
 * redirectUriMatches(['https://app.example/cb'], 'https://app.example/cb/'); // false
 * ```
 * @see [OAuth 2.1 §4.1.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.1)
 * @see [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const wanted = splitLoopback(requested);
  if (!wanted) return false;
  return registered.some((candidate) => {
    const known = splitLoopback(candidate);
    return known !== null && known.host === wanted.host && known.rest === wanted.rest;
  });
}

/** Where a redirect URI is allowed to point, for {@link checkRedirectUriForRegistration}. */
export interface RedirectUriPolicyOptions {
  /** `native` clients may use loopback `http` and private-use schemes; `web` clients need https. */
  applicationType?: 'web' | 'native';
  /** Private-use schemes without a dot that are allowed anyway, such as `cursor`. */
  allowedSchemes?: readonly string[];
}

/**
 * Checks a redirect URI offered at registration (or in configuration) and returns why it is refused, or
 * `null` when it is acceptable: absolute, no fragment, no dangerous scheme, https or loopback http, and a
 * private-use scheme only when it is reverse-DNS or allow-listed.
 *
 * @example
 * ```ts
 * checkRedirectUriForRegistration('http://evil.example/cb'); // 'http redirect URIs must use a loopback host'
 * checkRedirectUriForRegistration('cursor://anysphere.cursor-mcp/oauth/callback', { allowedSchemes: ['cursor'] }); // null
 * ```
 * @see [OAuth 2.1 §2.3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-2.3)
 * @see [RFC 8252 §7.1](https://www.rfc-editor.org/rfc/rfc8252#section-7.1)
 */
export function checkRedirectUriForRegistration(uri: string, options: RedirectUriPolicyOptions = {}): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'redirect URI must be an absolute URI';
  }
  if (uri.includes('#')) return 'redirect URI must not contain a fragment';
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `redirect URI scheme ${url.protocol} is not allowed`;
  if (url.username || url.password) return 'redirect URI must not contain user information';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') {
    if (splitLoopback(uri)) return null;
    return 'http redirect URIs must use a loopback host (127.0.0.1, [::1] or localhost)';
  }
  const scheme = url.protocol.slice(0, -1);
  if (options.applicationType === 'web') return 'web clients must use https redirect URIs';
  if (scheme.includes('.') || options.allowedSchemes?.includes(scheme)) return null;
  return `private-use scheme "${scheme}" must be in reverse-DNS form (e.g. com.example.app) or allow-listed`;
}

/**
 * Adds parameters to a redirect URI, keeping its own query component (OAuth 2.1 §2.3) and encoding every
 * value, so hostile `state` values cannot break out of the URI.
 *
 * @example
 * ```ts
 * appendQuery('https://a.example/cb?x=1', { code: 'abc', state: 'a b' }); // https://a.example/cb?x=1&code=abc&state=a+b
 * ```
 * @see [OAuth 2.1 §7.12](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-7.12)
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
  const encoded = query.toString();
  if (!encoded) return uri;
  return uri + (uri.includes('?') ? (uri.endsWith('?') || uri.endsWith('&') ? '' : '&') : '?') + encoded;
}
