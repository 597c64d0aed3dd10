import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { ServerContext } from './context.js';
import { sha256, timingSafeEqual } from '../protocol/crypto.js';
import { OAuthError } from '../protocol/errors.js';
import type { RequestParams } from '../protocol/http.js';
import { OutboundFetchError, outboundFetchFailure } from '../protocol/outbound.js';
import type { ClientRecord, TokenEndpointAuthMethod } from '../store/store.js';
import { AttemptThrottle, throttleSource } from '../operations/throttle.js';

/**
 * What client authentication uses of the server: its issuer (the assertion audience and the Basic realm),
 * the client lookups, the Store and clock (failure counters, single-use assertions), the request's client
 * address, the outbound fetcher (`jwks_uri` key sets) and the event hook.
 */
export type ClientAuthDeps = Pick<ServerContext, 'issuer' | 'store' | 'clock' | 'clientAddress' | 'getClient' | 'allowsAuthMethod' | 'outboundFetch' | 'emit'>;

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

const utf8 = new TextDecoder();

/** Base64 (RFC 4648 §4) to UTF-8 text with the Web platform's `atob`, or null when it is not Base64. */
function decodeBase64(text: string): string | null {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  return utf8.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
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
  const decoded = decodeBase64(match[1]!);
  if (decoded === null) return null;
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
  ctx: ClientAuthDeps,
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
    const client = await checkSecret(ctx, request, credentials.clientId, 'client_secret_basic', credentials.clientSecret, realm);
    if (!client) throw failure();
    return { client, method: 'client_secret_basic' };
  }

  if (assertion !== undefined) return authenticateWithAssertion(ctx, params, assertion, bodyClientId);

  if (bodyClientId === undefined) {
    throw new OAuthError('invalid_client', { description: 'client authentication required', headers: { 'www-authenticate': realm } });
  }
  if (bodySecret !== undefined) {
    const client = await checkSecret(ctx, request, bodyClientId, 'client_secret_post', bodySecret);
    if (!client) throw new OAuthError('invalid_client', { description: 'client authentication failed' });
    return { client, method: 'client_secret_post' };
  }
  const client = await ctx.getClient(bodyClientId);
  // One answer for an unknown id and for a confidential client that sent no secret: the difference would
  // tell a guesser which ids exist, and which method they use.
  if (!client || !ctx.allowsAuthMethod(client, 'none')) {
    throw new OAuthError('invalid_client', { description: 'client authentication failed', headers: { 'www-authenticate': realm } });
  }
  return { client, method: 'none' };
}

const FAILED_SECRETS_PER_CLIENT_AND_SOURCE = 20;
const FAILED_SECRETS_PER_SOURCE = 50;
const FAILED_SECRET_WINDOW_MS = 10 * 60 * 1000;
// What a secret is compared with when the id is unknown or has no secret: 43 characters like a real
// SHA-256 in base64url, outside that alphabet so that nothing ever matches it.
const NO_SECRET_HASH = '#'.repeat(43);

/**
 * Checks a client secret sent with `method`; the client when it is right, null when it is not. Resists
 * guessing (OAuth 2.1 §2.4.1) without telling which ids exist:
 *
 * - Unknown ids, clients of another method and expired secrets go through the same hash and comparison,
 *   count as the same failure and get the same answer as a wrong secret.
 * - Failures are counted per (client id, source) and per source whether or not the id exists, each one by
 *   its own atomic increment, so a concurrent burst cannot slip past the limit. Over a limit, every attempt
 *   from that source gets the same 429 until the window closes, the right secret included, so guessing
 *   stops. Other sources are not affected: nobody can lock a client out from afar. A success counts
 *   nothing; it is accepted only while the counters it read are under their limits, so a right guess
 *   gets through only as one of the first attempts of its window (see {@link AttemptThrottle}).
 *
 * @see [OAuth 2.1 §2.4.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-2.4.1)
 * @see [RFC 6749 §10.10](https://www.rfc-editor.org/rfc/rfc6749#section-10.10)
 */
