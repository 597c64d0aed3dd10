import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { systemClock, type Clock } from '../protocol/clock.js';
import { sha256Now } from '../protocol/crypto.js';
import { KeywardConfigError } from '../protocol/errors.js';
import { prereadBody, readBodyParams } from '../protocol/http.js';
import type { RevocationList } from '../store/revocation-list.js';
import { parseScope } from '../protocol/scope.js';
import { VerifiedTokenCache, type VerifiedToken } from './verified-token-cache.js';
import { nodeVerifyJWT, type JWTChecks } from './node-jwt-verify.js';
import { bearerChallenge } from '../protocol/www-authenticate.js';
import { eventEmitter, safeLogger, safeResponseHook, type KeywardEvent, type KeywardLogger, type PendingEvent, type ResponseInfo } from '../operations/events.js';
import { countRequest, type RateLimit } from '../operations/rate-limit.js';
import type { Store } from '../store/store.js';
import { OAuthError } from '../protocol/errors.js';

/**
 * What the guard knows about a verified access token, shaped like the MCP SDK's `AuthInfo` so the SDK's
 * transports hand it to tools as `extra.authInfo`.
 *
 * @example
 * ```ts
 * server.tool('whoami', async (_args, { authInfo }) => ({ content: [{ type: 'text', text: authInfo!.extra!.subject as string }] }));
 * ```
 * @see [RFC 9068 §2.2](https://www.rfc-editor.org/rfc/rfc9068#section-2.2)
 */
export interface AuthInfo {
  /** The raw bearer token. */
  token: string;
  clientId: string;
  scopes: string[];
  /** Epoch seconds. */
  expiresAt?: number;
  /** The resource the token was issued for (its audience). */
  resource?: URL;
  extra?: {
    /** The user (or, for client_credentials, the client) the token speaks for. */
    subject: string;
    /** The grant the token was issued from; MCP sessions are bound to it. */
    grantId?: string;
    /** Every verified claim. */
    claims: JWTPayload;
    [key: string]: unknown;
  };
}

/** Options of {@link ResourceServerGuard}. */
export interface ResourceServerGuardOptions {
  /** The authorization server's issuer identifier, compared byte for byte with the token's `iss`. */
  issuer: string;
  /** This resource's identifier; the token's `aud` must contain it exactly (RFC 8707). */
  resource: string;
  /** Audiences accepted instead of `resource` alone (the userinfo endpoint accepts all of a server's). */
  audiences?: string[] | undefined;
  /** The URL of this resource's RFC 9728 metadata, sent in every challenge. */
  resourceMetadataUrl: string;
  /** Where verification keys come from: a JWKS URL, or a key resolver (the server passes its own keys). */
  jwksUri?: string | URL;
  keys?: JWTVerifyGetKey;
  /** Accepted signature algorithms; default ES256, EdDSA, RS256. */
  algorithms?: string[];
  /** Scopes every request must carry. */
  requiredScopes?: string[];
  /** Revoked grants and tokens, refused although their signature still verifies. */
  revocations?: RevocationList;
  /** Allowed clock skew in seconds (default 5); keep it small, since it extends every token's life (RFC 9700 §4.14). */
  clockToleranceSeconds?: number;
  clock?: Clock;
  /**
   * How many verified tokens to remember (least recently used go first), so that a token seen before costs
   * a lookup instead of a signature check; default 10,000, 0 turns the cache off. A token is remembered from
   * its second request on, so tokens presented once never push out those of busy sessions. A remembered
   * token is still refused once it expires or is revoked: expiry and the revocation list are checked on
   * every request.
   */
  tokenCacheSize?: number;
  /**
   * Requests per source address and window, counted in `store` (shared by every instance using it) and
   * answered 429 beyond the limit. Counts only requests whose client address the adapter passes.
   */
  rateLimit?: (RateLimit & { store: Store }) | false | undefined;
  /** Receives `rate_limited` events (endpoint `mcp`); errors it throws are ignored. */
  onEvent?: ((event: KeywardEvent) => void) | undefined;
  /** Called once per response the guard answers itself (401, 403, 429), endpoint `mcp`. */
  onResponse?: ((info: ResponseInfo) => void) | undefined;
  /** The `oauth:guard` trace. */
  logger?: KeywardLogger | undefined;
  /**
   * Which library checks a token's signature and claims: default node:crypto where the runtime has it
   * (synchronous, on the request's own thread), jose on Web Crypto elsewhere. Both apply the same checks.
   */
  verifier?: 'node:crypto' | 'jose' | undefined;
}

