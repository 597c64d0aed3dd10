import { epochSeconds, systemClock } from './clock.js';
import type { InteractionResult, ResolvedResource, ServerContext } from './context.js';
import { randomToken, sha256 } from './crypto.js';
import { isOAuthError, KeywardConfigError, OAuthError } from './errors.js';
import { handleAuthorize, interactionErrorPage, redirectError, redirectResponse, targetFromInteraction } from './handlers/authorize.js';
import { handleToken, revokeGrant } from './handlers/token.js';
import { handleIntrospect } from './handlers/introspect.js';
import { handleClientConfiguration, handleRegister, type ResolvedRegistration } from './handlers/register.js';
import { handleRevoke } from './handlers/revoke.js';
import { handleUserinfo } from './handlers/userinfo.js';
import { ClientIdMetadataDocumentResolver, isClientIdMetadataDocumentURL } from './client-id-metadata-document.js';
import { safeFetch } from './safe-fetch.js';
import { LoginFlow } from './login/flow.js';
import { DEFAULT_PATHS, staticAuthMethods, staticClient, validateOptions, type AuthorizationServerOptions, type EndpointURLs } from './options.js';
import { CORS_HEADERS, rawJSONResponse, withHeaders } from './http.js';
import { KeyManager } from './keys.js';
import { authorizationServerMetadata, openIDConfiguration, protectedResourceMetadata, wellKnownURL } from './metadata.js';
import { ResourceServerGuard } from './resource-server.js';
import { RevocationList } from './revocation-list.js';
import { checkResourceIndicator } from './resource.js';
import { isScopeSubset } from './scope.js';
import type { ClientRecord, GrantRecord, InteractionRecord, TokenEndpointAuthMethod } from './store.js';
import { guardStore, StoreUnavailableError } from './store-errors.js';

/** A grant as {@link AuthorizationServer.listGrants} shows it: no claims, no upstream tokens. */
export type GrantSummary = Omit<GrantRecord, 'subject' | 'claims' | 'upstreamTokens'>;

/** What an adapter knows about a request that a Web `Request` cannot carry. */
export interface RequestContext {
  /** The client's network address (rate limits per source); adapters pass the socket or proxy address. */
  clientAddress?: string;
}

type Route = { handler: (request: Request, context: RequestContext) => Promise<Response>; cors: boolean };

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

