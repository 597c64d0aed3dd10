import type { UpstreamLoginProvider } from '@keyward/core';
import { auth0ProviderFromEnv, oidcProvider } from '@keyward/upstream';
import { ConfigError } from './ops.js';
import { tokenSignIn, type TokenSignInPage } from './sign-in.js';

/** Sign-in buttons of identity providers configured from the environment, and what goes with them. */
export interface UpstreamLogin {
  providers: UpstreamLoginProvider[];
  /** Where each provider sends the browser back: register it at the provider. */
  callbacks: { id: string; displayName: string; callbackUrl: string }[];
  /** KEYWARD_ENCRYPTION_SECRET, which encrypts the providers' tokens kept on grants. */
  encryptionSecret?: string;
  /** Pages of the token providers (Firebase, Clerk, Supabase) that run the vendor's browser SDK. */
  tokenPages: TokenSignInPage[];
  warnings: string[];
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] === '' ? undefined : env[name];
}

/** All of `names` or none: a half-configured provider is a mistake to report at start, not at the first login. */
function group(env: NodeJS.ProcessEnv, required: string[], optional: string[] = []): Record<string, string> | null {
  const set = [...required, ...optional].filter((name) => value(env, name) !== undefined);
  if (set.length === 0) return null;
  const missing = required.filter((name) => value(env, name) === undefined);
  if (missing.length) throw new ConfigError(`${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not`);
  return Object.fromEntries(set.map((name) => [name, value(env, name)!]));
}

/**
 * Upstream identity providers for the login page, from the environment (see README.md): Auth0 with
 * AUTH0_DOMAIN/AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET, any OpenID Connect provider with OIDC_ISSUER/OIDC_CLIENT_ID
 * (and OIDC_CLIENT_SECRET for a confidential client). Each adds a "Sign in with …" button beside the demo
 * user's password form; the subject of a login is `auth0:<sub>` or `oidc:<sub>`.
 *
 * Token providers (Firebase, Clerk session tokens, Supabase) come from `sign-in.ts`: a page of this example
 * runs the vendor's browser SDK and posts its token to /oauth/login/token.
 */
export function upstreamLogin(env: NodeJS.ProcessEnv, base: string): UpstreamLogin {
  const providers: UpstreamLoginProvider[] = [];
  const warnings: string[] = [];

  const auth0 = group(env, ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET']);
  if (auth0) providers.push(auth0ProviderFromEnv({}, env));

  const oidc = group(env, ['OIDC_ISSUER', 'OIDC_CLIENT_ID'], ['OIDC_CLIENT_SECRET', 'OIDC_DISPLAY_NAME']);
  if (oidc) {
    const insecure = value(env, 'OIDC_ALLOW_INSECURE_ISSUER') === '1';
    if (insecure) {
      // Without TLS nothing vouches for the ID token (it is not signature-checked): a local test provider only.
      if (!URL.canParse(oidc.OIDC_ISSUER!) || !LOOPBACK_HOSTS.includes(new URL(oidc.OIDC_ISSUER!).hostname)) {
        throw new ConfigError(`OIDC_ALLOW_INSECURE_ISSUER=1 is only for a provider on a loopback address, not ${oidc.OIDC_ISSUER}`);
      }
      warnings.push(`OIDC_ALLOW_INSECURE_ISSUER: the OpenID provider ${oidc.OIDC_ISSUER} may be reached over plain http (local development only)`);
    }
    providers.push(
      oidcProvider({
        issuer: oidc.OIDC_ISSUER!,
        clientId: oidc.OIDC_CLIENT_ID!,
        ...(oidc.OIDC_CLIENT_SECRET !== undefined && { clientSecret: oidc.OIDC_CLIENT_SECRET }),
        ...(oidc.OIDC_DISPLAY_NAME !== undefined && { displayName: oidc.OIDC_DISPLAY_NAME }),
        // Many providers keep the ID token small and serve the profile from UserInfo.
        fetchUserinfo: true,
        allowInsecureRequests: insecure,
      }),
    );
  } else if (value(env, 'OIDC_ALLOW_INSECURE_ISSUER') !== undefined) {
    throw new ConfigError('OIDC_ALLOW_INSECURE_ISSUER is set but OIDC_ISSUER is not');
  }

  const tokens = tokenSignIn(env, base);
  providers.push(...tokens.providers);

  const encryptionSecret = value(env, 'KEYWARD_ENCRYPTION_SECRET');
  if (encryptionSecret !== undefined && encryptionSecret.length < 32) {
    throw new ConfigError(`KEYWARD_ENCRYPTION_SECRET is too short (${encryptionSecret.length} characters): use at least 32, e.g. openssl rand -base64 32`);
  }
  if (providers.length && !encryptionSecret) {
    warnings.push('KEYWARD_ENCRYPTION_SECRET is not set: the identity providers’ own tokens are not kept (set 32 characters or more to keep them encrypted on grants)');
  }
  const callbacks = providers.filter((provider) => provider.kind === 'redirect').map(({ id, displayName }) => ({ id, displayName, callbackUrl: `${base}/oauth/callback/${id}` }));
  return { providers, callbacks, ...(encryptionSecret !== undefined && { encryptionSecret }), tokenPages: tokens.pages, warnings };
}
