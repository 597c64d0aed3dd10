/**
 * Who a login step found: a stable subject and the claims for userinfo and ID tokens. Upstream providers
 * build the subject from their own name and the upstream user id (`auth0|…` stays unique across providers).
 */
export interface UpstreamIdentity {
  /** Stable local subject: the provider id and the upstream user id, e.g. `auth0:google-oauth2|1097`. */
  subject: string;
  /** Standard OIDC claims: name, email, email_verified, picture, … */
  claims: Record<string, unknown>;
  /**
   * The upstream provider's own tokens, when the application wants to call the provider later. Keyward keeps
   * them encrypted and never hands them to MCP clients or tools as their own (no token passthrough).
   */
  upstreamTokens?: { access_token: string; refresh_token?: string; expires_at?: number };
}

/**
 * A provider the browser is redirected to (OpenID Connect: Auth0, any OIDC issuer, Clerk as OIDC).
 *
 * @example
 * ```ts
 * const auth0: RedirectLoginProvider = auth0Provider({ domain: process.env.AUTH0_DOMAIN!, clientId, clientSecret });
 * ```
 * @see [OIDC Core §3.1](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 */
export interface RedirectLoginProvider {
  kind: 'redirect';
  /** URL-safe identifier used in callback paths, e.g. `auth0`. */
  id: string;
  /** Button label text, e.g. `Auth0`. */
  displayName: string;
  /** Starts a login: where to send the browser, and state Keyward keeps server-side until the callback. */
  start(input: { callbackUrl: string }): Promise<{ location: string; state: Record<string, unknown> }>;
  /** Finishes a login from the callback request, given the state kept by {@link start}. */
  finish(input: { callbackUrl: string; currentUrl: URL; state: Record<string, unknown> }): Promise<UpstreamIdentity>;
}

/**
 * A provider whose own browser SDK signs the user in and yields a token the server verifies (Firebase ID
 * tokens, Clerk session tokens, Supabase access tokens).
 *
 * @example
 * ```ts
 * const firebase: TokenLoginProvider = firebaseProvider({ projectId: process.env.FIREBASE_PROJECT_ID! });
 * const identity = await firebase.verifyToken(idTokenFromBrowser);
 * ```
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export interface TokenLoginProvider {
  kind: 'token';
  id: string;
  displayName: string;
  verifyToken(token: string): Promise<UpstreamIdentity>;
}

/** Any upstream identity provider. */
export type UpstreamLoginProvider = RedirectLoginProvider | TokenLoginProvider;

/**
 * Checks a username and password (the local provider). Returns null for any failure, with no hint of
 * whether the user exists.
 *
 * @example
 * ```ts
 * const users: PasswordAuthenticator = localUsers([{ username: 'demo', password: process.env.OAUTH_DEMO_PASSWORD! }]);
 * ```
 */
export interface PasswordAuthenticator {
  verify(username: string, password: string): Promise<UpstreamIdentity | null>;
}