/**
 * What the adapter tells the guard about one request.
 *
 * @example
 * ```ts
 * const result = await guard.authenticate(request, { scopes: ['mcp:admin'], clientAddress: '203.0.113.9' });
 * ```
 * @see [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)
 */
export interface GuardRequestOptions {
  /** Scopes this call needs beyond the guard's own (step-up for a tool that needs more). */
  scopes?: readonly string[];
  /** The client's network address (after trusted proxies), for the rate limit. */
  clientAddress?: string | undefined;
}

/**
 * What an adapter tells {@link ResourceServerGuard.authenticateHeader} about a request it has not turned into
 * a Web `Request`.
 *
 * @example
 * ```ts
 * const options: GuardHeaderOptions = { scopes: ['mcp:tools'], bodyToken: false, method: 'POST', clientAddress: '203.0.113.9' };
 * ```
 * @see [RFC 6750 §2.2](https://www.rfc-editor.org/rfc/rfc6750#section-2.2)
 */
export interface GuardHeaderOptions extends GuardRequestOptions {
  /** True when a form-encoded body carries an `access_token` too: a token sent two ways is refused. */
  bodyToken?: boolean;
  /** The request method, for the trace and the response hook; default POST. */
  method?: string;
}

/** The outcome of {@link ResourceServerGuard.authenticate}: the token's AuthInfo, or the response to send. */
export type GuardResult = { ok: true; auth: AuthInfo } | { ok: false; response: Response };

const ACCESS_TOKEN_TYP = 'at+jwt';
const DEFAULT_TOKEN_CACHE_SIZE = 10_000;
const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];
const DEFAULT_CLOCK_TOLERANCE = 5;
const REQUIRED_CLAIMS = ['exp', 'iat', 'sub', 'client_id', 'jti'];

/**
 * The token of an `Authorization: Bearer <token>` field by position alone (scheme case-insensitive, spaces
 * around the token dropped), without checking its characters: enough to look it up among tokens that were
 * checked when first seen.
 */
