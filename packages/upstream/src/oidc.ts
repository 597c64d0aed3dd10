import * as oauth from 'oauth4webapi';
import { KeywardConfigError } from '@keyward/core';
import type { RedirectLoginProvider, UpstreamIdentity } from '@keyward/core';
import { PROFILE_CLAIMS, pickClaims } from './claims.js';
import { configURL } from './config.js';
import { UpstreamLoginError, isUpstreamLoginError } from './errors.js';
import type { UpstreamLoginErrorCode } from './errors.js';

/**
 * How this server authenticates to the identity provider's token endpoint.
 *
 * @example
 * ```ts
 * oidcProvider({ issuer, clientId, clientSecret, tokenEndpointAuthMethod: 'client_secret_post' });
 * ```
 * @see [OIDC Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)
 */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'none';

/**
 * Options of {@link oidcProvider}.
 *
 * @example
 * ```ts
 * const options: OIDCProviderOptions = { id: 'okta', issuer: 'https://example.okta.com', clientId, clientSecret, fetchUserinfo: true };
 * ```
 * @see [OIDC Core §3.1.2.1](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest)
 */
export interface OIDCProviderOptions {
  /** URL-safe identifier, used in callback paths and as the subject prefix. Defaults to `oidc`. */
  id?: string;
  /** Button label. Defaults to the issuer's host name. */
  displayName?: string;
  /** The identity provider's issuer identifier, byte for byte as its discovery document spells it. */
  issuer: string;
  /** This server's client id at the identity provider. */
  clientId: string;
  /** The client secret; leave it out for a public client (`none`). */
  clientSecret?: string;
  /** Scopes to request. Defaults to `openid profile email`; `openid` is added when missing. */
  scopes?: string[];
  /** Defaults to `client_secret_basic` with a secret and `none` without. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Extra authorization request parameters, e.g. Auth0's `audience` or `connection`. */
  authorizationParams?: Record<string, string>;
  /** Also read claims from the UserInfo endpoint, for providers that keep the ID token small. */
  fetchUserinfo?: boolean;
  /**
   * Allow plain-HTTP requests to the identity provider. Only for a local test provider such as
   * `http://127.0.0.1:<port>`: without TLS, nothing vouches for the ID token that is not signature-checked.
   */
  allowInsecureRequests?: boolean;
}

/**
 * A redirect login provider that also reports the issuer it logs in with.
 *
 * @example
 * ```ts
 * console.log(auth0Provider().issuer); // https://my-tenant.us.auth0.com/
 * ```
 * @see [OIDC Discovery §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)
 */
export interface OIDCLoginProvider extends RedirectLoginProvider {
  /** The identity provider's issuer identifier. */
  readonly issuer: string;
}

/** What {@link OIDCLoginProvider.start} keeps server-side until the callback. */
interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
}

const DEFAULT_SCOPES = ['openid', 'profile', 'email'];
const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]*$/i;

/**
 * Login through any OpenID Connect provider with the authorization code flow: PKCE (S256), `state` and
 * `nonce`, all three kept in the state Keyward stores server-side. On the callback it checks `state` and,
 * when the provider sends or advertises it, the RFC 9207 `iss` parameter; exchanges the code; and validates
 * the ID token (issuer, audience, expiry, nonce). The subject is `<id>:<sub>`; profile claims come from the
 * ID token and, with `fetchUserinfo`, from UserInfo. The provider's tokens are returned as `upstreamTokens`,
 * never as claims.
 *
 * The discovery document is fetched on first use and kept; a failed fetch is retried on the next login.
 *
 * @example
 * ```ts
 * const google = oidcProvider({
 *   id: 'google',
 *   displayName: 'Google',
 *   issuer: 'https://accounts.google.com',
 *   clientId: process.env.GOOGLE_CLIENT_ID!,
 *   clientSecret: process.env.GOOGLE_CLIENT_SECRET!,
 * });
 * ```
 * @see [OIDC Core §3.1](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 * @see [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 * @see [RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)
 */
