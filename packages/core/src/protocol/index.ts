/**
 * `@keyward/core/protocol`: the pure OAuth helpers Keyward is built from, for code that speaks OAuth next to
 * it (a test client, an upstream provider, a custom login page). No state, no I/O; each runs on any runtime
 * with Web Crypto.
 *
 * @example
 * ```ts
 * import { calculatePKCECodeChallenge, randomToken } from '@keyward/core/protocol';
 *
 * const verifier = randomToken();
 * const challenge = await calculatePKCECodeChallenge(verifier);
 * ```
 *
 * @module
 */

// PKCE (RFC 7636).
export { calculatePKCECodeChallenge, isValidPKCEValue, verifyPKCE } from './pkce.js';

// Scope strings (RFC 6749 §3.3).
export { formatScope, isScopeSubset, parseScope } from './scope.js';

// Redirect URIs (RFC 9700 §2.1, RFC 8252 §7.3) and resource indicators (RFC 8707).
export { checkRedirectUriForRegistration, redirectUriMatches } from './redirect-uri.js';
export type { RedirectUriPolicyOptions } from './redirect-uri.js';
export { checkResourceIndicator } from './resource.js';

// Discovery metadata (RFC 8414, RFC 9728) and the WWW-Authenticate challenge (RFC 6750 §3).
export { authorizationServerMetadata, openIDConfiguration, protectedResourceMetadata, wellKnownURL } from './metadata.js';
export type { AuthorizationServerMetadataInput, ProtectedResourceMetadataInput } from './metadata.js';
export { bearerChallenge } from './www-authenticate.js';
export type { BearerChallengeOptions } from './www-authenticate.js';

// Tokens and HTML.
export { randomToken } from './crypto.js';
export { escapeHTML } from './http.js';
