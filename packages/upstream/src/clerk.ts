import { KeywardConfigError } from '@keyward/core';
import type { UpstreamIdentity } from '@keyward/core';
import { firstString } from './claims.js';
import { configURL } from './config.js';
import { UpstreamLoginError } from './errors.js';
import { remoteKeySet, timeRules, verifyJWT } from './jwt.js';
import type { IssuerTokenLoginProvider, JWTRules, TokenVerifierOptions } from './jwt.js';
import { oidcProvider } from './oidc.js';
import type { OIDCLoginProvider, OIDCProviderOptions } from './oidc.js';

/**
 * Where a Clerk instance lives: its Frontend API, given directly or through the publishable key.
 *
 * @example
 * ```ts
 * const instance: ClerkInstanceOptions = { frontendApi: 'https://clerk.example.com' };
 * ```
 * @see [Clerk: manual JWT verification](https://clerk.com/docs/backend-requests/manual-jwt)
 */
export interface ClerkInstanceOptions {
  /**
   * Frontend API URL, e.g. `https://clerk.example.com` or `https://<slug>.clerk.accounts.dev`; a bare host
   * gets `https://`. Also the issuer of the instance's tokens. Defaults to the one named by the
   * publishable key.
   */
  frontendApi?: string;
  /** `pk_test_…` or `pk_live_…`; it encodes the Frontend API host ({@link clerkProviderFromEnv} reads `CLERK_PUBLISHABLE_KEY`). */
  publishableKey?: string;
}

/**
 * Options of {@link clerkProvider}.
 *
 * @example
 * ```ts
 * const options: ClerkProviderOptions = { authorizedParties: ['https://app.example.com'], fetchUserDetails: true };
 * ```
 * @see [RFC 7519 §4.1](https://www.rfc-editor.org/rfc/rfc7519#section-4.1)
 */
export interface ClerkProviderOptions extends ClerkInstanceOptions, TokenVerifierOptions {
  /** Where the signing keys are fetched. Defaults to `<frontendApi>/.well-known/jwks.json`. */
  jwksUri?: string;
  /**
   * Origins allowed in the token's `azp` claim, e.g. `['https://app.example.com']`. When set, a token
   * without `azp` is refused too: it is what stops a session token minted for another site from being
   * replayed here.
   */
  authorizedParties?: string[];
  /**
   * Fetch name, email and picture from the Backend API (`GET /v1/users/<id>`), since session tokens carry
   * only ids. Needs `secretKey`; token verification itself never does.
   */
  fetchUserDetails?: boolean;
  /** `sk_…`, used only by `fetchUserDetails` ({@link clerkProviderFromEnv} reads `CLERK_SECRET_KEY`). */
  secretKey?: string;
  /** Backend API base URL. Defaults to `https://api.clerk.com`. */
  apiUrl?: string;
  /** Button label. Defaults to `Clerk`. */
  displayName?: string;
}

/**
 * Options of {@link clerkOIDCProvider}: those of {@link oidcProvider}, with the Clerk instance as issuer.
 *
 * @example
 * ```ts
 * const options: ClerkOIDCProviderOptions = { frontendApi: 'clerk.example.com', clientId, clientSecret };
 * ```
 * @see [OIDC Core §3.1](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 */
export interface ClerkOIDCProviderOptions extends ClerkInstanceOptions, Omit<OIDCProviderOptions, 'issuer'> {}

const CLERK_API_URL = 'https://api.clerk.com';
const BACKEND_API_TIMEOUT_MS = 5_000;

/**
 * Verifies Clerk session tokens (what `getToken()` returns in the browser) against the instance's JWK Set:
 * RS256, `iss` equal to the Frontend API URL, `exp` and `nbf`, and `azp` when `authorizedParties` is set.
 * The subject is `clerk:<user id>`. The secret key is not needed for this; it is used only when
 * `fetchUserDetails` asks the Backend API for the user's profile.
 *
 * @example
 * ```ts
 * const clerk = clerkProvider({ publishableKey: 'pk_live_…', authorizedParties: ['https://app.example.com'] });
 * const { subject } = await clerk.verifyToken(sessionToken);
 * ```
 * @see [Clerk: manual JWT verification](https://clerk.com/docs/backend-requests/manual-jwt)
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 * @see [RFC 7519 §4.1](https://www.rfc-editor.org/rfc/rfc7519#section-4.1)
 */
