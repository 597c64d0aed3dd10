import { sha256, timingSafeEqual } from './crypto.js';

// RFC 7636 §4.1: code-verifier = 43*128unreserved; the S256 challenge shares the grammar.
const PKCE_GRAMMAR = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * True when `value` is a syntactically valid PKCE code verifier or code challenge: 43 to 128 characters of
 * `[A-Za-z0-9-._~]`.
 *
 * @example
 * ```ts
 * isValidPKCEValue('abc'); // false: too short
 * ```
 * @see [RFC 7636 §4.1, §4.2](https://www.rfc-editor.org/rfc/rfc7636#section-4.1)
 */
export function isValidPKCEValue(value: string): boolean {
  return PKCE_GRAMMAR.test(value);
}

/**
 * `BASE64URL(SHA256(ASCII(code_verifier)))`.
 *
 * @example
 * ```ts
 * const challenge = await calculatePKCECodeChallenge(verifier);
 * ```
 * @see [RFC 7636 §4.2](https://www.rfc-editor.org/rfc/rfc7636#section-4.2)
 */
export function calculatePKCECodeChallenge(verifier: string): Promise<string> {
  return sha256(verifier);
}

/**
 * Verifies an S256 code verifier against the stored challenge, in constant time. Keyward supports only
 * S256: `plain` offers no protection once the authorization request leaks.
 *
 * @example
 * ```ts
 * if (!(await verifyPKCE(body.code_verifier, code.codeChallenge))) throw new OAuthError('invalid_grant');
 * ```
 * @see [RFC 7636 §4.6](https://www.rfc-editor.org/rfc/rfc7636#section-4.6)
 */
export async function verifyPKCE(verifier: string, challenge: string): Promise<boolean> {
  if (!isValidPKCEValue(verifier)) return false;
  return timingSafeEqual(await sha256(verifier), challenge);
}