async function checkSecret(
  ctx: ClientAuthDeps,
  request: Request,
  clientId: string,
  method: 'client_secret_basic' | 'client_secret_post',
  secret: string,
  challenge?: string,
): Promise<ClientRecord | null> {
  const client = await ctx.getClient(clientId);
  const expiresAt = client?.clientSecretExpiresAt ?? 0;
  const matches = timingSafeEqual(await sha256(secret), client?.clientSecretHash ?? NO_SECRET_HASH);
  const valid = client !== null && matches && ctx.allowsAuthMethod(client, method) && (expiresAt === 0 || expiresAt > ctx.clock());
  // Without the client's address there is no source to count per; such requests are not throttled here
  // rather than all sharing one bucket that any one caller could fill (docs/decisions.md).
  if (ctx.clientAddress === undefined) return valid ? client : null;
  const throttle = new AttemptThrottle(ctx.store, ctx.clock);
  const source = throttleSource(ctx.clientAddress);
  // The id hashed: it is whatever the caller sent, of any length.
  const keys = [
    { key: `client-auth:${await sha256(clientId)}:${source}`, limit: FAILED_SECRETS_PER_CLIENT_AND_SOURCE, windowMs: FAILED_SECRET_WINDOW_MS },
    { key: `client-auth:source:${source}`, limit: FAILED_SECRETS_PER_SOURCE, windowMs: FAILED_SECRET_WINDOW_MS },
  ];
  const retryAfter = throttle.retryAfter(valid ? await throttle.peek(keys) : await throttle.fail(keys));
  if (retryAfter !== null) {
    ctx.emit?.({ type: 'rate_limited', clientId, limit: FAILED_SECRETS_PER_SOURCE, windowMs: FAILED_SECRET_WINDOW_MS }, request);
    throw new OAuthError('invalid_client', {
      description: 'too many failed client authentication attempts; retry later',
      status: 429,
      headers: { 'retry-after': String(retryAfter), ...(challenge !== undefined && { 'www-authenticate': challenge }) },
    });
  }
  return valid ? client : null;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASYMMETRIC_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
// Per server: a key set remembers the fetcher it was created with, and that fetcher carries one server's
// SSRF rules (allowPrivateHosts, ca). A process-wide cache let a second server reuse the first one's
// fetcher, reaching hosts its own configuration forbids (CIMD §6.5 / RFC 6890 apply to jwks_uri too).
const remoteKeySets = new WeakMap<ClientAuthDeps['outboundFetch'], Map<string, JWTVerifyGetKey>>();

function clientKeys(ctx: Pick<ClientAuthDeps, 'outboundFetch'>, client: ClientRecord): JWTVerifyGetKey | null {
  const { jwks, jwks_uri: jwksUri } = client.metadata as { jwks?: { keys: Record<string, unknown>[] }; jwks_uri?: string };
  if (jwks) return createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  if (typeof jwksUri !== 'string') return null;
  let serverKeySets = remoteKeySets.get(ctx.outboundFetch);
  if (!serverKeySets) remoteKeySets.set(ctx.outboundFetch, (serverKeySets = new Map()));
  let keys = serverKeySets.get(jwksUri);
  if (!keys) {
    // A registered jwks_uri is client-supplied: fetch it with the same SSRF protections as metadata documents.
    keys = createRemoteJWKSet(new URL(jwksUri), {
      [customFetch]: async (url: string) => {
        const response = await ctx.outboundFetch(url);
        // Like a metadata document, a key set is only a 200; any other answer is logged, not shown.
        if (response.status !== 200) throw new OutboundFetchError(url, `answered HTTP ${response.status}`);
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
  ctx: ClientAuthDeps,
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
  // One description for an unknown id, another method, no keys and a bad signature: a difference would
  // tell which ids exist and how they authenticate.
  const rejected = () => failure('is invalid, expired, not signed by a registered key, or not for this issuer alone');
  const client = await ctx.getClient(clientId);
  if (!client || !ctx.allowsAuthMethod(client, 'private_key_jwt')) throw rejected();
  const keys = clientKeys(ctx, client);
  if (!keys) throw rejected();
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
  } catch (error) {
    // The same description whatever failed, a key set that could not be fetched included (a different one
    // would tell that the id exists and uses jwks_uri); the fetch failure goes to the server's log as the cause.
    if (outboundFetchFailure(error)) throw new OAuthError('invalid_client', { description: rejected().description, cause: error });
    throw rejected();
  }
  if (!(await ctx.store.markUsed(`assertion:${clientId}:${jti}`, (exp! + 5) * 1000))) throw failure('has already been used');
  return { client, method: 'private_key_jwt' };
}
