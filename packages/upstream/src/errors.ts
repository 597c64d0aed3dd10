const BRAND = Symbol.for('keyward.UpstreamLoginError');

/**
 * Why an upstream login failed, coarse on purpose: enough for a login page to choose its message and for
 * logs to count failures, never enough to help someone probe a verifier.
 *
 * - `invalid_token`: a token (ID token, session token, access token) did not pass verification.
 * - `invalid_callback`: the callback does not belong to the login that was started (state, `iss`).
 * - `upstream_error`: the identity provider answered with an OAuth error (the user cancelled, …).
 * - `unavailable`: the identity provider or its key set could not be reached.
 * - `misconfigured`: the identity provider does not match this configuration (issuer, endpoints, client).
 *
 * @example
 * ```ts
 * const status = error.code === 'unavailable' ? 503 : 401;
 * ```
 * @see [RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)
 */
export type UpstreamLoginErrorCode = 'invalid_token' | 'invalid_callback' | 'upstream_error' | 'unavailable' | 'misconfigured';

/**
 * The one error every provider of this package throws when a login fails. Its message is a short reason
 * (`token expired`, `unexpected "aud" claim`); the upstream response and the token itself are never in it.
 *
 * @example
 * ```ts
 * try {
 *   identity = await firebase.verifyToken(idToken);
 * } catch (e) {
 *   if (isUpstreamLoginError(e)) return loginPage({ error: e.code });
 *   throw e;
 * }
 * ```
 * @see [RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)
 */
export class UpstreamLoginError extends Error {
  readonly code: UpstreamLoginErrorCode;
  readonly [BRAND] = true;

  constructor(code: UpstreamLoginErrorCode, reason: string) {
    super(reason);
    this.name = 'UpstreamLoginError';
    this.code = code;
  }
}

/**
 * True for an {@link UpstreamLoginError}, even one from a second copy of this package in the process.
 *
 * @example
 * ```ts
 * if (isUpstreamLoginError(e) && e.code === 'upstream_error') return redirect('/login?cancelled');
 * ```
 * @see [RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)
 */
export function isUpstreamLoginError(value: unknown): value is UpstreamLoginError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
