import { KeywardConfigError } from '@keyward/core';
import type { UpstreamIdentity } from '@keyward/core';
import type { JWTVerifyGetKey } from 'jose';
import { firstString, pickClaims } from './claims.js';
import { configURL } from './config.js';
import { UpstreamLoginError } from './errors.js';
import { remoteKeySet, timeRules, verifyJWT } from './jwt.js';
import type { IssuerTokenLoginProvider, JWTRules, TokenVerifierOptions } from './jwt.js';

/**
 * Options of {@link supabaseProvider}.
 *
 * @example
 * ```ts
 * const options: SupabaseProviderOptions = { url: 'https://abcd.supabase.co', jwtSecret: process.env.SUPABASE_JWT_SECRET };
 * ```
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 */
export interface SupabaseProviderOptions extends TokenVerifierOptions {
  /** Project URL, e.g. `https://abcd.supabase.co`. Required ({@link supabaseProviderFromEnv} reads `SUPABASE_URL`). */
  url?: string;
  /**
   * The legacy shared JWT secret, for projects that still sign with HS256 ({@link supabaseProviderFromEnv} reads
   * `SUPABASE_JWT_SECRET`).
   * Tokens signed with the project's asymmetric keys are still accepted alongside it, so a project can move
   * to signing keys without a window of failed logins.
   */
  jwtSecret?: string;
  /** Where the asymmetric signing keys are fetched. Defaults to `<url>/auth/v1/.well-known/jwks.json`. */
  jwksUri?: string;
  /**
   * Accept users from Supabase anonymous sign-ins. They carry the same `authenticated` role as real users,
   * which is why they are refused unless this is set.
   */
  allowAnonymous?: boolean;
  /** Button label. Defaults to `Supabase`. */
  displayName?: string;
}

const ASYMMETRIC_ALGORITHMS = ['ES256', 'RS256'];

/**
 * Verifies Supabase Auth access tokens (`session.access_token` in supabase-js): `iss` `<url>/auth/v1`, `aud`
 * `authenticated`, signed by the project's asymmetric keys (ES256/RS256 from its JWKS) or, when a legacy
 * JWT secret is configured, HS256 with that secret. The subject is `supabase:<user id>`; `email`,
 * `phone` (as `phone_number`) and `user_metadata.full_name`/`name` (as `name`) become claims.
 *
 * @example
 * ```ts
 * const supabase = supabaseProvider({ url: 'https://abcd.supabase.co' });
 * const { subject } = await supabase.verifyToken(session.access_token);
 * ```
 * @see [Supabase: JWT signing keys](https://supabase.com/docs/guides/auth/signing-keys)
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export function supabaseProvider(options: SupabaseProviderOptions = {}): IssuerTokenLoginProvider {
  const url = options.url?.replace(/\/+$/, '');
  if (!url) throw new KeywardConfigError('supabaseProvider: pass { url } (or use supabaseProviderFromEnv)');
  configURL(url, 'supabaseProvider url');
  // Supabase Auth puts the project URL, as configured, in front of /auth/v1: built by string, not by URL.
  const issuer = `${url}/auth/v1`;
  const jwtSecret = options.jwtSecret;
  const keySet = remoteKeySet(configURL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`, 'supabaseProvider jwksUri'));
  const secret = jwtSecret === undefined ? undefined : new TextEncoder().encode(jwtSecret);

  // Routing by `alg` keeps the secret and the public keys apart: an HS256 token is only ever checked against
  // the secret, so a public key can never be used as an HMAC key.
  const key: JWTVerifyGetKey = (header, token) => (header.alg === 'HS256' && secret ? secret : keySet(header, token));
  const rules: JWTRules = {
    key,
    algorithms: secret ? ['HS256', ...ASYMMETRIC_ALGORITHMS] : ASYMMETRIC_ALGORITHMS,
    issuer,
    audience: 'authenticated',
    requiredClaims: [],
    ...timeRules(options),
  };

  return {
    kind: 'token',
    id: 'supabase',
    displayName: options.displayName ?? 'Supabase',
    issuer,
    async verifyToken(token: string): Promise<UpstreamIdentity> {
      const payload = await verifyJWT(token, rules);
      if (payload.is_anonymous === true && !options.allowAnonymous) throw new UpstreamLoginError('invalid_token', 'anonymous user');
      const metadata = isRecord(payload.user_metadata) ? payload.user_metadata : {};
      const claims = pickClaims(payload, ['email']);
      const name = firstString(metadata.full_name, metadata.name);
      const phone = firstString(payload.phone);
      if (name) claims.name = name;
      if (phone) claims.phone_number = phone;
      return { subject: `supabase:${payload.sub}`, claims };
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
