import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { epochSeconds } from '../protocol/clock.js';
import type { ServerContext } from './context.js';
import { base64url, nodeCrypto, randomToken } from '../protocol/crypto.js';
import { formatScope } from '../protocol/scope.js';

/** What signing tokens uses of the server: its issuer, keys, access-token algorithm, clock and lifetimes. */
export type TokenIssuerDeps = Pick<ServerContext, 'issuer' | 'keys' | 'accessTokenAlgorithm' | 'clock' | 'ttl'>;

/** What verifying its own access tokens uses of the server: its issuer, keys, access-token algorithm and clock. */
export type TokenVerifierDeps = Pick<ServerContext, 'issuer' | 'keys' | 'accessTokenAlgorithm' | 'clock'>;

/** What an access token is issued for. */
export interface AccessTokenGrant {
  subject: string;
  clientId: string;
  scopes: string[];
  /** The RFC 8707 resources; the token's `aud`. */
  audience: string[];
  /** The stored grant, for tokens that have one (not client_credentials); revoking it revokes the token. */
  grantId?: string | undefined;
}

/** A signed access token and the figures the token response repeats. */
export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
  expiresAt: number;
}

/**
 * Signs an RFC 9068 JWT access token: header `typ: at+jwt` and claims `iss`, `sub`, `aud`, `exp`, `iat`,
 * `jti`, `client_id`, `scope`, plus `grant_id` (when the token has a grant) so that revoking the grant
 * revokes the token.
 *
 * @see [RFC 9068 §2](https://www.rfc-editor.org/rfc/rfc9068#section-2)
 */
export async function issueAccessToken(ctx: TokenIssuerDeps, grant: AccessTokenGrant): Promise<IssuedAccessToken> {
  const { kid, alg, sign } = await ctx.keys.signingKey(ctx.accessTokenAlgorithm);
  const iat = epochSeconds(ctx.clock);
  const exp = iat + ctx.ttl.accessToken;
  const jti = randomToken(16);
  // Claims in the order jose's SignJWT setters used to produce, so tokens look exactly as before.
  const payload: JWTPayload = { client_id: grant.clientId };
  if (grant.scopes.length) payload.scope = formatScope(grant.scopes);
  if (grant.grantId !== undefined) payload.grant_id = grant.grantId;
  payload.iss = ctx.issuer;
  payload.sub = grant.subject;
  payload.aud = grant.audience.length === 1 ? grant.audience[0]! : grant.audience;
  payload.iat = iat;
  payload.exp = exp;
  payload.jti = jti;
  const token = await sign({ alg, kid, typ: 'at+jwt' }, payload);
  return { token, jti, expiresIn: ctx.ttl.accessToken, expiresAt: exp };
}

async function leftHalfSHA256(value: string): Promise<string> {
  const digest = nodeCrypto
    ? nodeCrypto.createHash('sha256').update(value, 'utf8').digest()
    : new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
  return base64url(digest.subarray(0, 16));
}

/** What an ID token states about the user's authentication. */
export interface IDTokenContent {
  subject: string;
  clientId: string;
  nonce?: string | undefined;
  /** Epoch milliseconds of the authentication; the token states it in seconds. */
  authTime?: number | undefined;
  claims?: Record<string, unknown> | undefined;
  accessToken: string;
}

/**
 * Signs an OpenID Connect ID token with RS256, the algorithm every relying party supports by default
 * (OIDC Core §15.1), carrying `at_hash` for the access token issued beside it.
 *
 * @see [OIDC Core §2, §3.1.3.6](https://openid.net/specs/openid-connect-core-1_0.html#IDToken)
 */
export async function issueIDToken(ctx: TokenIssuerDeps, content: IDTokenContent): Promise<string> {
  const { kid, alg, sign } = await ctx.keys.signingKey('RS256');
  const iat = epochSeconds(ctx.clock);
  // OIDC Core §3.1.3.6: the left half of SHA-256 of the access token's ASCII bytes.
  const atHash = await leftHalfSHA256(content.accessToken);
  return sign(
    { alg, kid, typ: 'JWT' },
    {
      ...content.claims,
      ...(content.nonce !== undefined && { nonce: content.nonce }),
      // OIDC Core §2: auth_time is in epoch seconds; records keep milliseconds.
      ...(content.authTime !== undefined && { auth_time: Math.floor(content.authTime / 1000) }),
      at_hash: atHash,
      iss: ctx.issuer,
      sub: content.subject,
      aud: content.clientId,
      iat,
      exp: iat + ctx.ttl.accessToken,
    },
  );
}

/**
 * Verifies an access token of this server whatever its audience (for revocation and introspection):
 * signature by a current key, `typ`, `iss`, expiry. Returns null for anything else.
 */
export async function verifyOwnAccessToken(ctx: TokenVerifierDeps, token: string): Promise<JWTPayload | null> {
  if (token.split('.').length !== 3) return null;
  try {
    const header = decodeProtectedHeader(token);
    const key = await ctx.keys.verificationKey(header.kid, header.alg);
    if (!key || header.alg !== ctx.accessTokenAlgorithm) return null;
    const { payload } = await jwtVerify(token, key, {
      issuer: ctx.issuer,
      typ: 'at+jwt',
      currentDate: new Date(ctx.clock()),
      requiredClaims: ['exp', 'sub', 'client_id', 'jti'],
    });
    return payload;
  } catch {
    return null;
  }
}