/** The bytes and headers of a public JSON document plus CORS, fixed at construction. */
function staticDocument(json: string, cache: string): StaticResponse {
  // Names and order as the Headers of the `fetch` answer iterate them (sorted), so adapters write the same fields.
  const headers = Object.fromEntries(
    Object.entries({ 'content-type': 'application/json', 'cache-control': cache, ...CORS_HEADERS }).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  return Object.freeze({ status: 200, headers: Object.freeze(headers), body: encoder.encode(json) });
}

const PREFLIGHT: StaticResponse = Object.freeze({ status: 204, headers: Object.freeze({ ...CORS_HEADERS }), body: null });
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
  readonly #ctx: ServerContext;
  // What the adapter said about each request in flight; weak, so finished requests leave nothing behind.
  readonly #addresses = new WeakMap<Request, string>();
  readonly #routes = new Map<string, Route>();
  readonly #options: AuthorizationServerOptions;
  readonly #staticClients = new Map<string, ClientRecord>();
  readonly #staticAuthMethods = new Map<string, TokenEndpointAuthMethod[]>();
  readonly #guards = new Map<string, ResourceServerGuard>();
  readonly #internalGuard: ResourceServerGuard;
  readonly #authorizationPath: string;
  #registrationPrefix: string | undefined;
  readonly #documents: ClientIdMetadataDocumentResolver | undefined;
  readonly #registration: ResolvedRegistration | false;
  #pendingSecrets: Promise<void> = Promise.resolve();
  /** The metadata documents by path, serialised once: they never change while the server runs. */
  readonly #staticDocuments = new Map<string, StaticResponse>();
  #jwksPath = '';
  #jwks: { json: string; response: StaticResponse } | undefined;

  constructor(options: AuthorizationServerOptions) {
    validateOptions(options);
    this.#options = options;
    const store = guardStore(options.store);
    const clock = options.clock ?? systemClock;
    const issuer = options.issuer;
    const base = issuer.replace(/\/$/, '');
    const paths = { ...DEFAULT_PATHS, ...options.paths };
    const scopesSupported = options.scopes ?? ['openid', 'profile', 'email', 'offline_access'];
    const defaultScopes = options.defaultScopes ?? [];
    if (!isScopeSubset(defaultScopes, scopesSupported)) throw new KeywardConfigError('defaultScopes must be a subset of scopes');

    const resources = new Map<string, ResolvedResource>();
    for (const entry of options.resources ?? [`${base}/mcp`]) {
      const resolved = typeof entry === 'string' ? { resource: entry } : entry;
      const problem = checkResourceIndicator(resolved.resource);
      if (problem) throw new KeywardConfigError(`resource ${resolved.resource}: ${problem}`);
      resources.set(resolved.resource, {
        resource: resolved.resource,
        // Advertise only what any client could be granted: an MCP client that authorizes before a challenge
        // asks for every advertised scope, and a self-registered one would be refused the rest.
        scopes:
          resolved.scopes ??
          scopesSupported.filter(
            (scope) => !['openid', 'profile', 'email', 'offline_access'].includes(scope) && (!options.registration || !options.registration.allowedScopes || options.registration.allowedScopes.includes(scope)),
          ),
        resourceName: resolved.resourceName,
        metadataUrl: wellKnownURL(resolved.resource, 'oauth-protected-resource'),
      });
    }

    const schemes = options.redirectUriSchemes ?? [];
    const secretHashes: Promise<void>[] = [];
    for (const client of options.clients ?? []) {
      if (this.#staticClients.has(client.clientId)) throw new KeywardConfigError(`client ${client.clientId} is configured twice`);
      const record = staticClient(client, schemes);
      this.#staticClients.set(client.clientId, record);
      this.#staticAuthMethods.set(client.clientId, staticAuthMethods(client));
      if (client.clientSecret) secretHashes.push(sha256(client.clientSecret).then((hash) => void (record.clientSecretHash = hash)));
    }

    const algorithm = options.signing?.algorithm ?? 'ES256';
    const ttl = {
      accessToken: options.ttl?.accessToken ?? 3600,
      refreshToken: options.ttl?.refreshToken ?? 30 * 24 * 3600,
      authorizationCode: options.ttl?.authorizationCode ?? 60,
      interaction: options.ttl?.interaction ?? 600,
    };
    const keys = new KeyManager({
      store,
      clock,
      // ID tokens always need RS256; a second asymmetric key only when it signs the access tokens.
      algorithms: algorithm === 'RS256' || options.signing?.hmacSecret ? ['RS256'] : [algorithm, 'RS256'],
      hmacSecret: options.signing?.hmacSecret,
      retiredKeyOverlapSeconds: ttl.accessToken + 300,
      rotateAfterSeconds: options.signing?.rotateAfterSeconds,
    });
    const endpoint = (path: string) => base + path;
    const cimdOptions = options.clientIdMetadataDocuments ?? {};
    if (cimdOptions) {
      this.#documents = new ClientIdMetadataDocumentResolver({
        ...cimdOptions,
        scopesSupported,
        allowedScopes: options.registration ? options.registration.allowedScopes : undefined,
        allowedSchemes: schemes,
        clock,
      });
    }
    const registration = options.registration ?? {};
    this.#registration = registration && {
      rateLimit: registration.rateLimit ?? { max: 20, windowSeconds: 60 },
      policy: registration.policy,
      initialAccessTokenHashes: [],
      requireInitialAccessToken: registration.requireInitialAccessToken ?? false,
      clientSecretLifetime: registration.clientSecretLifetime ?? 0,
      unusedClientLifetime: registration.unusedClientLifetime ?? 30 * 24 * 3600,
      allowedSchemes: schemes,
      allowedScopes: registration ? registration.allowedScopes : undefined,
    };
    if (registration && registration.initialAccessTokens) {
      const hashes = this.#registration ? this.#registration.initialAccessTokenHashes : [];
      for (const token of registration.initialAccessTokens) secretHashes.push(sha256(token).then((hash) => void hashes.push(hash)));
    }
    this.#ctx = {
      issuer,
      store,
      keys,
      clock,
      revocations: new RevocationList({ store, clock }),
      accessTokenAlgorithm: options.signing?.hmacSecret ? 'HS256' : algorithm,
      scopesSupported,
      defaultScopes,
      resources,
      defaultResource: resources.keys().next().value!,
      ttl,
      refreshReuseGraceMs: (options.refreshTokenReuseGraceSeconds ?? 2) * 1000,
      endpoints: {
        authorization: endpoint(paths.authorization),
        token: endpoint(paths.token),
        jwks: endpoint(paths.jwks),
        userinfo: endpoint(paths.userinfo),
        registration: endpoint(paths.registration),
        revocation: endpoint(paths.revocation),
        introspection: endpoint(paths.introspection),
      },
      safeFetch: (url) => safeFetch(url, cimdOptions || {}),
      interaction: options.interaction,
      devLogin: options.devLogin,
      getClient: async (clientId) => {
        const configured = this.#staticClients.get(clientId);
        if (configured) {
          await this.#pendingSecrets;
          return configured;
        }
        if (this.#documents && isClientIdMetadataDocumentURL(clientId)) return this.#documents.resolve(clientId);
        return store.getClient(clientId);
      },
      clientAddress: (request) => this.#addresses.get(request) ?? 'unknown',
      touchClient: async (client) => {
        const lifetime = this.#registration ? this.#registration.unusedClientLifetime * 1000 : 0;
        const now = clock();
        // Writing on every token request would be wasteful; renew once half the lifetime has passed.
        if (!lifetime || client.expiresAt === null || client.expiresAt - now > lifetime / 2) return;
        await store.saveClient({ ...client, expiresAt: now + lifetime });
      },
      allowsAuthMethod: (client, method) =>
        (this.#staticAuthMethods.get(client.clientId) ?? [client.tokenEndpointAuthMethod]).includes(method),
      approve: (interaction, result, method) => this.#approve(interaction, result, method),
      onError: options.onError,
    };
    this.#pendingSecrets = Promise.all(secretHashes).then(() => undefined);
    this.#internalGuard = this.#makeGuard(this.#ctx.defaultResource, [], true);
    this.#authorizationPath = new URL(this.#ctx.endpoints.authorization).pathname;
    this.#buildRoutes();
    if (options.login && !options.interaction && !options.devLogin) {
      const flow = new LoginFlow(this.#ctx, options.login, {
        complete: (id, result, method) => this.completeInteraction(id, result, method),
        deny: (id, error, method) => this.denyInteraction(id, { ...error, method }),
        isConfiguredClient: (clientId) => this.#staticClients.has(clientId),
      }, base);
      this.#ctx.interaction = flow.interaction;
      this.#ctx.silentInteraction = flow.silent;
      for (const [path, handler] of flow.routes()) {
        this.#routes.set(path, { cors: false, handler: (request, context) => handler(request, context.clientAddress ?? 'unknown') });
      }
    }
  }

  #buildRoutes(): void {
    const ctx = this.#ctx;
    const pathOf = (url: string) => new URL(url).pathname;
    const add = (path: string, cors: boolean, handler: Route['handler']) => this.#routes.set(path, { handler, cors });
    const cached = (json: string) => {
      const document = staticDocument(json, DOCUMENT_CACHE);
      return Object.assign(
        async (request: Request) =>
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
      revocationEndpoint: this.#options.revocation !== false ? ctx.endpoints.revocation : undefined,
      introspectionEndpoint: this.#options.introspection !== false ? ctx.endpoints.introspection : undefined,
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
      // The product brief's spelling, kept as an alias.
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
      const metadataPath = pathOf(resource.metadataUrl);
      // Routes are matched by path alone, so two resources whose metadata shares a path would shadow each other.
      if (this.#routes.has(metadataPath)) {
        throw new KeywardConfigError(`resources with the same metadata path ${metadataPath} cannot be served by one server; give them distinct paths`);
      }
      const document = cached(json);
      addDocument(metadataPath, document);
      // RFC 9728 §3: the root document describes the default resource, for clients that try it first.
      if (first && !this.#routes.has('/.well-known/oauth-protected-resource')) addDocument('/.well-known/oauth-protected-resource', document);
      first = false;
    }
    add(pathOf(ctx.endpoints.authorization), false, (request) => handleAuthorize(ctx, request));
    add(pathOf(ctx.endpoints.token), true, (request) => handleToken(ctx, request));
    if (ctx.scopesSupported.includes('openid')) {
      add(pathOf(ctx.endpoints.userinfo), true, (request) => handleUserinfo(ctx, request, this.#internalGuard));
    }
    const registration = this.#registration;
    if (registration) {
      this.#registrationPrefix = `${pathOf(ctx.endpoints.registration)}/`;
      add(pathOf(ctx.endpoints.registration), true, (request, context) =>
        handleRegister(ctx, registration, request, context.clientAddress ?? 'unknown'),
      );
    }
    if (this.#options.revocation !== false) add(pathOf(ctx.endpoints.revocation), true, (request) => handleRevoke(ctx, request));
    const introspection = this.#options.introspection ?? {};
    if (introspection) add(pathOf(ctx.endpoints.introspection), true, (request) => handleIntrospect(ctx, introspection, request));
    this.#jwksPath = pathOf(ctx.endpoints.jwks);
    add(this.#jwksPath, true, async (request) =>
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
   * @example
   * ```ts
   * const answer = server.staticResponse(req.method, pathname);
   * if (answer) return void res.writeHead(answer.status, answer.headers).end(answer.body);
   * ```
   * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
   * @see [RFC 9728 §3](https://www.rfc-editor.org/rfc/rfc9728#section-3)
   */
  staticResponse(method: string, pathname: string): StaticResponse | undefined {
    if (method === 'OPTIONS') return pathname !== this.#authorizationPath && this.#route(pathname) ? PREFLIGHT : undefined;
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const document = this.#staticDocuments.get(pathname);
    if (document || pathname !== this.#jwksPath) return document;
    // The JWK Set changes with rotation; its bytes are rebuilt when the key manager's string changes.
    const json = this.#ctx.keys.currentJWKSJSON();
    if (json === undefined) return undefined;
    if (this.#jwks?.json !== json) this.#jwks = { json, response: staticDocument(json, JWKS_CACHE) };
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
      ? { cors: true, handler: (request) => handleClientConfiguration(this.#ctx, registration, request, clientId) }
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
    const answer = this.staticResponse(request.method, pathname);
    // A copy of the headers: some runtimes' Response (@hono/node-server's) keeps and extends the object it is given.
    if (answer) return new Response(answer.body, { status: answer.status, headers: { ...answer.headers } });
    const route = this.#route(pathname);
    if (context.clientAddress) this.#addresses.set(request, context.clientAddress);
    if (request.method === 'OPTIONS') {
      // CORS preflights are answered for every path but the authorization endpoint (a top-level navigation).
      if (pathname === this.#authorizationPath) return new Response(null, { status: 204, headers: { allow: 'GET, POST' } });
      return new Response(null, { status: 204, headers: { ...CORS_HEADERS } });
    }
    if (!route) return rawJSONResponse('{"error":"not_found"}', { status: 404 });
    let response: Response;
    try {
      response = await route.handler(request, context);
    } catch (error) {
      if (isOAuthError(error)) {
        response = error.toResponse();
      } else if (error instanceof StoreUnavailableError) {
        this.#options.onError?.(error, request);
        response = new OAuthError('temporarily_unavailable', {
          description: 'the authorization server cannot reach its database; retry shortly',
          headers: { 'retry-after': '5' },
        }).toResponse();
      } else {
        this.#options.onError?.(error, request);
        response = new OAuthError('server_error', { description: 'the server could not complete the request' }).toResponse();
      }
    }
    return route.cors ? withHeaders(response, CORS_HEADERS) : response;
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

  async #approve(interaction: InteractionRecord, result: InteractionResult, method: string): Promise<Response> {
    const ctx = this.#ctx;
    const target = targetFromInteraction(interaction);
    const scopes = result.scopes ?? interaction.scopes;
    if (!isScopeSubset(scopes, interaction.scopes)) throw new KeywardConfigError('approved scopes must be a subset of the requested ones');
    const now = ctx.clock();
    const grantId = randomToken(16);
    await ctx.store.saveGrant({
      grantId,
      clientId: interaction.clientId,
      subject: result.subject,
      scopes,
      resources: interaction.resources,
      authTime: result.authTime ?? epochSeconds(ctx.clock),
      claims: result.claims,
      upstreamTokens: result.upstreamTokens,
      createdAt: now,
      expiresAt: now + ctx.ttl.refreshToken * 1000,
    });
    const code = randomToken();
    await ctx.store.saveAuthorizationCode({
      codeHash: await sha256(code),
      grantId,
      clientId: interaction.clientId,
      subject: result.subject,
      redirectUri: interaction.redirectUri,
      redirectUriSent: interaction.redirectUriSent,
      codeChallenge: interaction.codeChallenge,
      codeChallengeMethod: interaction.codeChallengeMethod,
      scopes,
      resources: interaction.resources,
      nonce: interaction.nonce,
      authTime: result.authTime ?? epochSeconds(ctx.clock),
      createdAt: now,
      expiresAt: now + ctx.ttl.authorizationCode * 1000,
    });
    return redirectResponse(ctx, target, { code }, method);
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
    return this.#approve(interaction, result, method);
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

  #makeGuard(resource: string, scopes: string[], anyAudience = false, tokenCacheSize?: number): ResourceServerGuard {
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
      ...(tokenCacheSize !== undefined && { tokenCacheSize }),
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
  createGuard(options: { resource?: string; scopes?: string[]; tokenCacheSize?: number } = {}): ResourceServerGuard {
    const resource = options.resource ?? this.#ctx.defaultResource;
    if (!this.#ctx.resources.has(resource)) throw new KeywardConfigError(`resource ${resource} is not configured on this server`);
    const key = `${resource} ${(options.scopes ?? []).join(' ')} ${options.tokenCacheSize ?? ''}`;
    let guard = this.#guards.get(key);
    if (!guard) {
      guard = this.#makeGuard(resource, options.scopes ?? [], false, options.tokenCacheSize);
      this.#guards.set(key, guard);
    }
    return guard;
  }
}