export function oidcProvider(options: OIDCProviderOptions): OIDCLoginProvider {
  const id = options.id ?? 'oidc';
  if (!PROVIDER_ID.test(id)) throw new KeywardConfigError(`oidcProvider: id "${id}" must be URL-safe (letters, digits, _ and -)`);
  if (typeof options.clientId !== 'string' || options.clientId === '') throw new KeywardConfigError(`oidcProvider(${id}): clientId is required`);
  const issuerURL = configURL(options.issuer, `oidcProvider(${id}) issuer`);
  const client: oauth.Client = { client_id: options.clientId };
  const clientAuth = clientAuthentication(id, options);
  const insecure = options.allowInsecureRequests === true;
  const http = insecure ? { [oauth.allowInsecureRequests]: true } : {};
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  const scope = (scopes.includes('openid') ? scopes : ['openid', ...scopes]).join(' ');

  let discovery: Promise<oauth.AuthorizationServer> | undefined;
  function metadata(): Promise<oauth.AuthorizationServer> {
    discovery ??= discover().catch((error: unknown) => {
      discovery = undefined;
      throw error;
    });
    return discovery;
  }
  async function discover(): Promise<oauth.AuthorizationServer> {
    const as = await step('misconfigured', 'discovery failed', async () => {
      const response = await oauth.discoveryRequest(issuerURL, { algorithm: 'oidc', ...http });
      return oauth.processDiscoveryResponse(issuerURL, response);
    });
    // oauth4webapi compares issuers as parsed URLs; ID tokens are then matched against the document's
    // string, so a configured `https://idp` must not quietly accept `https://idp/`.
    if (as.issuer !== options.issuer) throw new UpstreamLoginError('misconfigured', 'issuer mismatch');
    return as;
  }

  return {
    kind: 'redirect',
    id,
    displayName: options.displayName ?? issuerURL.hostname,
    issuer: options.issuer,

    async start({ callbackUrl }) {
      const as = await metadata();
      const url = URL.parse(as.authorization_endpoint ?? '');
      if (!url || (url.protocol !== 'https:' && !(insecure && url.protocol === 'http:'))) {
        throw new UpstreamLoginError('misconfigured', 'no usable authorization endpoint');
      }
      const login: LoginState = {
        state: oauth.generateRandomState(),
        nonce: oauth.generateRandomNonce(),
        codeVerifier: oauth.generateRandomCodeVerifier(),
      };
      for (const [name, value] of Object.entries(options.authorizationParams ?? {})) url.searchParams.set(name, value);
      // Set after the extra parameters, so none of them can replace a protocol parameter.
      url.searchParams.set('client_id', options.clientId);
      url.searchParams.set('redirect_uri', callbackUrl);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', scope);
      url.searchParams.set('state', login.state);
      url.searchParams.set('nonce', login.nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(login.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return { location: url.href, state: { ...login } };
    },

    async finish({ callbackUrl, currentUrl, state }) {
      const login = parseLoginState(state);
      const as = await metadata();
      const params = await step('invalid_callback', 'callback does not match the login', () =>
        oauth.validateAuthResponse(as, client, currentUrl, login.state),
      );
      const response = await step('unavailable', 'token endpoint unreachable', () =>
        oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, callbackUrl, login.codeVerifier, http),
      );
      // The ID token comes straight from the token endpoint over TLS, so OIDC Core §3.1.3.7 (6) lets its
      // signature go unchecked; oauth4webapi checks iss, aud, azp, exp, iat and the nonce.
      const tokens = await step('invalid_token', 'ID token rejected', () =>
        oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: login.nonce, requireIdToken: true }),
      );
      const idToken = oauth.getValidatedIdTokenClaims(tokens);
      if (!idToken) throw new UpstreamLoginError('invalid_token', 'ID token missing');

      let claims = pickClaims(idToken, PROFILE_CLAIMS);
      if (options.fetchUserinfo && as.userinfo_endpoint) {
        const userinfo = await step('upstream_error', 'userinfo rejected', async () => {
          const answer = await oauth.userInfoRequest(as, client, tokens.access_token, http);
          // Checks that UserInfo describes the same user as the ID token (OIDC Core §5.3.2).
          return oauth.processUserInfoResponse(as, client, idToken.sub, answer);
        });
        claims = { ...claims, ...pickClaims(userinfo, PROFILE_CLAIMS) };
      }

      return { subject: `${id}:${idToken.sub}`, claims, upstreamTokens: upstreamTokens(tokens) };
    },
  };
}