function bearerCandidate(authorization: string): string | undefined {
  if (authorization.length < 8 || authorization.charCodeAt(6) !== 32 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  let start = 7;
  while (authorization.charCodeAt(start) === 32) start++;
  let end = authorization.length;
  while (end > start && authorization.charCodeAt(end - 1) === 32) end--;
  return end > start ? authorization.slice(start, end) : undefined;
}

/**
 * The resource-server side: verifies a bearer JWT access token (signature, `typ`, `iss`, `aud`, `exp`,
 * revocation) and its scopes, or builds the RFC 6750 challenge. Framework adapters wrap it; on Web runtimes
 * use it directly.
 *
 * @example
 * ```ts
 * const guard = server.createGuard(); // or new ResourceServerGuard({ issuer, resource, resourceMetadataUrl, jwksUri })
 * const result = await guard.authenticate(request);
 * if (!result.ok) return result.response;
 * console.log(result.auth.scopes);
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9068 §4](https://www.rfc-editor.org/rfc/rfc9068#section-4)
 */
export class ResourceServerGuard {
  readonly #options: ResourceServerGuardOptions;
  readonly #keys: JWTVerifyGetKey;
  readonly #clock: Clock;
  readonly #resourceURL: URL;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #emit: ((event: PendingEvent) => void) | undefined;
  readonly #log: ((namespace: string, message: string, fields?: Record<string, unknown>) => void) | undefined;
  readonly #onResponse: ((info: ResponseInfo) => void) | undefined;
  readonly #cache: VerifiedTokenCache | undefined;
  readonly #checks: JWTChecks | undefined;

  constructor(options: ResourceServerGuardOptions) {
    if (!options.keys && !options.jwksUri) throw new KeywardConfigError('ResourceServerGuard needs jwksUri or keys');
    for (const name of ['issuer', 'resource', 'resourceMetadataUrl'] as const) {
      if (typeof options[name] !== 'string' || !URL.canParse(options[name])) {
        throw new KeywardConfigError(`ResourceServerGuard option ${name} must be an absolute URL`);
      }
    }
    this.#options = options;
    this.#keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUri!));
    this.#clock = options.clock ?? systemClock;
    this.#resourceURL = new URL(options.resource);
    this.#headers = {
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...(this.#resourceURL.protocol === 'https:' && { 'strict-transport-security': 'max-age=31536000; includeSubDomains' }),
    };
    this.#emit = options.onEvent && eventEmitter(options.onEvent, this.#clock);
    this.#log = options.logger && safeLogger(options.logger);
    this.#onResponse = options.onResponse && safeResponseHook(options.onResponse);
    const cacheSize = options.tokenCacheSize ?? DEFAULT_TOKEN_CACHE_SIZE;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new KeywardConfigError('ResourceServerGuard option tokenCacheSize must be a whole number ≥ 0');
    this.#cache = cacheSize > 0 ? new VerifiedTokenCache(cacheSize) : undefined;
    // The checks of the jose call below, prepared once: on Node the guard verifies with node:crypto.
    this.#checks =
      options.verifier === 'jose'
        ? undefined
        : {
            issuer: options.issuer,
            audiences: options.audiences ?? [options.resource],
            typ: ACCESS_TOKEN_TYP,
            algorithms: new Set(options.algorithms ?? DEFAULT_ALGORITHMS),
            clockTolerance: options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE,
            requiredClaims: REQUIRED_CLAIMS,
          };
  }

  /** The resource identifier this guard protects. */
  get resource(): string {
    return this.#options.resource;
  }

  /**
   * Authenticates a request. `scopes` adds to the guard's required scopes for this one call (step-up for a
   * tool that needs more).
   */
  async authenticate(request: Request, options: GuardRequestOptions = {}): Promise<GuardResult> {
    const bodyToken = await this.#formBodyToken(request);
    return this.authenticateHeader(request.headers.get('authorization'), { ...options, bodyToken, method: request.method });
  }

  /**
   * {@link authenticate} for a caller that has the `Authorization` field value but no Web `Request`: a
   * framework adapter, which then needs not build one per request. Pass repeated fields joined with ", ",
   * as `Headers.get()` would, and `bodyToken: true` when a form-encoded body carries a non-empty
   * `access_token` (RFC 6750 §2.2), so that a token sent twice is refused as it is by {@link authenticate}.
   *
   * @example
   * ```ts
   * const result = await guard.authenticateHeader(req.headers.authorization ?? null, { scopes: ['mcp:tools'], clientAddress: req.socket.remoteAddress });
   * if (!result.ok) return send(res, result.response);
   * ```
   * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
   */
  authenticateHeader(authorization: string | null | undefined, options: GuardHeaderOptions = {}): Promise<GuardResult> {
    const started = this.#onResponse ? performance.now() : 0;
    let outcome: GuardResult | Promise<GuardResult>;
    try {
      outcome = this.#options.rateLimit ? this.#limitAndVerify(authorization, options) : this.#verifyHeader(authorization, options);
    } catch (error) {
      return Promise.reject(error);
    }
    // A cached token's answer is ready now: handed over already settled, it costs the caller one turn, not three.
    return outcome instanceof Promise ? outcome.then((result) => this.#reported(result, options, started)) : Promise.resolve(this.#reported(outcome, options, started));
  }

  /** A refusal gets the security headers and goes to the trace and the response hook. */
  #reported(result: GuardResult, options: GuardHeaderOptions, started: number): GuardResult {
    if (!result.ok) {
      const method = options.method ?? 'POST';
      for (const [name, value] of Object.entries(this.#headers)) result.response.headers.set(name, value);
      this.#log?.('oauth:guard', `${method} refused ${result.response.status}`, { sourceAddress: options.clientAddress, status: result.response.status });
      this.#onResponse?.({ endpoint: 'mcp', method, status: result.response.status, durationMs: performance.now() - started });
    }
    return result;
  }

  async #limitAndVerify(authorization: string | null | undefined, options: GuardHeaderOptions): Promise<GuardResult> {
    const limit = this.#options.rateLimit;
    let limitHeaders: Record<string, string> | undefined;
    if (limit && options.clientAddress !== undefined) {
      const address = options.clientAddress;
      let decision: Awaited<ReturnType<typeof countRequest>> | undefined;
      try {
        decision = await countRequest(limit.store, this.#clock, `ratelimit:mcp:${address}`, limit);
      } catch {
        // Tokens verify with keys held in memory: a Store outage must not stop MCP, so the limit gives way.
        this.#emit?.({ type: 'store.unavailable', operation: 'incrementCounter', endpoint: 'mcp', sourceAddress: address });
        this.#log?.('oauth:store', 'rate limit not counted: store call failed', { endpoint: 'mcp' });
      }
      if (decision && !decision.allowed) {
        this.#emit?.({ type: 'rate_limited', limit: limit.max, windowMs: limit.windowMs, endpoint: 'mcp', sourceAddress: address });
        const headers = { ...decision.headers, 'access-control-expose-headers': 'WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy' };
        const error = new OAuthError('slow_down', { description: 'too many requests from this address; retry later', status: 429, headers });
        return { ok: false, response: error.toResponse() };
      }
      limitHeaders = decision?.headers;
    }
    const result = await this.#verifyHeader(authorization, options);
    if (!result.ok && limitHeaders) for (const [name, value] of Object.entries(limitHeaders)) result.response.headers.set(name, value);
    return result;
  }

  #verifyHeader(authorization: string | null | undefined, options: GuardHeaderOptions): GuardResult | Promise<GuardResult> {
    // A token the cache knows passed the syntax check below when it was first seen: its hash alone finds it.
    const candidate = this.#cache && !options.bodyToken && authorization ? bearerCandidate(authorization) : undefined;
    const candidateKey = candidate === undefined ? undefined : sha256Now(candidate);
    if (candidate !== undefined) {
      const cached = this.#verifyCached(candidate, candidateKey, options.scopes);
      if (cached) return cached;
    }
    let token: string | undefined;
    if (authorization !== null && authorization !== undefined) {
      const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
      if (!match) {
        // Another scheme (Basic, DPoP without support) is "no usable credentials" for this resource.
        if (!/^bearer(\s|$)/i.test(authorization)) return this.#challenge(401);
        return this.#challenge(401, 'invalid_token', 'malformed bearer token');
      }
      token = match[1];
    }
    if (token !== undefined && options.bodyToken) {
      return this.#challenge(400, 'invalid_request', 'a token may be sent in one way only');
    }
    // RFC 6750 §2.3 tokens in the URI are deliberately not accepted; such a request has no credentials.
    if (token === undefined) return this.#challenge(401);
    // The syntax check captures exactly the candidate when both are there, so its hash is the token's.
    return token === candidate ? this.#verifyInFull(token, candidateKey, options.scopes) : this.#verifyToken(token, options.scopes);
  }

  /** Verifies a raw token string, as {@link authenticate} does after extracting it. */
  verify(token: string, extraScopes: readonly string[] = []): Promise<GuardResult> {
    return Promise.resolve(this.#verifyToken(token, extraScopes));
  }

  /** From the cache when it can answer at once, else in full; the token is hashed once either way. */
  #verifyToken(token: string, extraScopes: readonly string[] | undefined): GuardResult | Promise<GuardResult> {
    const cacheKey = this.#cache && sha256Now(token);
    return this.#verifyCached(token, cacheKey, extraScopes) ?? this.#verifyInFull(token, cacheKey, extraScopes);
  }

  /**
   * The answer for a token in the cache when nothing needs waiting for (the hash is synchronous on Node, the
   * revocation list fresh), or undefined: the MCP case, one token on every request of a session, answered
   * without a promise per step.
   */
  #verifyCached(token: string, cacheKey: string | Promise<string> | undefined, extraScopes: readonly string[] = []): GuardResult | undefined {
    if (!this.#cache || typeof cacheKey !== 'string') return undefined;
    const verified = this.#cache.get(cacheKey, this.#clock());
    if (!verified) return undefined;
    const revoked = this.#options.revocations ? this.#options.revocations.revokedNow(verified.jti, verified.grantId, verified.clientId) : false;
    if (revoked === undefined) return undefined;
    return this.#decide(token, verified, revoked, cacheKey, extraScopes);
  }

  /** The answer when the cache cannot give it at once; `pendingKey` is the token's hash, hashed once per request. */
  async #verifyInFull(token: string, pendingKey: string | Promise<string> | undefined, extraScopes: readonly string[] = []): Promise<GuardResult> {
    const cacheKey = await pendingKey;
    let verified = cacheKey && this.#cache!.get(cacheKey, this.#clock());
    if (!verified) {
      const outcome = await this.#verifySignatureAndClaims(token);
      if (!outcome.ok) return outcome;
      verified = outcome.verified;
      if (cacheKey) this.#cache!.admit(cacheKey, verified);
    }
    // Consulted on every request, cached or not: a revocation takes effect at once for this server's own and
    // within the list's refresh interval for another instance's, exactly as without the cache.
    const revocations = this.#options.revocations;
    const revoked = revocations ? await revocations.isRevoked(verified.jti, verified.grantId, verified.clientId) : false;
    return this.#decide(token, verified, revoked, cacheKey || undefined, extraScopes);
  }

  /** The answer for a verified token: refused when revoked or short of a scope, else its AuthInfo. */
  #decide(token: string, verified: VerifiedToken, revoked: boolean, cacheKey: string | undefined, extraScopes: readonly string[]): GuardResult {
    if (revoked) {
      if (cacheKey) this.#cache!.delete(cacheKey);
      return this.#challenge(401, 'invalid_token', 'the access token has been revoked');
    }
    const scopes = verified.scopes;
    const required = this.#options.requiredScopes;
    if ((required?.length && required.some((scope) => !scopes.includes(scope))) || extraScopes.some((scope) => !scopes.includes(scope))) {
      // RFC 6750 §3.1: name every scope the operation needs, so the client can ask for all of them at once.
      const union = [...new Set([...scopes, ...(required ?? []), ...extraScopes])];
      return this.#challenge(403, 'insufficient_scope', 'the access token lacks a required scope', union.join(' '));
    }
    return {
      ok: true,
      auth: {
        token,
        clientId: verified.clientId,
        // A copy: the caller may change its AuthInfo, and the cached entry serves the next request.
        scopes: [...scopes],
        expiresAt: verified.expiresAt,
        resource: this.#resourceURL,
        extra: { subject: verified.subject, ...(verified.grantId && { grantId: verified.grantId }), claims: verified.claims },
      },
    };
  }

  async #verifySignatureAndClaims(token: string): Promise<{ ok: true; verified: VerifiedToken } | { ok: false; response: Response }> {
    let payload: JWTPayload;
    const fast = this.#checks && (await nodeVerifyJWT(token, this.#keys, this.#checks, this.#clock()));
    if (fast) {
      if (!fast.ok) return this.#challenge(401, 'invalid_token', 'the access token is invalid, expired or not meant for this resource');
      payload = fast.payload;
    } else {
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg === 'none') throw new Error('unsigned');
        ({ payload } = await jwtVerify(token, this.#keys, {
          issuer: this.#options.issuer,
          audience: this.#options.audiences ?? this.#options.resource,
          typ: ACCESS_TOKEN_TYP,
          algorithms: this.#options.algorithms ?? DEFAULT_ALGORITHMS,
          clockTolerance: this.#options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE,
          currentDate: new Date(this.#clock()),
          requiredClaims: REQUIRED_CLAIMS,
        }));
      } catch {
        return this.#challenge(401, 'invalid_token', 'the access token is invalid, expired or not meant for this resource');
      }
    }
    // jose checks `iss` as a string; RFC 9068 also demands exact typing of the other claims we rely on.
    if (typeof payload.client_id !== 'string' || typeof payload.sub !== 'string') {
      return this.#challenge(401, 'invalid_token', 'the access token lacks client_id or sub');
    }
    if (Array.isArray(payload.aud)) Object.freeze(payload.aud);
    return {
      ok: true,
      verified: {
        claims: Object.freeze(payload),
        clientId: payload.client_id,
        subject: payload.sub,
        jti: payload.jti!,
        grantId: typeof payload.grant_id === 'string' ? payload.grant_id : undefined,
        scopes: Object.freeze((typeof payload.scope === 'string' ? parseScope(payload.scope) : []) ?? []),
        expiresAt: payload.exp!,
      },
    };
  }

  async #formBodyToken(request: Request): Promise<boolean> {
    const type = request.headers.get('content-type');
    if (!type || !type.toLowerCase().startsWith('application/x-www-form-urlencoded') || request.bodyUsed) return false;
    try {
      // A body the adapter read already is not consumed by reading it; a streamed one is read from a copy.
      return (await readBodyParams(prereadBody(request) === undefined ? request.clone() : request)).has('access_token');
    } catch {
      return false;
    }
  }

  #challenge(status: number, error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description?: string, scope?: string): { ok: false; response: Response } {
    const challenge = bearerChallenge({
      resourceMetadata: this.#options.resourceMetadataUrl,
      error,
      errorDescription: description,
      scope: scope ?? (this.#options.requiredScopes?.length ? this.#options.requiredScopes.join(' ') : undefined),
    });
    // RFC 6750 §3.1: a request without credentials gets no error code, so no body claims one either.
    const body = error ? JSON.stringify({ error, ...(description && { error_description: description }) }) : null;
    return {
      ok: false,
      response: new Response(body, {
        status,
        headers: {
          ...(body && { 'content-type': 'application/json' }),
          'cache-control': 'no-store',
          'www-authenticate': challenge,
          'access-control-expose-headers': 'WWW-Authenticate',
        },
      }),
    };
  }
}
