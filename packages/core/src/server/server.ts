import { systemClock } from '../protocol/clock.js';
import type { InteractionResult, ResolvedResource, ServerContext } from './context.js';
import { sha256 } from '../protocol/crypto.js';
import { isOAuthError, KeywardConfigError, OAuthError } from '../protocol/errors.js';
import { handleAuthorize, interactionErrorPage, redirectError, targetFromInteraction } from './handlers/authorize.js';
import { handleToken } from './handlers/token.js';
import { approveInteraction, revokeGrant } from './grants.js';
import { handleIntrospect } from './handlers/introspect.js';
import { handleClientConfiguration, handleRegister, type ResolvedRegistration } from './handlers/register.js';
import { handleRevoke } from './handlers/revoke.js';
import { handleUserinfo } from './handlers/userinfo.js';
import { ClientIdMetadataDocumentResolver, isClientIdMetadataDocumentURL } from './client-id-metadata-document.js';
import { outboundFetchFailure } from '../protocol/outbound.js';
import { defaultOutboundFetch } from './outbound-fetch.js';
import { LoginFlow } from '../login/flow.js';
import type { AuthorizationServerOptions, EndpointURLs } from './options.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { attachPrereadBody, CORS_HEADERS, CORS_RESPONSE_HEADERS, escapeHTML, htmlResponse, rawJSONResponse, webRequest } from '../protocol/http.js';
import { addHeaders, ANSWER_PREREAD, errorReply, hasHeader, jsonReply, toResponse, type Reply } from '../protocol/reply.js';
import { eventEmitter, safeLogger, safeResponseHook, type PendingEvent, type ResponseInfo } from '../operations/events.js';
import { countRequest, DEFAULT_GUARD_RATE_LIMIT, type RateLimit } from '../operations/rate-limit.js';
import { KeyManager } from './keys.js';
import { authorizationServerMetadata, openIDConfiguration, protectedResourceMetadata, wellKnownURL } from '../protocol/metadata.js';
import { ResourceServerGuard } from '../resource-server/guard.js';
import { RevocationList } from '../store/revocation-list.js';
import type { ClientRecord, GrantRecord, InteractionRecord, TokenEndpointAuthMethod } from '../store/store.js';
import { guardStore, StoreUnavailableError } from '../store/store-errors.js';
import { hasLoginStore } from '../store/store.js';

/** A grant as {@link AuthorizationServer.listGrants} shows it: no claims, no upstream tokens. */
export type GrantSummary = Omit<GrantRecord, 'subject' | 'claims' | 'upstreamTokens'>;

/** What an adapter knows about a request that a Web `Request` cannot carry. */
export interface RequestContext {
  /** The client's network address (rate limits per source); adapters pass the socket or proxy address. */
  clientAddress?: string | undefined;
  /**
   * The scheme the client used, as the socket or a trusted proxy reports it. With `enforceHTTPS`, a
   * request that came over plain http is refused.
   */
  protocol?: 'http' | 'https' | undefined;
}

/**
 * Options of {@link AuthorizationServer.createGuard}.
 *
 * @example
 * ```ts
 * const guard = server.createGuard({ scopes: ['mcp:tools'], rateLimit: { windowMs: 60_000, max: 1200 } });
 * ```
 * @see [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 */
export interface CreateGuardOptions {
  /** The resource to protect; default the server's first resource. */
  resource?: string;
  /** Scopes every request must carry. */
  scopes?: string[];
  /**
   * Requests per source address and window, counted in the server's Store; default 600 a minute.
   * `false` turns the limit off. Needs the client address, which the adapters' guards pass.
   */
  rateLimit?: RateLimit | false;
  /** Called once per response the guard answers itself (401, 403, 429), with endpoint `mcp`. */
  onResponse?: (info: ResponseInfo) => void;
  /**
   * How many verified tokens the guard remembers (default 10,000; 0 turns that off), each from its second
   * request on. Expiry and revocation are still checked on every request.
   */
  tokenCacheSize?: number;
}

const HTML_ENDPOINTS = new Set(['authorize', 'login', 'consent']);