/** The provider's own tokens, for the application to call it later; `expires_at` is in epoch seconds. */
function upstreamTokens(tokens: oauth.TokenEndpointResponse): NonNullable<UpstreamIdentity['upstreamTokens']> {
  const kept: NonNullable<UpstreamIdentity['upstreamTokens']> = { access_token: tokens.access_token };
  if (tokens.refresh_token) kept.refresh_token = tokens.refresh_token;
  if (tokens.expires_in !== undefined) kept.expires_at = Math.floor(Date.now() / 1000) + tokens.expires_in;
  return kept;
}

function clientAuthentication(id: string, options: OIDCProviderOptions): oauth.ClientAuth {
  const method = options.tokenEndpointAuthMethod ?? (options.clientSecret ? 'client_secret_basic' : 'none');
  if (method === 'none') return oauth.None();
  if (!options.clientSecret) throw new KeywardConfigError(`oidcProvider(${id}): ${method} needs a clientSecret`);
  switch (method) {
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(options.clientSecret);
    case 'client_secret_post':
      return oauth.ClientSecretPost(options.clientSecret);
    case 'client_secret_jwt':
      return oauth.ClientSecretJwt(options.clientSecret);
    default:
      throw new KeywardConfigError(`oidcProvider(${id}): unsupported tokenEndpointAuthMethod "${String(method)}"`);
  }
}

function parseLoginState(state: Record<string, unknown>): LoginState {
  const { state: value, nonce, codeVerifier } = state;
  if (typeof value !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string') {
    throw new UpstreamLoginError('invalid_callback', 'login state missing');
  }
  return { state: value, nonce, codeVerifier };
}

// oauth4webapi codes that mean the provider's metadata cannot work with this configuration.
const METADATA_ERRORS = new Set<unknown>([
  oauth.HTTP_REQUEST_FORBIDDEN,
  oauth.REQUEST_PROTOCOL_FORBIDDEN,
  oauth.MISSING_SERVER_METADATA,
  oauth.INVALID_SERVER_METADATA,
]);

/** Runs one step of the flow, turning whatever it throws into an {@link UpstreamLoginError}. */
async function step<T>(code: UpstreamLoginErrorCode, reason: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toLoginError(error, code, reason);
  }
}

function toLoginError(error: unknown, code: UpstreamLoginErrorCode, reason: string): UpstreamLoginError {
  if (isUpstreamLoginError(error)) return error;
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    // The client is ours: a provider refusing it is a configuration problem, not the user's.
    const kind = error.error === 'invalid_client' || error.error === 'unauthorized_client' ? 'misconfigured' : 'upstream_error';
    return new UpstreamLoginError(kind, `identity provider answered ${errorCode(error.error)}`);
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    // A Basic challenge or invalid_client comes from the token endpoint refusing our client credentials.
    const clientRefused = error.cause.some((challenge) => challenge.scheme === 'basic' || challenge.parameters.error === 'invalid_client');
    return new UpstreamLoginError(clientRefused ? 'misconfigured' : 'upstream_error', clientRefused ? 'identity provider refused the client' : reason);
  }
  if (error instanceof oauth.OperationProcessingError && METADATA_ERRORS.has(error.code)) {
    return new UpstreamLoginError('misconfigured', 'identity provider metadata unusable');
  }
  // fetch() rejects with a bare TypeError when the network fails; oauth4webapi's own TypeErrors carry a code.
  if (error instanceof TypeError && !('code' in error)) return new UpstreamLoginError('unavailable', 'identity provider unreachable');
  return new UpstreamLoginError(code, reason);
}

/** An RFC 6749 error code is a short ASCII token; anything else from upstream is not repeated. */
function errorCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z_]{1,64}$/.test(value) ? value : 'an error';
}
