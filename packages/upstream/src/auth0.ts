import { KeywardConfigError } from '@keyward/core';
import { oidcProvider } from './oidc.js';
import type { OIDCLoginProvider, OIDCProviderOptions } from './oidc.js';

/**
 * Options of {@link auth0Provider}: those of {@link oidcProvider}, with the tenant in place of the issuer.
 *
 * @example
 * ```ts
 * const options: Auth0ProviderOptions = { domain: 'my-tenant.us.auth0.com', audience: 'https://api.example.com' };
 * ```
 * @see [Auth0: OpenID Connect protocol](https://auth0.com/docs/authenticate/protocols/openid-connect-protocol)
 */
export interface Auth0ProviderOptions extends Omit<OIDCProviderOptions, 'issuer' | 'clientId'> {
  /** Tenant or custom domain, e.g. `my-tenant.us.auth0.com`. Required ({@link auth0ProviderFromEnv} reads `AUTH0_DOMAIN`). */
  domain?: string;
  /** Required ({@link auth0ProviderFromEnv} reads `AUTH0_CLIENT_ID`). */
  clientId?: string;
  /** For a confidential client ({@link auth0ProviderFromEnv} reads `AUTH0_CLIENT_SECRET`). */
  clientSecret?: string;
  /** Overrides `https://<domain>/`, e.g. to test against a local provider. */
  issuer?: string;
  /** Auth0 API identifier to request an access token for (the `audience` parameter). */
  audience?: string;
}

/**
 * Login through Auth0 (Universal Login) with {@link oidcProvider}. The issuer is `https://<domain>/`: Auth0's
 * issuer ends in a slash, and ID tokens are compared against it byte for byte. Subjects look like
 * `auth0:google-oauth2|1234`.
 *
 * @example
 * ```ts
 * const auth0 = auth0Provider({ domain: 'my-tenant.us.auth0.com', clientId, clientSecret });
 * ```
 * @see [Auth0: OpenID Connect protocol](https://auth0.com/docs/authenticate/protocols/openid-connect-protocol)
 * @see [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 */
export function auth0Provider(options: Auth0ProviderOptions = {}): OIDCLoginProvider {
  const { domain, audience, ...rest } = options;
  // A domain pasted with its scheme or a trailing slash would otherwise produce `https://https://…`.
  const host = domain?.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const issuer = options.issuer ?? (host ? `https://${host}/` : undefined);
  if (!issuer) throw new KeywardConfigError('auth0Provider: pass { domain } (or use auth0ProviderFromEnv)');
  const clientId = options.clientId;
  if (!clientId) throw new KeywardConfigError('auth0Provider: pass { clientId } (or use auth0ProviderFromEnv)');
  const clientSecret = options.clientSecret;

  return oidcProvider({
    id: 'auth0',
    displayName: 'Auth0',
    ...rest,
    issuer,
    clientId,
    ...(clientSecret === undefined ? {} : { clientSecret }),
    ...(audience === undefined ? {} : { authorizationParams: { ...rest.authorizationParams, audience } }),
  });
}
