/**
 * Every error code a Keyward endpoint can answer with, annotated with the RFC that defines it.
 *
 * @see [RFC 6749 §4.1.2.1, §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 * @see [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)
 * @see [RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1)
 * @see [RFC 7591 §3.2.2](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2)
 * @see [RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)
 */
export type OAuthErrorCode =
  // RFC 6749 / OAuth 2.1
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  // RFC 6750
  | 'invalid_token'
  | 'insufficient_scope'
  // RFC 7009
  | 'unsupported_token_type'
  // RFC 7591
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'invalid_software_statement'
  | 'unapproved_software_statement'
  // RFC 8707
  | 'invalid_target'
  // OpenID Connect Core §3.1.2.6
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  // Keyward: rate limits (answered with 429)
  | 'slow_down';

const ERROR_URIS: Partial<Record<OAuthErrorCode, string>> = {
  invalid_request: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  invalid_client: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  invalid_grant: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  unauthorized_client: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  unsupported_grant_type: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  unsupported_response_type: 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1',
  invalid_scope: 'https://www.rfc-editor.org/rfc/rfc6749#section-5.2',
  access_denied: 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1',
  invalid_token: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  insufficient_scope: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  unsupported_token_type: 'https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1',
  invalid_redirect_uri: 'https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2',
  invalid_client_metadata: 'https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2',
  invalid_target: 'https://www.rfc-editor.org/rfc/rfc8707#section-2',
  login_required: 'https://openid.net/specs/openid-connect-core-1_0.html#AuthError',
  consent_required: 'https://openid.net/specs/openid-connect-core-1_0.html#AuthError',
  interaction_required: 'https://openid.net/specs/openid-connect-core-1_0.html#AuthError',
};

const BRAND = Symbol.for('keyward.oauth-error');

/** Options of {@link OAuthError}. */
export interface OAuthErrorOptions {
  /** Human-readable text for the developer of the client (`error_description`). */
  description?: string;
  /** HTTP status; 400 unless the RFC names another (401 for `invalid_client`/`invalid_token`, 403 for `insufficient_scope`). */
  status?: number;
  /** Extra response headers, such as `WWW-Authenticate` or `Retry-After`. */
  headers?: Record<string, string>;
  /** Overrides the default `error_uri` (a link to the RFC section that defines the code). */
  errorUri?: string;
  cause?: unknown;
}

function defaultStatus(code: OAuthErrorCode): number {
  switch (code) {
    case 'invalid_client':
    case 'invalid_token':
      return 401;
    case 'insufficient_scope':
      return 403;
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    case 'slow_down':
      return 429;
    default:
      return 400;
  }
}

/**
 * RFC 6749 §4.1.2.1 and §5.2 restrict `error_description` to %x20-21 / %x23-5B / %x5D-7E: no quote, no
 * backslash, ASCII only. Descriptions sometimes echo client input, so they are scrubbed rather than trusted.
 *
 * @example
 * ```ts
 * sanitizeErrorDescription('bad "scope" é'); // 'bad ?scope? ?'
 * ```
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 */
export function sanitizeErrorDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

/** @internal The header fields of every error answer (RFC 6749 §5.2: no caching of an error either). */
export const ERROR_RESPONSE_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * A protocol error answered to the client in the RFC's JSON shape. Anything thrown inside a handler that is
 * not an `OAuthError` becomes a generic `server_error` 500 and goes to the `onError` hook instead.
 *
 * @example
 * ```ts
 * throw new OAuthError('invalid_grant', { description: 'authorization code expired' });
 * ```
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string | undefined;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly errorUri: string | undefined;
  readonly [BRAND] = true;

  constructor(code: OAuthErrorCode, options: OAuthErrorOptions = {}) {
    super(options.description ? `${code}: ${options.description}` : code, { cause: options.cause });
    this.name = 'OAuthError';
    this.code = code;
    this.description = options.description === undefined ? undefined : sanitizeErrorDescription(options.description);
    this.status = options.status ?? defaultStatus(code);
    this.headers = options.headers ?? {};
    this.errorUri = options.errorUri ?? ERROR_URIS[code];
  }

  /** The JSON body members: `error`, `error_description`, `error_uri`. */
  toJSON(): { error: OAuthErrorCode; error_description?: string; error_uri?: string } {
    const body: { error: OAuthErrorCode; error_description?: string; error_uri?: string } = { error: this.code };
    if (this.description) body.error_description = this.description;
    if (this.errorUri) body.error_uri = this.errorUri;
    return body;
  }

  /** A `no-store` JSON response carrying this error. */
  toResponse(extraHeaders?: Record<string, string>): Response {
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers: { ...ERROR_RESPONSE_HEADERS, ...this.headers, ...extraHeaders } });
  }
}

/**
 * True for an {@link OAuthError}, even one thrown by a second copy of `@keyward/core` in the same process.
 *
 * @example
 * ```ts
 * try { await verify(); } catch (e) { if (isOAuthError(e)) return e.toResponse(); throw e; }
 * ```
 */
export function isOAuthError(value: unknown): value is OAuthError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * A configuration or programming mistake, thrown at construction and never turned into an OAuth response.
 * `code` is stable and machine-readable (`ERR_KEYWARD_INVALID_OPTION`, `ERR_KEYWARD_STORE_CAPABILITY`, …).
 *
 * @example
 * ```ts
 * try { new AuthorizationServer({ issuer: 'not a url', store }); }
 * catch (e) { if (e instanceof KeywardConfigError) console.error(e.code, e.message); }
 * ```
 */
export class KeywardConfigError extends TypeError {
  readonly code: string;
  constructor(message: string, code = 'ERR_KEYWARD_INVALID_OPTION') {
    super(message);
    this.name = 'KeywardConfigError';
    this.code = code;
  }
}