export function clerkProvider(options: ClerkProviderOptions = {}): IssuerTokenLoginProvider {
  const issuer = clerkFrontendApi(options, 'clerkProvider');
  const rules: JWTRules = {
    key: remoteKeySet(configURL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`, 'clerkProvider jwksUri')),
    algorithms: ['RS256'],
    issuer,
    requiredClaims: ['iat'],
    ...timeRules(options),
  };
  const parties = options.authorizedParties ?? [];
  const userDetails = options.fetchUserDetails ? backendUsers(options) : undefined;

  return {
    kind: 'token',
    id: 'clerk',
    displayName: options.displayName ?? 'Clerk',
    issuer,
    async verifyToken(token: string): Promise<UpstreamIdentity> {
      const payload = await verifyJWT(token, rules);
      if (parties.length > 0 && (typeof payload.azp !== 'string' || !parties.includes(payload.azp))) {
        throw new UpstreamLoginError('invalid_token', 'unexpected "azp" claim');
      }
      return { subject: `clerk:${payload.sub}`, claims: userDetails ? await userDetails(payload.sub) : {} };
    },
  };
}

/**
 * Login through a Clerk instance acting as an OpenID provider (a Clerk "OAuth application"), with
 * {@link oidcProvider}. Its id is `clerk` like {@link clerkProvider}'s, so a user gets the same subject
 * either way; give one another id to offer both at once.
 *
 * @example
 * ```ts
 * const clerk = clerkOIDCProvider({ clientId: process.env.CLERK_OAUTH_CLIENT_ID!, clientSecret: process.env.CLERK_OAUTH_CLIENT_SECRET! });
 * ```
 * @see [Clerk: use Clerk as an OAuth/OIDC provider](https://clerk.com/docs/advanced-usage/clerk-idp)
 * @see [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 */
export function clerkOIDCProvider(options: ClerkOIDCProviderOptions): OIDCLoginProvider {
  const { frontendApi, publishableKey, ...rest } = options;
  return oidcProvider({ id: 'clerk', displayName: 'Clerk', ...rest, issuer: clerkFrontendApi({ frontendApi, publishableKey }, 'clerkOIDCProvider') });
}

function clerkFrontendApi(options: ClerkInstanceOptions, caller: string): string {
  const fromKey = (key: string | undefined): string | undefined => (key === undefined ? undefined : frontendApiOfKey(key, caller));
  const value =
    options.frontendApi ?? fromKey(options.publishableKey);
  if (!value) throw new KeywardConfigError(`${caller}: pass { publishableKey } or { frontendApi } (or use clerkProviderFromEnv)`);
  // Clerk's `iss` is the bare origin: no trailing slash.
  const url = (/^https?:\/\//.test(value) ? value : `https://${value}`).replace(/\/+$/, '');
  configURL(url, `${caller} frontendApi`);
  return url;
}

/** A publishable key is `pk_test_` or `pk_live_` followed by base64 of `<frontend API host>$`. */
function frontendApiOfKey(key: string, caller: string): string {
  const match = /^pk_(?:test|live)_([A-Za-z0-9+/=_-]+)$/.exec(key);
  const decoded = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
  if (!/^(?:https?:\/\/)?[A-Za-z0-9.-]+(?::\d+)?\$$/.test(decoded)) {
    throw new KeywardConfigError(`${caller}: the Clerk publishable key is malformed`);
  }
  return decoded.slice(0, -1);
}

interface ClerkUser {
  username?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  image_url?: string | null;
  primary_email_address_id?: string | null;
  email_addresses?: { id?: string; email_address?: string; verification?: { status?: string } | null }[];
}

function backendUsers(options: ClerkProviderOptions): (userId: string) => Promise<Record<string, unknown>> {
  const secretKey = options.secretKey;
  if (!secretKey) throw new KeywardConfigError('clerkProvider: fetchUserDetails needs { secretKey }');
  const base = configURL(options.apiUrl ?? CLERK_API_URL, 'clerkProvider apiUrl').href.replace(/\/+$/, '');

  return async (userId) => {
    let user: ClerkUser;
    try {
      const response = await fetch(`${base}/v1/users/${encodeURIComponent(userId)}`, {
        headers: { authorization: `Bearer ${secretKey}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(BACKEND_API_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`status ${response.status}`);
      user = (await response.json()) as ClerkUser;
    } catch {
      throw new UpstreamLoginError('unavailable', 'user details unavailable');
    }
    return profileOf(user);
  };
}

function profileOf(user: ClerkUser): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  const fullName = [user.first_name, user.last_name].filter((part) => typeof part === 'string' && part !== '').join(' ');
  const name = firstString(fullName, user.username);
  const email = user.email_addresses?.find((address) => address.id === user.primary_email_address_id);
  if (name) claims.name = name;
  if (typeof user.username === 'string' && user.username !== '') claims.preferred_username = user.username;
  if (typeof user.image_url === 'string' && user.image_url !== '') claims.picture = user.image_url;
  if (typeof email?.email_address === 'string') {
    claims.email = email.email_address;
    claims.email_verified = email.verification?.status === 'verified';
  }
  return claims;
}