/** A 429: an HTML page where a person is looking (authorization and sign-in), the RFC JSON shape elsewhere. */
function tooManyRequests(endpoint: string, headers: Record<string, string>): Response | Reply {
  const message = 'Too many requests from this address; retry after the time given in Retry-After.';
  if (HTML_ENDPOINTS.has(endpoint)) {
    return htmlResponse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too many requests</title></head><body><main><h1>Too many requests</h1><p>${escapeHTML(message)}</p></main></body></html>`, 429, headers);
  }
  // Registration answered invalid_request for its limit before the general limits existed; it still does.
  return errorReply(new OAuthError(endpoint === 'register' ? 'invalid_request' : 'slow_down', { description: 'too many requests from this address; retry later', status: 429, headers }));
}

/** A route's handler gets the request-scoped view of the server context (its `clientAddress`) and the request. */
type Route = { handler: (ctx: ServerContext, request: Request, context: RequestContext) => Promise<Response | Reply>; cors: boolean };

/**
 * A response the server can give without looking at the request beyond its method and path: the status,
 * the header fields (lower-case names, exactly those `fetch` would send) and the body bytes. The same
 * frozen object answers every request: copy the headers before handing them to anything that adds to them.
 *
 * @example
 * ```ts
 * const answer = server.staticResponse('GET', '/.well-known/oauth-authorization-server');
 * if (answer) return new Response(answer.body, { status: answer.status, headers: { ...answer.headers } });
 * ```
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export interface StaticResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

const encoder = new TextEncoder();

/** Header fields sorted by name, as the Headers of the `fetch` answer iterate them, so adapters write the same fields. */
function sortedHeaders(headers: Record<string, string>): Readonly<Record<string, string>> {
  return Object.freeze(Object.fromEntries(Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/**
 * The bytes and headers of a public JSON document plus CORS and the security headers, fixed at construction.
 * Any origin may read it; no field worth exposing comes with it (its content type and caching are CORS-safelisted),
 * so it carries no expose-headers list.
 */
function staticDocument(json: string, cache: string, security: Readonly<Record<string, string>>): StaticResponse {
  const headers = sortedHeaders({ 'content-type': 'application/json', 'cache-control': cache, 'access-control-allow-origin': CORS_HEADERS['access-control-allow-origin']!, ...security });
  return Object.freeze({ status: 200, headers, body: encoder.encode(json) });
}
const DOCUMENT_CACHE = 'public, max-age=3600';
const JWKS_CACHE = 'public, max-age=300';

/**
 * A complete OAuth 2.1 authorization server as one `fetch(Request): Promise<Response>` function: the
 * authorization, token, JWKS and userinfo endpoints, RFC 8414 / OIDC discovery and RFC 9728
 * protected-resource metadata. Mount it with an adapter (`@keyward/express`, …) or call `fetch` directly
 * on Web runtimes.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { MemoryStore } from '@keyward/core/memory';
 *
 * const server = new AuthorizationServer({
 *   issuer: 'http://localhost:3009',
 *   store: new MemoryStore(),
 *   scopes: ['mcp:tools', 'openid'],
 *   devLogin: { subject: 'demo' },
 * });
 * const response = await server.fetch(new Request('http://localhost:3009/.well-known/oauth-authorization-server'));
 * ```
 * @see [OAuth 2.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1)
 * @see [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414)
 * @see [RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)
 */
export class AuthorizationServer {
  /** The configuration resolved from the options, deeply frozen. */
  readonly #config: ResolvedConfig;
  readonly #ctx: ServerContext;
  /** Whether the one-time "no client address" warning has been given. */
  #warnedNoAddress = false;
  readonly #routes = new Map<string, Route>();
  readonly #options: AuthorizationServerOptions;
  readonly #staticClients = new Map<string, ClientRecord>();
  readonly #staticAuthMethods = new Map<string, readonly TokenEndpointAuthMethod[]>();
  readonly #trustedClients = new Set<string>();
  readonly #introspectionAccess = new Map<string, 'all' | ReadonlySet<string>>();
  readonly #guards = new Map<string, ResourceServerGuard>();
  readonly #internalGuard: ResourceServerGuard;
  readonly #authorizationPath: string;
  #registrationPrefix: string | undefined;
  readonly #documents: ClientIdMetadataDocumentResolver | undefined;
  readonly #registration: ResolvedRegistration | false;
  #pendingSecrets: Promise<void> = Promise.resolve();
  readonly #securityHeaders: Readonly<Record<string, string>>;
  readonly #preflight: StaticResponse;
  readonly #onResponse: ((info: ResponseInfo) => void) | undefined;
  readonly #limits = new Map<string, RateLimit>();
  readonly #endpointNames = new Map<string, string>();
  // The endpoint of each request in flight, kept only when events are observed (they name it).
  readonly #requestEndpoints = new WeakMap<Request, string>();
  readonly #refusePlainHTTP: boolean;
  /** The metadata documents by path, serialised once: they never change while the server runs. */
  readonly #staticDocuments = new Map<string, StaticResponse>();
  #jwksPath = '';
  #jwks: { json: string; response: StaticResponse } | undefined;

  constructor(options: AuthorizationServerOptions) {
    const config = resolveConfig(options);
    this.#config = config;
    this.#options = options;
    const store = guardStore(options.store);
    const clock = options.clock ?? systemClock;

    // The runtime records of the configured clients: copies, since their secret hashes arrive later.
    for (const client of config.staticClients) {
      const clientId = client.record.clientId;
      this.#staticClients.set(clientId, structuredClone(client.record) as ClientRecord);
      this.#staticAuthMethods.set(clientId, client.authMethods);
      if (client.trusted) this.#trustedClients.add(clientId);
      if (client.introspection) this.#introspectionAccess.set(clientId, client.introspection === 'all' ? 'all' : new Set(client.introspection));
    }
    const secretHashes: Promise<void>[] = [];
    for (const client of options.clients ?? []) {
      const record = this.#staticClients.get(client.clientId)!;
      if (client.clientSecret) secretHashes.push(sha256(client.clientSecret).then((hash) => void (record.clientSecretHash = hash)));
    }

    const keys = new KeyManager({
      store,
      clock,
      algorithms: config.keys.algorithms,
      hmacSecret: options.signing?.hmacSecret,
      retiredKeyOverlapSeconds: config.keys.retiredKeyOverlapSeconds,
      rotateAfterSeconds: config.keys.rotateAfterSeconds,
      keyEncryption: options.signing?.keyEncryption,
    });
    const registration = config.registration;
    const allowedScopes = registration && registration.allowedScopes ? [...registration.allowedScopes] : undefined;
    const cimdOptions = options.clientIdMetadataDocuments || {};
    // One fetcher for every outbound request (documents and jwks_uri key sets); the documents' own `fetch`
    // is the older spelling of the same thing.
    const outboundFetch = options.fetch ?? cimdOptions.fetch ?? defaultOutboundFetch(cimdOptions);
    if (config.clientIdMetadataDocuments) {
      this.#documents = new ClientIdMetadataDocumentResolver({
        ...cimdOptions,
        scopesSupported: config.scopesSupported,
        allowedScopes,
        allowedSchemes: config.redirectUriSchemes,
        clock,
        fetch: outboundFetch,
      });
    }
    this.#registration = registration && {
      rateLimit: registration.rateLimit,
      policy: options.registration ? options.registration.policy : undefined,
      initialAccessTokenHashes: [],
      requireInitialAccessToken: registration.requireInitialAccessToken,
      clientSecretLifetime: registration.clientSecretLifetime,
      unusedClientLifetime: registration.unusedClientLifetime,
      allowedSchemes: [...config.redirectUriSchemes],
      allowedScopes,
    };
    if (this.#registration && options.registration && options.registration.initialAccessTokens) {
      const hashes = this.#registration.initialAccessTokenHashes;
      for (const token of options.registration.initialAccessTokens) secretHashes.push(sha256(token).then((hash) => void hashes.push(hash)));
    }
    this.#pendingSecrets = Promise.all(secretHashes).then(() => undefined);

    // What the login flow and the endpoint handlers share, made before either of them.
    const getClient = async (clientId: string): Promise<ClientRecord | null> => {
      const configured = this.#staticClients.get(clientId);
      if (configured) {
        await this.#pendingSecrets;
        return configured;
      }
      if (this.#documents && isClientIdMetadataDocumentURL(clientId)) return this.#documents.resolve(clientId);
      return store.getClient(clientId);
    };
    const grantableScopes: ServerContext['grantableScopes'] = async ({ client, subject, claims, scopes, resources, stage }) => {
      const policy = options.grantableScopes;
      if (!policy || !scopes.length) return [...scopes];
      const record = typeof client === 'string' ? await getClient(client) : client;
      if (!record) return [];
      // Copies, so a hook that edits its input cannot change what the server goes on to check.
      const allowed = await policy({ subject, claims: { ...claims }, client: structuredClone(record), scopes: [...scopes], resources: [...resources], stage });
      if (!Array.isArray(allowed)) throw new TypeError('grantableScopes must return an array of scopes');
      const grantable = new Set(allowed);
      return scopes.filter((scope) => grantable.has(scope));
    };
    const emit = options.onEvent && this.#emitter(eventEmitter(options.onEvent, clock));

    // The interaction handler is decided before the context exists: the built-in flow needs only the
    // narrow LoginHost, and finishes interactions through this server's own methods.
    // resolveConfig refused a store without the login group when the built-in login is on.
    const flow =
      config.builtInLogin && options.login && hasLoginStore(store)
        ? new LoginFlow({ issuer: config.issuer, store, clock, getClient, grantableScopes, emit }, options.login, {
            complete: (id, result, method) => this.completeInteraction(id, result, method),
            deny: (id, error, method) => this.denyInteraction(id, { ...error, method }),
            isConfiguredClient: (clientId) => this.#staticClients.has(clientId),
            isTrustedClient: (clientId) => this.#trustedClients.has(clientId),
          }, config.base, store)
        : undefined;

    const resources = new Map<string, ResolvedResource>();
    for (const { resource, scopes, resourceName, metadataUrl } of config.resources) resources.set(resource, { resource, scopes: [...scopes], resourceName, metadataUrl });
    this.#ctx = {
      issuer: config.issuer,
      store,
      keys,
      clock,
      revocations: new RevocationList({ store, clock }),
      accessTokenAlgorithm: config.accessTokenAlgorithm,
      scopesSupported: [...config.scopesSupported],
      defaultScopes: [...config.defaultScopes],
      resources,
      defaultResource: config.defaultResource,
      ttl: { ...config.ttl },
      refreshReuseGraceMs: config.refreshReuseGraceMs,
      endpoints: { ...config.endpoints },
      outboundFetch,
      interaction: flow ? flow.interaction : options.interaction && ((pending, request) => options.interaction!(pending, webRequest(request))),
      silentInteraction: flow ? flow.silent : undefined,
      devLogin: options.devLogin,
      getClient,
      touchClient: async (client) => {
        const lifetime = this.#registration ? this.#registration.unusedClientLifetime * 1000 : 0;
        const now = clock();
        // Writing on every token request would be wasteful; renew once half the lifetime has passed.
        if (!lifetime || client.expiresAt === null || client.expiresAt - now > lifetime / 2) return;
        await store.saveClient({ ...client, expiresAt: now + lifetime });
      },
      allowsAuthMethod: (client, method) =>
        (this.#staticAuthMethods.get(client.clientId) ?? [client.tokenEndpointAuthMethod]).includes(method),
      grantableScopes,
      introspectionAccess: (clientId) => this.#introspectionAccess.get(clientId),
      approve: (interaction, result, method) => approveInteraction(this.#ctx, interaction, result, method),
      onError: (error, request) => this.#onError(error, request),
      emit,
      log: options.logger && safeLogger(options.logger),
    };
    this.#securityHeaders = config.securityHeaders;
    this.#preflight = Object.freeze({ status: 204, headers: sortedHeaders({ ...CORS_HEADERS, ...this.#securityHeaders }), body: null });
    this.#onResponse = options.onResponse && safeResponseHook(options.onResponse);
    this.#refusePlainHTTP = config.refusePlainHTTP;
    for (const [name, limit] of Object.entries(config.rateLimits)) this.#limits.set(name, limit);
    this.#internalGuard = this.#makeGuard(this.#ctx.defaultResource, [], true);
    this.#authorizationPath = new URL(this.#ctx.endpoints.authorization).pathname;
    this.#buildRoutes();
    for (const [path, handler] of flow?.routes() ?? []) {
      this.#routes.set(path, { cors: false, handler: (_ctx, request, context) => handler(request, context.clientAddress) });
    }
    this.#nameEndpoints(config.base);
  }

  /** Stable endpoint names for metrics, logs and rate limits; never the raw path, which clients choose. */
  #nameEndpoints(base: string): void {
    const pathOf = (url: string) => new URL(url).pathname;
    const { endpoints } = this.#ctx;
    const named: [string, string][] = [
      [endpoints.authorization, 'authorize'],
      [endpoints.token, 'token'],
      [endpoints.jwks, 'jwks'],
      [endpoints.userinfo, 'userinfo'],
      [endpoints.registration, 'register'],
      [endpoints.revocation, 'revoke'],
      [endpoints.introspection, 'introspect'],
      [`${base}/oauth/consent`, 'consent'],
    ];
    const byPath = new Map(named.map(([url, name]) => [pathOf(url), name]));
    const loginPrefix = pathOf(`${base}/oauth/`);
    for (const path of this.#routes.keys()) {
      this.#endpointNames.set(path, byPath.get(path) ?? (path.startsWith(loginPrefix) && !path.includes('/.well-known/') ? 'login' : 'metadata'));
    }
  }

  #endpointName(pathname: string, route: Route | undefined): string {
    // Paths outside the route table that still have a route are the RFC 7592 client configuration URLs.
    return this.#endpointNames.get(pathname) ?? (route ? 'register' : 'not_found');
  }

  /** Adds the request's source address and endpoint to an event that does not name them. */
  #emitter(emit: (event: PendingEvent) => void): (event: PendingEvent, request?: Request) => void {
    return (event, request) => {
      if (!request) return emit(event);
      const sourceAddress = event.sourceAddress;
      let endpoint = event.endpoint ?? this.#requestEndpoints.get(request);
      if (endpoint === undefined) {
        const pathname = new URL(request.url).pathname;
        endpoint = this.#endpointName(pathname, this.#route(pathname));
      }
      emit({ ...event, sourceAddress, endpoint });
    };
  }

  #onError(error: unknown, request: Request, sourceAddress?: string): void {
    if (error instanceof StoreUnavailableError) {
      this.#ctx.emit?.({ type: 'store.unavailable', operation: error.operation, sourceAddress }, request);
      this.#ctx.log?.('oauth:store', 'store call failed', { operation: error.operation });
    }
    this.#options.onError?.(error, webRequest(request));
  }

  #buildRoutes(): void {
    const ctx = this.#ctx;
    const pathOf = (url: string) => new URL(url).pathname;
    const add = (path: string, cors: boolean, handler: Route['handler']) => this.#routes.set(path, { handler, cors });
    const cached = (json: string) => {
      const document = staticDocument(json, DOCUMENT_CACHE, this.#securityHeaders);
      return Object.assign(
        async (_ctx: ServerContext, request: Request) =>
          request.method === 'GET' || request.method === 'HEAD'
            ? rawJSONResponse(json, { cache: DOCUMENT_CACHE })
            : new Response(null, { status: 405, headers: { allow: 'GET' } }),
        { document },
      );
    };
    const addDocument = (path: string, handler: ReturnType<typeof cached>) => {
      add(path, true, handler);
      this.#staticDocuments.set(path, handler.document);
    };

    const asMetadata = authorizationServerMetadata({
      issuer: ctx.issuer,
      authorizationEndpoint: ctx.endpoints.authorization,
      tokenEndpoint: ctx.endpoints.token,
      jwksUri: ctx.endpoints.jwks,
      userinfoEndpoint: ctx.scopesSupported.includes('openid') ? ctx.endpoints.userinfo : undefined,
      registrationEndpoint: this.#registration ? ctx.endpoints.registration : undefined,
      revocationEndpoint: this.#config.revocation ? ctx.endpoints.revocation : undefined,
      introspectionEndpoint: this.#config.introspection ? ctx.endpoints.introspection : undefined,
      scopesSupported: ctx.scopesSupported,
      grantTypesSupported: ['authorization_code', 'refresh_token', 'client_credentials'],
      tokenEndpointAuthMethodsSupported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      clientIdMetadataDocumentSupported: this.#documents !== undefined,
    });
    // Metadata is serialised once: it never changes while the server runs.
    const asJSON = JSON.stringify(asMetadata);
    addDocument(pathOf(wellKnownURL(ctx.issuer, 'oauth-authorization-server')), cached(asJSON));
    if (ctx.scopesSupported.includes('openid')) {
      const oidcJSON = JSON.stringify(openIDConfiguration(asMetadata, [ctx.accessTokenAlgorithm]));
      const issuerPath = new URL(ctx.issuer).pathname.replace(/\/$/, '');
      const oidc = cached(oidcJSON);
      addDocument(`${issuerPath}/.well-known/openid-configuration`, oidc);
      // An underscore spelling some clients and guides use, kept as an alias.
      addDocument(`${issuerPath}/.well-known/openid_configuration`, oidc);
      // Path-inserted form, which MCP clients also try for issuers with a path.
      addDocument(pathOf(wellKnownURL(ctx.issuer, 'openid-configuration')), oidc);
    }
    let first = true;
    for (const resource of ctx.resources.values()) {
      const json = JSON.stringify(
        protectedResourceMetadata({
          resource: resource.resource,
          authorizationServers: [ctx.issuer],
          scopesSupported: resource.scopes,
          resourceName: resource.resourceName,
        }),
      );
      // resolveConfig refused resources whose metadata paths would shadow each other or a discovery document.
      const metadataPath = pathOf(resource.metadataUrl);
      const document = cached(json);
      addDocument(metadataPath, document);
      // RFC 9728 §3: the root document describes the default resource, for clients that try it first.
      if (first && !this.#routes.has('/.well-known/oauth-protected-resource')) addDocument('/.well-known/oauth-protected-resource', document);
      first = false;
    }
    add(pathOf(ctx.endpoints.authorization), false, (scoped, request) => handleAuthorize(scoped, request));
    add(pathOf(ctx.endpoints.token), true, (scoped, request) => handleToken(scoped, request));
    if (ctx.scopesSupported.includes('openid')) {
      add(pathOf(ctx.endpoints.userinfo), true, (scoped, request) => handleUserinfo(scoped, request, this.#internalGuard));
    }
    const registration = this.#registration;
    if (registration) {
      this.#registrationPrefix = `${pathOf(ctx.endpoints.registration)}/`;
      add(pathOf(ctx.endpoints.registration), true, (scoped, request) => handleRegister(scoped, registration, request));
    }
    if (this.#config.revocation) add(pathOf(ctx.endpoints.revocation), true, (scoped, request) => handleRevoke(scoped, request));
    const introspection = this.#config.introspection;
    if (introspection) add(pathOf(ctx.endpoints.introspection), true, (scoped, request) => handleIntrospect(scoped, introspection, request));
    this.#jwksPath = pathOf(ctx.endpoints.jwks);
    add(this.#jwksPath, true, async (_ctx, request) =>
      request.method === 'GET' || request.method === 'HEAD'
        ? rawJSONResponse(await ctx.keys.jwksJSON(), { cache: JWKS_CACHE })
        : new Response(null, { status: 405, headers: { allow: 'GET' } }),
    );
  }

  /**
   * The answer to a request that depends on nothing but its method and path, when there is one: GET or
   * HEAD of the authorization-server metadata, OpenID discovery, protected-resource metadata and (once the
   * keys are loaded) the JWK Set, and CORS preflights of this server's endpoints. Headers and bytes are
   * exactly what {@link fetch} would answer, precomputed, so an adapter can write them without building a
   * Web `Request`; `undefined` means "call `fetch`".
   *
   * Pass the connection's `context` (its `protocol` at least): with `enforceHTTPS`, a request over plain
   * http gets `undefined`, so that `fetch` refuses it as it refuses every other plain-http request.
   * An answer returned here counts as served: it is reported to `onResponse` (with its endpoint name and a
   * duration of 0, the answer being ready-made), so call it only when about to send what it returns, and
   * do not report that response again. `fetch` relies on this for the answers it takes from here.
   *
   * @example
   * ```ts
   * const answer = server.staticResponse(req.method, pathname, { protocol: req.protocol === 'https' ? 'https' : 'http' });
   * if (answer) return void res.writeHead(answer.status, answer.headers).end(answer.body);
   * ```
   * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
   * @see [RFC 9728 §3](https://www.rfc-editor.org/rfc/rfc9728#section-3)
   */
  staticResponse(method: string, pathname: string, context?: RequestContext): StaticResponse | undefined {
    // The refusal of plain http lives in fetch alone; a precomputed answer must not slip past it.
    if (this.#refusePlainHTTP && context?.protocol === 'http') return undefined;
    const answer = this.#precomputed(method, pathname);
    if (answer && this.#onResponse) {
      this.#onResponse({ endpoint: this.#endpointName(pathname, this.#route(pathname)), method, status: answer.status, durationMs: 0 });
    }
    return answer;
  }

  #precomputed(method: string, pathname: string): StaticResponse | undefined {
    if (method === 'OPTIONS') return pathname !== this.#authorizationPath && this.#route(pathname) ? this.#preflight : undefined;
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const document = this.#staticDocuments.get(pathname);
    if (document || pathname !== this.#jwksPath) return document;
    // The JWK Set changes with rotation; its bytes are rebuilt when the key manager's string changes.
    const json = this.#ctx.keys.currentJWKSJSON();
    if (json === undefined) return undefined;
    if (this.#jwks?.json !== json) this.#jwks = { json, response: staticDocument(json, JWKS_CACHE, this.#securityHeaders) };
    return this.#jwks.response;
  }

  /** The issuer identifier, exactly as configured. */
  get issuer(): string {
    return this.#ctx.issuer;
  }

  /** Absolute URLs of the endpoints. */
  get endpoints(): Readonly<EndpointURLs> {
    return this.#ctx.endpoints;
  }

  /** The pathnames this server answers, for adapters that mount it beside other routes. */
  get paths(): string[] {
    return [...this.#routes.keys()];
  }

  /** True when `pathname` is one of this server's endpoints. */
  handles(pathname: string): boolean {
    return this.#route(pathname) !== undefined;
  }

  #route(pathname: string): Route | undefined {
    const route = this.#routes.get(pathname);
    if (route || !this.#registrationPrefix || !pathname.startsWith(this.#registrationPrefix)) return route;
    const registration = this.#registration as ResolvedRegistration;
    let clientId: string;
    try {
      clientId = decodeURIComponent(pathname.slice(this.#registrationPrefix.length));
    } catch {
      return undefined;
    }
    return clientId && !clientId.includes('/')
      ? { cors: true, handler: (scoped, request) => handleClientConfiguration(scoped, registration, request, clientId) }
      : undefined;
  }

  /** Loads or creates the signing keys now instead of at the first request. */
  async ready(): Promise<void> {
    await this.#ctx.keys.ready();
  }

  /**
   * Answers one HTTP request. Never throws: protocol errors become RFC-shaped responses, anything else a
   * generic `server_error` that goes to `onError`.
   */
  async fetch(request: Request, context: RequestContext = {}): Promise<Response> {
    const pathname = new URL(request.url).pathname;
    // Already reported to onResponse by staticResponse, so it returns before the report below.
    const answer = this.staticResponse(request.method, pathname, context);
    // A copy of the headers: some runtimes' Response (@hono/node-server's) keeps and extends the object it is given.
    if (answer) return new Response(answer.body, { status: answer.status, headers: { ...answer.headers } });
    return toResponse(await this.#respond(request, context, pathname));
  }

  /**
   * For the Node glue of `@keyward/core/node`: answers a request whose body the adapter already read
   * (`body`, `size` bytes; null for none) and gives the API endpoints' answers as plain values, so neither
   * a Web body stream nor a Web `Response` is made for them. Static answers are not looked up: the glue
   * asks {@link staticResponse} first.
   *
   * @internal
   */
  async [ANSWER_PREREAD](request: Request, context: RequestContext, pathname: string, body: string | null, size: number): Promise<Response | Reply> {
    return this.#respond(body === null ? request : attachPrereadBody(request, body, size), context, pathname);
  }

  async #respond(request: Request, context: RequestContext, pathname: string): Promise<Response | Reply> {
    const started = this.#onResponse ? performance.now() : 0;
    const route = this.#route(pathname);
    const endpoint = this.#endpointName(pathname, route);
    const answer = addHeaders(await this.#answer(request, context, pathname, route, endpoint), this.#securityHeaders);
    this.#ctx.log?.(endpoint === 'consent' ? 'oauth:login' : `oauth:${endpoint}`, `${request.method} ${pathname} ${answer.status}`, { sourceAddress: context.clientAddress, status: answer.status });
    this.#onResponse?.({ endpoint, method: request.method, status: answer.status, durationMs: performance.now() - started });
    return answer;
  }

  async #answer(request: Request, context: RequestContext, pathname: string, route: Route | undefined, endpoint: string): Promise<Response | Reply> {
    if (this.#ctx.emit) this.#requestEndpoints.set(request, endpoint);
    if (request.method === 'OPTIONS') {
      // CORS preflights are answered for every path but the authorization endpoint (a top-level navigation).
      if (pathname === this.#authorizationPath) return { status: 204, headers: { allow: 'GET, POST' }, body: null };
      return { status: 204, headers: { ...CORS_HEADERS }, body: null };
    }
    if (!route) return jsonReply({ error: 'not_found' }, { status: 404 });
    if (this.#refusePlainHTTP && context.protocol === 'http') {
      return errorReply(new OAuthError('invalid_request', { description: 'this server accepts requests over https only' }));
    }
    let response: Response | Reply;
    let limitHeaders: Record<string, string> | undefined;
    try {
      const limit = context.clientAddress === undefined ? undefined : this.#limits.get(endpoint);
      const decision = limit && (await this.#count(`ratelimit:${endpoint === 'consent' ? 'login' : endpoint}:${context.clientAddress}`, limit));
      limitHeaders = decision ? decision.headers : undefined;
      if (decision && !decision.allowed) {
        this.#ctx.emit?.({ type: 'rate_limited', limit: limit!.max, windowMs: limit!.windowMs, endpoint, sourceAddress: context.clientAddress }, request);
        response = tooManyRequests(endpoint, decision.headers);
      } else {
        response = await route.handler(this.#scoped(context, request), request, context);
      }
    } catch (error) {
      if (isOAuthError(error)) {
        // A client-supplied URL that could not be fetched: the caller's error says only that, and the
        // network detail goes to the application's log.
        const fetchFailure = outboundFetchFailure(error);
        if (fetchFailure) this.#options.onError?.(fetchFailure, webRequest(request));
        this.#ctx.log?.(endpoint === 'consent' ? 'oauth:login' : `oauth:${endpoint}`, 'refused', { error: error.code, description: error.description, status: error.status });
        response = errorReply(error);
      } else if (error instanceof StoreUnavailableError) {
        this.#onError(error, request, context.clientAddress);
        response = errorReply(
          new OAuthError('temporarily_unavailable', {
            description: 'the authorization server cannot reach its database; retry shortly',
            headers: { 'retry-after': '5' },
          }),
        );
      } else {
        // A bug (a store's TypeError included), not an outage: reported once, by its name only in the log,
        // since a message may quote the data it failed on.
        this.#options.onError?.(error, webRequest(request));
        this.#ctx.log?.('oauth:server', 'request failed', { error: error instanceof Error ? error.name : typeof error });
        response = errorReply(new OAuthError('server_error', { description: 'the server could not complete the request' }));
      }
    }
    // A stricter limit inside the handler (registration's own) reports itself instead.
    if (limitHeaders && !hasHeader(response, 'ratelimit')) addHeaders(response, limitHeaders);
    return route.cors ? addHeaders(response, CORS_RESPONSE_HEADERS) : response;
  }

  /**
   * The server context as one request's handlers see it: the client address of its `RequestContext`, and
   * events that name that address. The only way the address reaches a handler.
   */
  #scoped(context: RequestContext, request: Request): ServerContext {
    const base = this.#ctx;
    const address = context.clientAddress;
    if (address === undefined) {
      this.#warnNoAddress(request);
      return base;
    }
    const scoped: ServerContext = Object.create(base);
    scoped.clientAddress = address;
    if (base.emit) scoped.emit = (event, from) => base.emit!(event.sourceAddress === undefined ? { ...event, sourceAddress: address } : event, from);
    scoped.onError = (error, from) => this.#onError(error, from, address);
    return scoped;
  }

  /**
   * Says once per server, as an event and in the log, that a request came without a client address: the
   * per-address limits (request rate, failed client secrets, sign-in attempts, registrations) are then not
   * applied to such requests, rather than all of them sharing one bucket that any one caller could fill.
   */
  #warnNoAddress(request: Request): void {
    if (this.#warnedNoAddress) return;
    this.#warnedNoAddress = true;
    this.#ctx.emit?.({ type: 'client_address.missing' }, request);
    this.#ctx.log?.('oauth:config', 'a request came without a client address: per-address limits are not applied to such requests; pass RequestContext.clientAddress (the adapters do)', {});
  }

  /**
   * Counts a request against its limit. A Store that cannot count lets the request through: the limiter
   * must not turn an outage into refusals of requests that need no Store (the handler answers 503 itself
   * where it does need it).
   */
  async #count(key: string, limit: RateLimit): Promise<Awaited<ReturnType<typeof countRequest>> | undefined> {
    try {
      return await countRequest(this.#ctx.store, this.#ctx.clock, key, limit);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      // Not an event: a request that needs the Store reports the outage from its handler.
      this.#ctx.log?.('oauth:store', 'rate limit not counted: store call failed', { operation: error.operation });
      return undefined;
    }
  }

  /**
   * Whether the Store answers, for a readiness probe (`/ready`): a load balancer should stop sending
   * requests to an instance whose database is unreachable. Never throws.
   *
   * @example
   * ```ts
   * app.get('/ready', async (req, res) => res.status((await server.checkReady()) ? 200 : 503).end());
   * ```
   * @see [Kubernetes readiness probes](https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/)
   */
  async checkReady(): Promise<boolean> {
    try {
      await this.#ctx.store.getCounter('keyward:ready');
      return true;
    } catch (error) {
      this.#ctx.emit?.({ type: 'store.unavailable', operation: error instanceof StoreUnavailableError ? error.operation : undefined, endpoint: 'ready' });
      return false;
    }
  }

  /**
   * Test helper in the style of Hono's `app.request`: `path` is resolved against the issuer.
   *
   * @example
   * ```ts
   * const res = await server.request('/.well-known/oauth-authorization-server');
   * ```
   */
  request(path: string, init?: RequestInit, context?: RequestContext): Promise<Response> {
    return this.fetch(new Request(new URL(path, this.#ctx.issuer), init), context);
  }

  /**
   * Finishes a pending authorization after login and consent: issues the code and answers the redirect to
   * the client (303 after a POST). An unknown, expired or already finished interaction gets an error page.
   *
   * @example
   * ```ts
   * app.post('/login', async (req, res) => send(res, await server.completeInteraction(req.body.interaction, { subject: user.id })));
   * ```
   * @see [OAuth 2.1 §4.1.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.2)
   */
  async completeInteraction(interactionId: string, result: InteractionResult, method = 'POST'): Promise<Response> {
    const interaction = await this.#ctx.store.consumeInteraction(interactionId);
    if (!interaction || interaction.expiresAt <= this.#ctx.clock()) return interactionErrorPage('this sign-in request has expired or was already used');
    return approveInteraction(this.#ctx, interaction, result, method);
  }

  /**
   * Ends a pending authorization with an error redirect: `access_denied` (the user pressed "Deny") unless
   * another code is given (`login_required`, `consent_required`, `interaction_required` for `prompt=none`).
   *
   * @example
   * ```ts
   * return server.denyInteraction(interactionId); // → redirect_uri?error=access_denied&state=…&iss=…
   * ```
   * @see [OAuth 2.1 §4.1.2.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.2.1)
   * @see [OIDC Core §3.1.2.6](https://openid.net/specs/openid-connect-core-1_0.html#AuthError)
   */
  async denyInteraction(
    interactionId: string,
    options: { error?: 'access_denied' | 'login_required' | 'consent_required' | 'interaction_required'; description?: string; method?: string } = {},
  ): Promise<Response> {
    const interaction = await this.#ctx.store.consumeInteraction(interactionId);
    if (!interaction || interaction.expiresAt <= this.#ctx.clock()) return interactionErrorPage('this sign-in request has expired or was already used');
    const method = options.method ?? 'POST';
    if ((options.error ?? 'access_denied') === 'access_denied') this.#ctx.emit?.({ type: 'consent.denied', clientId: interaction.clientId, endpoint: 'consent' });
    const denied = new OAuthError(options.error ?? 'access_denied', { description: options.description ?? 'the user denied the request' });
    return redirectError(this.#ctx, targetFromInteraction(interaction), denied, method);
  }

  /** Reads a pending interaction (for rendering a consent page), or null when unknown or expired. */
  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const interaction = await this.#ctx.store.getInteraction(interactionId);
    return interaction && interaction.expiresAt > this.#ctx.clock() ? interaction : null;
  }

  /**
   * What a user has connected: their unexpired grants (client, scopes, resources, times), newest first,
   * for a "connected apps" page or an administrator. Claims and upstream tokens are left out.
   *
   * @example
   * ```ts
   * for (const grant of await server.listGrants(user.id)) if (!grant.revokedAt) console.log(grant.clientId, grant.scopes);
   * ```
   * @see [OAuth 2.1 §7.9](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-7.9)
   */
  async listGrants(subject: string): Promise<GrantSummary[]> {
    const grants = await this.#ctx.store.listGrants(subject);
    return grants.map(({ grantId, clientId, scopes, resources, authTime, createdAt, expiresAt, revokedAt }) => ({
      grantId,
      clientId,
      scopes,
      resources,
      authTime,
      createdAt,
      expiresAt,
      revokedAt,
    }));
  }

  /** Revokes a grant: its refresh tokens stop working at once and its access tokens are refused by guards. */
  revokeGrant(grantId: string): Promise<void> {
    return revokeGrant(this.#ctx, grantId);
  }

  /** Rotates the access-token signing key; the old key stays published until its tokens have expired. */
  async rotateSigningKey(): Promise<string> {
    await this.#ctx.keys.ready();
    return this.#ctx.keys.rotate(this.#ctx.accessTokenAlgorithm === 'HS256' ? 'RS256' : this.#ctx.accessTokenAlgorithm);
  }

  #makeGuard(resource: string, scopes: string[], anyAudience = false, extra: Omit<CreateGuardOptions, 'resource' | 'scopes'> = {}): ResourceServerGuard {
    const ctx = this.#ctx;
    const known = ctx.resources.get(resource);
    return new ResourceServerGuard({
      issuer: ctx.issuer,
      resource,
      // The userinfo endpoint accepts this server's tokens for any of its resources.
      audiences: anyAudience ? [...ctx.resources.keys()] : undefined,
      resourceMetadataUrl: known?.metadataUrl ?? wellKnownURL(resource, 'oauth-protected-resource'),
      keys: async (header) => {
        const key = await ctx.keys.verificationKey(header.kid, header.alg);
        if (!key) throw new Error('unknown key');
        return key;
      },
      algorithms: [ctx.accessTokenAlgorithm],
      requiredScopes: scopes,
      revocations: ctx.revocations,
      clock: ctx.clock,
      ...(!anyAudience && {
        rateLimit: extra.rateLimit === false ? false : { ...(extra.rateLimit ?? DEFAULT_GUARD_RATE_LIMIT), store: ctx.store },
        onEvent: this.#options.onEvent,
        onResponse: extra.onResponse ?? this.#options.onResponse,
        logger: this.#options.logger,
      }),
      ...(extra.tokenCacheSize !== undefined && { tokenCacheSize: extra.tokenCacheSize }),
    });
  }

  /**
   * A resource-server guard for one of this server's resources that verifies tokens with the server's own
   * keys (no HTTP round trip) and sees its revocations at once. It remembers up to `tokenCacheSize`
   * verified tokens (default 10,000; 0 turns that off), still checking expiry and revocation on every request.
   *
   * @example
   * ```ts
   * const guard = server.createGuard({ scopes: ['mcp:tools'] });
   * const result = await guard.authenticate(request);
   * ```
   * @see [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
   */
  createGuard(options: CreateGuardOptions = {}): ResourceServerGuard {
    const resource = options.resource ?? this.#ctx.defaultResource;
    if (!this.#ctx.resources.has(resource)) throw new KeywardConfigError(`resource ${resource} is not configured on this server`);
    // A guard with its own response hook is its own; otherwise equal options share one guard.
    if (options.onResponse) return this.#makeGuard(resource, options.scopes ?? [], false, options);
    const key = `${resource} ${(options.scopes ?? []).join(' ')} ${JSON.stringify(options.rateLimit ?? null)} ${options.tokenCacheSize ?? ''}`;
    let guard = this.#guards.get(key);
    if (!guard) {
      guard = this.#makeGuard(resource, options.scopes ?? [], false, options);
      this.#guards.set(key, guard);
    }
    return guard;
  }
}
