import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { ServerContext } from './context.js';
import { FailureThrottle } from './throttle.js';
import { sha256, timingSafeEqual } from './crypto.js';
import { OAuthError } from './errors.js';
import type { RequestParams } from './http.js';
import type { ClientRecord, TokenEndpointAuthMethod } from './store.js';

/** A client that proved who it is (or, for public clients, named itself). */
export interface AuthenticatedClient {
  client: ClientRecord;
  method: TokenEndpointAuthMethod;
}

function decodeFormComponent(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/**
 * Parses `Authorization: Basic …` client credentials. RFC 6749 §2.3.1 form-urlencodes the id and secret
 * before Base64, so both are form-urldecoded here, strictly: a malformed escape is a failure, not a guess.
 *
 * @example
 * ```ts
 * parseBasicCredentials('Basic ' + btoa('a%3Ab%25:secret')); // { clientId: 'a:b%', clientSecret: 'secret' }
 * ```
 * @see [OAuth 2.1 §2.4.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-2.4.1)
 */
export function parseBasicCredentials(header: string): { clientId: string; clientSecret: string } | null {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const clientId = decodeFormComponent(decoded.slice(0, colon));
  const clientSecret = decodeFormComponent(decoded.slice(colon + 1));
  if (!clientId || clientSecret === null) return null;
  return { clientId, clientSecret };
}

/**
 * Authenticates the client of a token (or revocation, introspection) request: exactly one method, the one
 * the client registered. A failed `Authorization` header attempt answers 401 with a Basic challenge
 * (OAuth 2.1 §3.2.4).
 *
 * @see [OAuth 2.1 §2.4, §3.2.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-2.4)
 */
export async function authenticateClient(
  ctx: ServerContext,
  request: Request,
  params: RequestParams,
): Promise<AuthenticatedClient> {
  const realm = `Basic realm="${ctx.issuer}"`;
  const header = request.headers.get('authorization');
  const basic = header !== null && /^basic /i.test(header);
  const bodySecret = params.get('client_secret');
  const bodyClientId = params.get('client_id');
  const assertion = params.get('client_assertion');

  // OAuth 2.1 §2.4.1: credentials never in the URI.
  // Parsing the URL only when it has a query: token requests almost never do.
  const query = request.url.includes('?') ? new URL(request.url).searchParams : undefined;
  if (query && (query.has('client_secret') || query.has('client_assertion'))) {
    throw new OAuthError('invalid_request', { description: 'client credentials must not be sent in the URI' });
  }
  if ([basic, bodySecret !== undefined, assertion !== undefined].filter(Boolean).length > 1) {
    throw new OAuthError('invalid_request', { description: 'use exactly one client authentication method' });
  }

  if (basic) {
    // A function, not a prebuilt error: building an Error captures a stack, which the success path should not pay for.
    const failure = () => new OAuthError('invalid_client', { description: 'client authentication failed', headers: { 'www-authenticate': realm } });
    const credentials = parseBasicCredentials(header!);
    if (!credentials) throw failure();
    if (bodyClientId !== undefined && bodyClientId !== credentials.clientId) {
      throw new OAuthError('invalid_request', { description: 'client_id does not match the Authorization header' });
    }
    const client = await ctx.getClient(credentials.clientId);
    if (!client || !ctx.allowsAuthMethod(client, 'client_secret_basic') || !(await secretMatches(ctx, request, client, credentials.clientSecret))) {
      throw failure();
    }
    return { client, method: 'client_secret_basic' };
  }

  if (assertion !== undefined) return authenticateWithAssertion(ctx, params, assertion, bodyClientId);

  if (bodyClientId === undefined) {
    throw new OAuthError('invalid_client', { description: 'client authentication required', headers: { 'www-authenticate': realm } });
  }
  const client = await ctx.getClient(bodyClientId);
  const failure = () => new OAuthError('invalid_client', { description: 'client authentication failed' });
  if (!client) throw failure();
  if (bodySecret !== undefined) {
    if (!ctx.allowsAuthMethod(client, 'client_secret_post') || !(await secretMatches(ctx, request, client, bodySecret))) throw failure();
    return { client, method: 'client_secret_post' };
  }
  if (!ctx.allowsAuthMethod(client, 'none')) {
    throw new OAuthError('invalid_client', {
      description: `this client must authenticate with ${client.tokenEndpointAuthMethod}`,
      headers: { 'www-authenticate': realm },
    });
  }
  return { client, method: 'none' };
}

const FAILED_SECRETS_PER_SOURCE = 20;
const FAILED_SECRET_WINDOW_MS = 10 * 60 * 1000;

/**
 * Checks a client secret, counting failures per client and source address (OAuth 2.1 §2.4.1: secret
 * authentication must resist brute force). Once a source has failed too often, every attempt from it is
 * refused until the window closes, the right secret included, so guessing stops; other sources are not
 * affected, so nobody can lock a client out from afar.
 */
async function secretMatches(ctx: ServerContext, request: Request, client: ClientRecord, secret: string): Promise<boolean> {
  const throttle = new FailureThrottle(ctx.store, ctx.clock, FAILED_SECRET_WINDOW_MS);
  const key = `client-auth:${client.clientId}:${ctx.clientAddress(request)}`;
  const retryAfter = await throttle.retryAfter([[key, FAILED_SECRETS_PER_SOURCE]]);
  if (retryAfter !== null) {
    throw new OAuthError('invalid_client', {
      description: 'too many failed client authentication attempts; retry later',
      status: 429,
      headers: { 'retry-after': String(retryAfter) },
    });
  }
  const expiresAt = client.clientSecretExpiresAt ?? 0;
  const valid =
    client.clientSecretHash !== undefined &&
    (expiresAt === 0 || expiresAt * 1000 > ctx.clock()) &&
    timingSafeEqual(await sha256(secret), client.clientSecretHash);
  if (!valid) await throttle.recordFailure([key]);
  return valid;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASYMMETRIC_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
// Per server: a key set remembers the fetcher it was created with, and that fetcher carries one server's
// SSRF rules (allowPrivateHosts, ca). A process-wide cache let a second server reuse the first one's
// fetcher, reaching hosts its own configuration forbids (CIMD §6.5 / RFC 6890 apply to jwks_uri too).
const remoteKeySets = new WeakMap<ServerContext, Map<string, JWTVerifyGetKey>>();

function clientKeys(ctx: ServerContext, client: ClientRecord): JWTVerifyGetKey | null {
  const { jwks, jwks_uri: jwksUri } = client.metadata as { jwks?: { keys: Record<string, unknown>[] }; jwks_uri?: string };
  if (jwks) return createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  if (typeof jwksUri !== 'string') return null;
  let serverKeySets = remoteKeySets.get(ctx);
  if (!serverKeySets) remoteKeySets.set(ctx, (serverKeySets = new Map()));
  let keys = serverKeySets.get(jwksUri);
  if (!keys) {
    // A registered jwks_uri is client-supplied: fetch it with the same SSRF protections as metadata documents.
    keys = createRemoteJWKSet(new URL(jwksUri), {
      [customFetch]: async (url: string) => {
        const response = await ctx.safeFetch(url);
        return new Response(response.body, { status: response.status, headers: { 'content-type': 'application/json' } });
      },
    });
    if (serverKeySets.size > 500) serverKeySets.clear();
    serverKeySets.set(jwksUri, keys);
  }
  return keys;
}

/**
 * `private_key_jwt`: a JWT signed by a key the client registered, `iss` = `sub` = client_id, `aud` = this
 * issuer as its sole value (rfc7523bis), `exp` required and `jti` single-use through the Store.
 *
 * @see [RFC 7523 §2.2, §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)
 */
async function authenticateWithAssertion(
  ctx: ServerContext,
  params: RequestParams,
  assertion: string,
  bodyClientId: string | undefined,
): Promise<AuthenticatedClient> {
  const failure = (reason: string) => new OAuthError('invalid_client', { description: `client assertion ${reason}` });
  if (params.get('client_assertion_type') !== JWT_BEARER) {
    throw new OAuthError('invalid_request', { description: `client_assertion_type must be ${JWT_BEARER}` });
  }
  let clientId: string | undefined;
  try {
    clientId = decodeJwt(assertion).sub;
  } catch {
    throw failure('is not a JWT');
  }
  if (!clientId || (bodyClientId !== undefined && bodyClientId !== clientId)) throw failure('subject does not name the client');
  const client = await ctx.getClient(clientId);
  if (!client || !ctx.allowsAuthMethod(client, 'private_key_jwt')) throw failure('is not accepted for this client');
  const keys = clientKeys(ctx, client);
  if (!keys) throw failure('cannot be verified: the client registered no keys');
  let jti: string | undefined;
  let exp: number | undefined;
  try {
    const { payload } = await jwtVerify(assertion, keys, {
      issuer: clientId,
      subject: clientId,
      audience: ctx.issuer,
      algorithms: ASYMMETRIC_ALGORITHMS,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(ctx.clock()),
      clockTolerance: 5,
    });
    ({ jti, exp } = payload);
    // draft-ietf-oauth-rfc7523bis §4 (RFC 7523 §3 item 3b): the issuer identifier must be the *sole*
    // audience; the token endpoint URL, or the issuer beside other values, is refused. Accepting those is
    // what makes the audience-injection attack work: a malicious AS whose metadata names this server's
    // token endpoint collects assertions that this server would accept.
    const audience = Array.isArray(payload.aud) && payload.aud.length === 1 ? payload.aud[0] : payload.aud;
    if (audience !== ctx.issuer) throw new Error('aud');
  } catch {
    throw failure('is invalid, expired, not signed by a registered key, or not for this issuer alone');
  }
  if (!(await ctx.store.markUsed(`assertion:${clientId}:${jti}`, (exp! + 5) * 1000))) throw failure('has already been used');
  return { client, method: 'private_key_jwt' };
}
