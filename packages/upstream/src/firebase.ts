import { readFileSync } from 'node:fs';
import { KeywardConfigError } from '@keyward/core';
import type { UpstreamIdentity } from '@keyward/core';
import { pickClaims } from './claims.js';
import { UpstreamLoginError } from './errors.js';
import { configURL } from './config.js';
import { isInPast, remoteKeySet, timeRules, verifyJWT } from './jwt.js';
import type { IssuerTokenLoginProvider, JWTRules, TokenVerifierOptions } from './jwt.js';

/**
 * Google's public keys for Firebase Auth ID tokens, as a JWK Set.
 *
 * @example
 * ```ts
 * firebaseProvider({ projectId, jwksUri: FIREBASE_JWKS_URI }); // the default, spelled out
 * ```
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 */
export const FIREBASE_JWKS_URI = 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com';

/**
 * Options of {@link firebaseProvider}.
 *
 * @example
 * ```ts
 * const options: FirebaseProviderOptions = { serviceAccount: '/run/secrets/firebase.json' };
 * ```
 * @see [Firebase: verify ID tokens](https://firebase.google.com/docs/auth/admin/verify-id-tokens)
 */
export interface FirebaseProviderOptions extends TokenVerifierOptions {
  /** Firebase project id. Defaults to the service account's `project_id` ({@link firebaseProviderFromEnv} reads `FIREBASE_PROJECT_ID`). */
  projectId?: string;
  /**
   * A service-account key, as JSON text or a path to its file ({@link firebaseProviderFromEnv} reads `FIREBASE_SERVICE_ACCOUNT_KEY`). Read
   * only for its `project_id` when no project id is given: verifying ID tokens needs no credentials.
   */
  serviceAccount?: string;
  /** Where the signing keys are fetched. Defaults to {@link FIREBASE_JWKS_URI}; tests point it at a local server. */
  jwksUri?: string;
  /** Button label. Defaults to `Firebase`. */
  displayName?: string;
}

// Firebase Auth's own limit on a user id.
const MAX_UID_LENGTH = 128;

/**
 * Verifies Firebase Auth ID tokens, the token a web app gets from `user.getIdToken()`, by Firebase's rules:
 * RS256 signed by a key Google publishes (the `kid` must match), `iss`
 * `https://securetoken.google.com/<projectId>`, `aud` the project id, a non-empty `sub` of at most 128
 * characters, `iat` and `auth_time` in the past, `exp` in the future. The subject is `firebase:<uid>`.
 *
 * Revoked sessions and disabled users are not detected: that needs the Admin API
 * (`verifyIdToken(token, true)` in firebase-admin), which this package does not call. ID tokens live an hour.
 *
 * @example
 * ```ts
 * const firebase = firebaseProvider({ projectId: 'my-project' });
 * const { subject, claims } = await firebase.verifyToken(idTokenFromBrowser);
 * ```
 * @see [Firebase: verify ID tokens using a third-party JWT library](https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library)
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export function firebaseProvider(options: FirebaseProviderOptions = {}): IssuerTokenLoginProvider {
  const projectId = options.projectId ?? projectIdOf(options.serviceAccount);
  if (!projectId) {
    throw new KeywardConfigError('firebaseProvider: pass { projectId } or { serviceAccount } (or use firebaseProviderFromEnv)');
  }
  const issuer = `https://securetoken.google.com/${projectId}`;
  const rules: JWTRules = {
    key: remoteKeySet(configURL(options.jwksUri ?? FIREBASE_JWKS_URI, 'firebaseProvider jwksUri')),
    algorithms: ['RS256'],
    issuer,
    audience: projectId,
    requiredClaims: ['iat', 'auth_time'],
    ...timeRules(options),
  };

  return {
    kind: 'token',
    id: 'firebase',
    displayName: options.displayName ?? 'Firebase',
    issuer,
    async verifyToken(token: string): Promise<UpstreamIdentity> {
      const payload = await verifyJWT(token, rules);
      if (payload.sub.length > MAX_UID_LENGTH) throw new UpstreamLoginError('invalid_token', 'unexpected "sub" claim');
      // jose checks iat only against a maximum age; Firebase also wants both times behind us.
      if (!isInPast(payload.iat, rules)) throw new UpstreamLoginError('invalid_token', 'unexpected "iat" claim');
      if (!isInPast(payload.auth_time, rules)) throw new UpstreamLoginError('invalid_token', 'unexpected "auth_time" claim');
      return { subject: `firebase:${payload.sub}`, claims: pickClaims(payload, ['name', 'email', 'email_verified', 'picture']) };
    },
  };
}

function projectIdOf(serviceAccount: string | undefined): string | undefined {
  if (!serviceAccount) return undefined;
  let key: unknown;
  try {
    const text = serviceAccount.trimStart().startsWith('{') ? serviceAccount : readFileSync(serviceAccount, 'utf8');
    key = JSON.parse(text);
  } catch {
    // The key holds a private key: say what is wrong without echoing any of it.
    throw new KeywardConfigError('firebaseProvider: the service account key is neither service-account JSON nor a readable JSON file');
  }
  const projectId = (key as { project_id?: unknown } | null)?.project_id;
  return typeof projectId === 'string' && projectId !== '' ? projectId : undefined;
}
