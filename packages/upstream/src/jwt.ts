import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { systemClock } from '@keyward/core';
import type { Clock, TokenLoginProvider } from '@keyward/core';
import { UpstreamLoginError } from './errors.js';

/**
 * Options every token-verifying provider shares.
 *
 * @example
 * ```ts
 * let now = Date.now();
 * const firebase = firebaseProvider({ projectId, clock: () => now, clockTolerance: 0 });
 * ```
 * @see [RFC 7519 §4.1.4](https://www.rfc-editor.org/rfc/rfc7519#section-4.1.4)
 */
export interface TokenVerifierOptions {
  /** Time source in milliseconds, so tests can check expiry without sleeping. Defaults to `Date.now`. */
  clock?: Clock;
  /** Seconds of clock skew allowed between the identity provider and this server. Defaults to 5. */
  clockTolerance?: number;
}

/**
 * A token login provider that also reports the issuer whose tokens it accepts.
 *
 * @example
 * ```ts
 * console.log(firebaseProvider({ projectId: 'demo' }).issuer); // https://securetoken.google.com/demo
 * ```
 * @see [RFC 7519 §4.1.1](https://www.rfc-editor.org/rfc/rfc7519#section-4.1.1)
 */
export interface IssuerTokenLoginProvider extends TokenLoginProvider {
  /** The exact `iss` value tokens must carry. */
  readonly issuer: string;
}

/** What one provider requires of its tokens. */
export interface JWTRules {
  key: JWTVerifyGetKey;
  algorithms: string[];
  issuer: string;
  audience?: string;
  /** Claims that must be present besides `sub`. */
  requiredClaims: string[];
  clock: Clock;
  clockTolerance: number;
}

/** A payload whose `sub` has been checked to be a non-empty string. */
export type VerifiedPayload = JWTPayload & { sub: string };

const DEFAULT_CLOCK_TOLERANCE = 5;

/** Fills in the shared defaults of {@link TokenVerifierOptions}. */
export function timeRules(options: TokenVerifierOptions): Pick<JWTRules, 'clock' | 'clockTolerance'> {
  return { clock: options.clock ?? systemClock, clockTolerance: options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE };
}

/**
 * A remote JWK Set, cached and refreshed by jose when an unknown `kid` shows up. Tokens without a `kid` are
 * refused: every issuer served this way names its keys, and matching by key type alone would let any key
 * in the set sign for any purpose.
 */
export function remoteKeySet(url: URL): JWTVerifyGetKey {
  const keySet = createRemoteJWKSet(url);
  return async (header, token) => {
    if (typeof header.kid !== 'string' || header.kid === '') throw new UpstreamLoginError('invalid_token', 'token has no key id');
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new UpstreamLoginError('unavailable', 'key set unavailable');
    }
  };
}

/**
 * Verifies a JWT's signature and registered claims (`iss`, `aud`, `exp`, `nbf`), failing with an
 * {@link UpstreamLoginError}. `algorithms` is always an explicit list, which is what stops `alg: none` and an
 * HS256 token signed with a public key from ever reaching a key.
 *
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 * @see [RFC 8725 §3.1](https://www.rfc-editor.org/rfc/rfc8725#section-3.1)
 */
export async function verifyJWT(token: string, rules: JWTRules): Promise<VerifiedPayload> {
  if (typeof token !== 'string' || token === '') throw new UpstreamLoginError('invalid_token', 'malformed token');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, rules.key, {
      algorithms: rules.algorithms,
      issuer: rules.issuer,
      ...(rules.audience === undefined ? {} : { audience: rules.audience }),
      requiredClaims: ['sub', 'exp', ...rules.requiredClaims],
      currentDate: new Date(rules.clock()),
      clockTolerance: rules.clockTolerance,
    }));
  } catch (error) {
    throw toLoginError(error);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new UpstreamLoginError('invalid_token', 'unexpected "sub" claim');
  return payload as VerifiedPayload;
}

/** True when a NumericDate claim lies in the past, within the clock tolerance. */
export function isInPast(value: unknown, rules: Pick<JWTRules, 'clock' | 'clockTolerance'>): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value <= rules.clock() / 1000 + rules.clockTolerance;
}

function toLoginError(error: unknown): UpstreamLoginError {
  if (error instanceof UpstreamLoginError) return error;
  if (error instanceof errors.JWTExpired) return new UpstreamLoginError('invalid_token', 'token expired');
  if (error instanceof errors.JWTClaimValidationFailed) return new UpstreamLoginError('invalid_token', `unexpected "${error.claim}" claim`);
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new UpstreamLoginError('invalid_token', 'algorithm not allowed');
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new UpstreamLoginError('invalid_token', 'unknown signing key');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new UpstreamLoginError('invalid_token', 'invalid signature');
  return new UpstreamLoginError('invalid_token', 'malformed token');
}
