/**
 * Providers configured from environment variables. The provider functions themselves read nothing from
 * the environment; these helpers read exactly the variables named in their documentation, from
 * `process.env` or from the record passed, and explicit options win over them.
 *
 * @module
 */
import { KeywardConfigError } from '@keyward/core';
import { auth0Provider, type Auth0ProviderOptions } from './auth0.js';
import { clerkProvider, type ClerkProviderOptions } from './clerk.js';
import { envVar, type EnvironmentVariables } from './config.js';
import { firebaseProvider, type FirebaseProviderOptions } from './firebase.js';
import type { IssuerTokenLoginProvider } from './jwt.js';
import type { OIDCLoginProvider } from './oidc.js';
import { supabaseProvider, type SupabaseProviderOptions } from './supabase.js';

/** `{ [key]: value }` when the value is set, else nothing: options given explicitly are not overwritten by undefined. */
function set<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/**
 * {@link auth0Provider} configured from `AUTH0_DOMAIN`, `AUTH0_CLIENT_ID` and `AUTH0_CLIENT_SECRET`.
 *
 * @example
 * ```ts
 * // AUTH0_DOMAIN=my-tenant.us.auth0.com AUTH0_CLIENT_ID=… AUTH0_CLIENT_SECRET=…
 * const auth0 = auth0ProviderFromEnv();
 * ```
 * @see [OIDC Core §3.1](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 */
export function auth0ProviderFromEnv(options: Auth0ProviderOptions = {}, env: EnvironmentVariables = process.env): OIDCLoginProvider {
  const domain = options.domain ?? envVar(env, 'AUTH0_DOMAIN');
  if (!domain && !options.issuer) throw new KeywardConfigError('auth0ProviderFromEnv: set AUTH0_DOMAIN');
  const clientId = options.clientId ?? envVar(env, 'AUTH0_CLIENT_ID');
  if (!clientId) throw new KeywardConfigError('auth0ProviderFromEnv: set AUTH0_CLIENT_ID');
  return auth0Provider({ ...options, ...set('domain', domain), clientId, ...set('clientSecret', options.clientSecret ?? envVar(env, 'AUTH0_CLIENT_SECRET')) });
}

/**
 * {@link clerkProvider} configured from `CLERK_PUBLISHABLE_KEY` and, when set, `CLERK_SECRET_KEY`, which
 * turns on `fetchUserDetails` (name and email from the Backend API, since session tokens carry only ids).
 *
 * @example
 * ```ts
 * // CLERK_PUBLISHABLE_KEY=pk_live_… CLERK_SECRET_KEY=sk_live_…
 * const clerk = clerkProviderFromEnv({ authorizedParties: ['https://app.example.com'] });
 * ```
 * @see [RFC 7519 §4.1](https://www.rfc-editor.org/rfc/rfc7519#section-4.1)
 */
export function clerkProviderFromEnv(options: ClerkProviderOptions = {}, env: EnvironmentVariables = process.env): IssuerTokenLoginProvider {
  const publishableKey = options.publishableKey ?? envVar(env, 'CLERK_PUBLISHABLE_KEY');
  if (!publishableKey && !options.frontendApi) throw new KeywardConfigError('clerkProviderFromEnv: set CLERK_PUBLISHABLE_KEY');
  const secretKey = options.secretKey ?? envVar(env, 'CLERK_SECRET_KEY');
  return clerkProvider({
    ...(secretKey !== undefined && { fetchUserDetails: true }),
    ...options,
    ...set('publishableKey', publishableKey),
    ...set('secretKey', secretKey),
  });
}

/**
 * {@link supabaseProvider} configured from `SUPABASE_URL` and, for projects still signing with HS256,
 * `SUPABASE_JWT_SECRET`.
 *
 * @example
 * ```ts
 * // SUPABASE_URL=https://abcd.supabase.co
 * const supabase = supabaseProviderFromEnv();
 * ```
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export function supabaseProviderFromEnv(options: SupabaseProviderOptions = {}, env: EnvironmentVariables = process.env): IssuerTokenLoginProvider {
  const url = options.url ?? envVar(env, 'SUPABASE_URL');
  if (!url) throw new KeywardConfigError('supabaseProviderFromEnv: set SUPABASE_URL');
  return supabaseProvider({ ...options, url, ...set('jwtSecret', options.jwtSecret ?? envVar(env, 'SUPABASE_JWT_SECRET')) });
}

/**
 * {@link firebaseProvider} configured from `FIREBASE_PROJECT_ID` (or the `project_id` of
 * `FIREBASE_SERVICE_ACCOUNT_KEY`, JSON text or a file path) and, when set, `FIREBASE_JWKS_URI`.
 *
 * @example
 * ```ts
 * // FIREBASE_PROJECT_ID=my-project
 * const firebase = firebaseProviderFromEnv();
 * ```
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export function firebaseProviderFromEnv(options: FirebaseProviderOptions = {}, env: EnvironmentVariables = process.env): IssuerTokenLoginProvider {
  const projectId = options.projectId ?? envVar(env, 'FIREBASE_PROJECT_ID');
  const serviceAccount = options.serviceAccount ?? envVar(env, 'FIREBASE_SERVICE_ACCOUNT_KEY');
  if (!projectId && !serviceAccount) throw new KeywardConfigError('firebaseProviderFromEnv: set FIREBASE_PROJECT_ID (or FIREBASE_SERVICE_ACCOUNT_KEY)');
  return firebaseProvider({ ...options, ...set('projectId', projectId), ...set('serviceAccount', serviceAccount), ...set('jwksUri', options.jwksUri ?? envVar(env, 'FIREBASE_JWKS_URI')) });
}
