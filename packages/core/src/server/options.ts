/**
 * The options of {@link AuthorizationServer}: their types, and their validation at construction, where a
 * mistake throws a {@link KeywardConfigError} instead of surfacing at the first request.
 *
 * @module
 */
import { z } from 'zod';
import type { Clock } from '../protocol/clock.js';
import type { InteractionHandler, InteractionResult } from '../login/interaction.js';
import { KeywardConfigError } from '../protocol/errors.js';
import type { ClientMetadata } from '../protocol/client-metadata.js';
import type { LoginOptions } from '../login/flow.js';
import type { SigningAlgorithm } from './keys.js';
import { checkRedirectUriForRegistration } from '../protocol/redirect-uri.js';
import type { ClientRecord, Store, TokenEndpointAuthMethod } from '../store/store.js';
import type { KeywardEvent, KeywardLogger, ResponseInfo } from '../operations/events.js';
import type { RateLimit, RateLimitedEndpoint } from '../operations/rate-limit.js';
import type { KeyEncryption } from '../store/key-encryption.js';
import { hasLoginStore } from '../store/store.js';
import type { OutboundFetch, SafeFetchOptions } from '../protocol/outbound.js';

/**
 * Decides whether an anonymous registration is accepted: return `true`, or `false`/a reason to refuse it
 * with `invalid_client_metadata`.
 */
export type RegistrationPolicy = (metadata: ClientMetadata, request: Request) => boolean | string | Promise<boolean | string>;

/** Dynamic client registration settings. */
export interface RegistrationOptions {
  /** Registrations per source address per window; `false` turns the limit off. Default 20 a minute. */
  rateLimit?: { max: number; windowSeconds: number } | false;
  policy?: RegistrationPolicy;
  /**
   * Initial access tokens (RFC 7591 §3). A registration that presents one may obtain client_credentials;
   * anonymous ones may not.
   */
  initialAccessTokens?: string[];
  /** Refuse registrations without an initial access token. */
  requireInitialAccessToken?: boolean;
  /** Lifetime of issued client secrets in seconds; 0 (default) means they do not expire. */
  clientSecretLifetime?: number;
  /** A registered client unused for this many seconds is forgotten; each use renews it. Default 30 days; 0 keeps clients forever. */
  unusedClientLifetime?: number;
  /**
   * The scopes a self-registered client may ever request; default every scope the server supports. Keep
   * administrative scopes out, so that they need a client configured in code.
   */
  allowedScopes?: string[];
}

/** Introspection settings. */
export interface IntrospectionOptions {
  /**
   * A scope that lets a bearer access token of this server introspect any token (an administrator's
   * `Authorization: Bearer <admin token>`), e.g. `mcp:admin`. Off by default.
   */
  bearerScope?: string;
}

/** Client ID metadata document settings. */
export interface ClientIdMetadataDocumentOptions extends SafeFetchOptions {
  /** Cache lifetime when the document's response sets none, in seconds; default 300. */
  defaultCacheSeconds?: number;
  /** Upper bound on any cache lifetime, in seconds; default 86400. */
  maxCacheSeconds?: number;
  /**
   * Replaces the fetcher of metadata documents and `jwks_uri` key sets.
   *
   * @deprecated Use the server's `fetch` option, which serves every outbound request; this one is used
   * only when that is absent.
   */
  fetch?: OutboundFetch;
}

/** Where each endpoint is served, relative to the issuer. Defaults live under `/oauth/`. */
export interface EndpointPaths {
  authorization: string;
  token: string;
  jwks: string;
  userinfo: string;
  registration: string;
  revocation: string;
  introspection: string;
}

/** @internal */
export const DEFAULT_PATHS: EndpointPaths = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  jwks: '/oauth/keys',
  userinfo: '/oauth/userinfo',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
};

/** The absolute URL of each endpoint, built from the issuer and {@link EndpointPaths}. */
export type EndpointURLs = EndpointPaths;

/** A protected resource (an MCP endpoint) the server issues tokens for. */
export interface ProtectedResourceOptions {
  /** The resource identifier, which is the MCP endpoint URL exactly (e.g. `https://mcp.example.com/mcp`). */
  resource: string;
  /** Scopes advertised in its RFC 9728 metadata; default the server's scopes. */
  scopes?: string[];
  /** A human-readable name for its metadata. */
  resourceName?: string;
}

/** A client configured in code rather than registered (for example from OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET). */
export interface StaticClientOptions {
  clientId: string;
  /** Makes the client confidential; stored only as a hash. */
  clientSecret?: string;
  /**
   * Default `client_secret_basic` with a secret, `none` without. A configured client may accept several
   * methods (the first is the one its metadata reports).
   */
  tokenEndpointAuthMethod?: StaticClientAuthMethod | StaticClientAuthMethod[];
  redirectUris?: string[];
  /** Default `['authorization_code', 'refresh_token']`. */
  grantTypes?: ('authorization_code' | 'refresh_token' | 'client_credentials')[];
  /** Scopes the client may request; default all. */
  scopes?: string[];
  clientName?: string;
  /**
   * Lets a public client (`tokenEndpointAuthMethod: 'none'`) be approved without a page: from a consent the
   * user gave before, and for `prompt=none`. Confidential clients prove who they are at the token endpoint
   * and are approved that way anyway; public clients are not, and are asked every time unless marked here.
   *
   * The risk: a public client has no secret, so anything that knows its client id can send an authorization
   * request as it. For a native client with a loopback redirect URI, any program on the user's machine can
   * listen on a loopback port, send the user's browser to the authorization endpoint as this client, and
   * receive the code; with silent approval the user never sees a page, and the program gets the user's tokens
   * (RFC 8252 §8.6, RFC 9700 §2.1.1 and §4.15). Mark a public client trusted only when its redirect URIs
   * cannot be claimed by another program (an https URI of a site you control, a claimed private-use scheme)
   * or when every program that can run on your users' machines is trusted with their tokens. Default false.
   *
   * @example
   * ```ts
   * clients: [{ clientId: 'intranet-spa', tokenEndpointAuthMethod: 'none', redirectUris: ['https://app.example.com/cb'], trusted: true }]
   * ```
   * @see [RFC 8252 §8.6](https://www.rfc-editor.org/rfc/rfc8252#section-8.6)
   * @see [RFC 9700 §4.15](https://www.rfc-editor.org/rfc/rfc9700#section-4.15)
   */
  trusted?: boolean;
  /**
   * Makes this confidential client a resource server that may introspect tokens issued to other clients
   * (RFC 7662): `{ resources }` lets it see access tokens whose audience is one of these resources (each must
   * be one of the server's `resources`); `'all'` lets it see every access and refresh token of this server,
   * which is for an administrative client only. Any client always sees its own tokens; every other token is
   * answered `{"active":false}`. Default: only its own tokens.
   *
   * @example
   * ```ts
   * clients: [{ clientId: 'files-api', clientSecret: process.env.FILES_API_SECRET, grantTypes: ['client_credentials'], introspection: { resources: ['https://files.example.com/mcp'] } }]
   * ```
   * @see [RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1)
   * @see [RFC 7662 §4](https://www.rfc-editor.org/rfc/rfc7662#section-4)
   */
  introspection?: { resources: string[] } | 'all';
}

/** What the {@link AuthorizationServerOptions.grantableScopes} hook is asked. */
export interface ScopeGrantRequest {
  /** The user's stable identifier. */
  subject: string;
  /**
   * The claims of the user's login (login provider or `InteractionResult.claims`), as they were at sign-in;
   * at a refresh, the claims kept on the grant. Look up anything that can change (roles) by `subject`.
   */
  claims: Readonly<Record<string, unknown>>;
  /** The client the scopes would be granted to. */
  client: Readonly<ClientRecord>;
  /** The scopes asked for, already limited to those the server knows and the client may request. */
  scopes: readonly string[];
  /** The resources (token audiences) of the grant. */
  resources: readonly string[];
  /** `authorization` before the user consents (and at approval), `refresh` at every refresh-token exchange. */
  stage: 'authorization' | 'refresh';
}

/**
 * Decides which of the requested scopes this user may grant to this client: returns those scopes (anything
 * else it returns is ignored). May be async, e.g. a role lookup.
 *
 * @example
 * ```ts
 * const grantableScopes: GrantableScopes = async ({ subject, scopes }) =>
 *   (await directory.isAdmin(subject)) ? scopes : scopes.filter((scope) => scope !== 'mcp:admin');
 * ```
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export type GrantableScopes = (request: ScopeGrantRequest) => readonly string[] | Promise<readonly string[]>;

/**
 * How a static client authenticates at the token endpoint. `private_key_jwt` is for registered clients, which
 * carry their keys (RFC 7523 §2.2); a static client has none.
 *
 * @example
 * ```ts
 * const clients: StaticClientOptions[] = [{ clientId: 'cli', clientSecret, tokenEndpointAuthMethod: 'client_secret_basic' }];
 * ```
 */
export type StaticClientAuthMethod = Exclude<TokenEndpointAuthMethod, 'private_key_jwt'>;

/** Options of {@link AuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** The issuer identifier, used byte for byte everywhere (metadata, `iss` parameter, JWT `iss`). */
  issuer: string;
  store: Store;
  /** Protected resources; default `<issuer>/mcp`. The first is the audience when a request names none. */
  resources?: (string | ProtectedResourceOptions)[];
  /** Every scope the server knows; default `openid profile email offline_access`. */
  scopes?: string[];
  /** Scopes granted when a request asks for none; default none. */
  defaultScopes?: string[];
  /**
   * Which of the requested scopes the signed-in user may grant (scopes belong to users as well as to
   * clients). Asked once the user is known and before the consent page, which then lists only what will be
   * granted; again when an authorization is approved (remembered consent, `prompt=none`, `devLogin`, a custom
   * `interaction` hook's `completeInteraction`); and at every refresh, so a refresh never yields a scope the
   * user has lost since (the refresh token is narrowed for good; getting it back takes a new authorization).
   * Scopes the user cannot grant are dropped and the token response's `scope` says what was granted; when a
   * request asked for scopes and none is left, the answer is `invalid_scope`. `client_credentials` tokens
   * have no user and are not asked about. Default: every requested scope.
   *
   * @example
   * ```ts
   * grantableScopes: ({ subject, scopes }) => (admins.has(subject) ? scopes : scopes.filter((scope) => scope !== 'mcp:admin')),
   * ```
   * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
   * @see [OAuth 2.1 §4.3.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.3.1)
   */
  grantableScopes?: GrantableScopes;
  clients?: StaticClientOptions[];
  paths?: Partial<EndpointPaths>;
  /** Lifetimes in seconds. */
  ttl?: { accessToken?: number; refreshToken?: number; authorizationCode?: number; interaction?: number };
  signing?: {
    /** The access-token algorithm; default ES256. ID tokens are always RS256 (OIDC's default). */
    algorithm?: SigningAlgorithm;
    /**
     * Signs access tokens with HS256 and this secret instead. Only the server itself can then verify them,
     * and they are not published at the JWKS endpoint.
     */
    hmacSecret?: string;
    /** Rotate signing keys automatically once they are this many seconds old; default never. */
    rotateAfterSeconds?: number;
    /**
     * Seals private signing keys before they reach the store (e.g. `keyEncryptionFromSecret(secret)`), so a
     * database dump holds no usable key. Keys stored in the clear earlier are sealed on start.
     */
    keyEncryption?: KeyEncryption;
  };
  /** Renders login and consent yourself; see {@link InteractionHandler}. Takes precedence over `login`. */
  interaction?: InteractionHandler;
  /** The built-in login and consent pages, with local users and upstream providers. */
  login?: LoginOptions;
  /**
   * Development only: signs this user in and approves every authorization request of every client without
   * any page, public clients included, so any program on the machine can obtain this user's tokens. Refused
   * unless the issuer is a loopback `http` URL. `grantableScopes` still applies.
   */
  devLogin?: InteractionResult;
  /**
   * A refresh token presented again within this many seconds of its rotation is refused without revoking
   * its family (a client's concurrent retry); later reuse revokes the grant. Default 2.
   */
  refreshTokenReuseGraceSeconds?: number;
  /** Private-use redirect URI schemes allowed without a dot (e.g. `cursor`). */
  redirectUriSchemes?: string[];
  /** Dynamic client registration (RFC 7591/7592); on by default, `false` turns it off. */
  registration?: RegistrationOptions | false;
  /** Token revocation (RFC 7009); on by default. */
  revocation?: boolean;
  /** Token introspection (RFC 7662); on by default, `false` turns it off. */
  introspection?: IntrospectionOptions | false;
  /**
   * Client ID metadata documents (URL client ids, the MCP 2025-11-25 registration); on by default,
   * `false` turns it off.
   */
  clientIdMetadataDocuments?: ClientIdMetadataDocumentOptions | false;
  /**
   * The fetcher of every request the server itself sends: client ID metadata documents and the `jwks_uri`
   * key sets of `private_key_jwt` clients (both URLs a client chose). The default, on a runtime with Node's
   * networking built-ins, is the DNS-pinning `safeFetch` of `@keyward/core/node`: https only, every resolved
   * address checked against the special-purpose registries at connection time, no redirects, 5 KB and 5 s
   * limits. Elsewhere (Workers, Deno Deploy) it is the runtime's `fetch` with the same URL checks and
   * limits, but it cannot see what a host name resolves to, so a name pointing at a private address is
   * reached: give a fetcher that goes through an egress proxy there, or run where private networks are not
   * reachable. `clientIdMetadataDocuments` limits (`allowPrivateHosts`, `ca`, `timeoutMs`, `maxBytes`)
   * apply to the default fetcher only.
   *
   * @example
   * ```ts
   * import { safeFetch } from '@keyward/core/node';
   * new AuthorizationServer({ issuer, store, fetch: (url) => safeFetch(url, { timeoutMs: 2000 }) });
   * ```
   * @see [OAuth Client ID Metadata Document §6.5](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
   * @see [RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)
   */
  fetch?: OutboundFetch;
  clock?: Clock;
  /**
   * Called with every unexpected error (the client gets a generic `server_error`), and with an
   * `OutboundFetchError` when a client-supplied URL (a client ID metadata document, a `jwks_uri`) could not
   * be fetched: the client is told only that, the log gets the address, port and network error.
   */
  onError?: (error: unknown, request: Request) => void;
  /**
   * Called synchronously with every security event (sign-ins, consents, codes, tokens, refresh reuse,
   * revocations, registrations, rate limits, store outages). Events never carry a secret; whatever the
   * hook throws is ignored and never changes a response.
   */
  onEvent?: (event: KeywardEvent) => void;
  /** The detailed trace, by namespace (`oauth:token`, `oauth:authorize`, …); nothing is built when absent. */
  logger?: KeywardLogger;
  /**
   * Called once per answered request with its endpoint name, status and duration (metrics, request logs).
   * Precomputed answers (metadata, JWK Set, CORS preflights) are reported too, with a duration of 0, also
   * when an adapter sends them without calling `fetch`.
   */
  onResponse?: (info: ResponseInfo) => void;
  /**
   * Requests per source address and window, per endpoint, counted in the Store (so every instance shares
   * them) and answered 429 with `Retry-After` and `RateLimit-Policy`/`RateLimit` beyond the limit. The
   * defaults (per minute: token 120, authorize 60, revoke 60, introspect 600, userinfo 120, login 60, and
   * for register `registration.rateLimit`, 20) are far above what a client following the protocol sends;
   * `false` turns one off. Registration's own `registration.rateLimit` applies as well.
   */
  rateLimits?: Partial<Record<RateLimitedEndpoint, RateLimit | false>>;
  /**
   * Refuses to start unless the issuer is https (or http on a loopback host), and refuses requests that
   * reached the server over plain http (as a trusted proxy reports it) with `invalid_request`.
   */
  enforceHTTPS?: boolean;
}

const urlString = z.string().refine((value) => URL.canParse(value), 'must be an absolute URL');
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a valid scope token');
const positiveSeconds = z.number().int().positive();
const authMethod = z.enum(['none', 'client_secret_basic', 'client_secret_post']);

/** @internal The runtime check of {@link AuthorizationServerOptions}; a type test keeps the two in step. */
export const optionsSchema = z.object({
  issuer: urlString
    .refine((value) => !value.includes('?') && !value.includes('#'), 'must not have a query or fragment')
    // RFC 8414 §2: the issuer is an https URL; plain http is tolerated on loopback hosts for development.
    .refine((value) => value.startsWith('https://') || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(value), 'must be https (or http on a loopback host)'),
  store: z.custom<Store>((value) => typeof value === 'object' && value !== null && 'consumeAuthorizationCode' in value, 'must implement Store'),
  resources: z.array(z.union([urlString, z.object({ resource: urlString, scopes: z.array(scopeToken).optional(), resourceName: z.string().optional() })])).min(1).optional(),
  scopes: z.array(scopeToken).optional(),
  defaultScopes: z.array(scopeToken).optional(),
  grantableScopes: z.function().optional(),
  clients: z
    .array(
      z.object({
        clientId: z.string().min(1),
        // Configured secrets are the one kind of secret a person picks; too short ones fall to guessing.
        clientSecret: z.string().min(16, 'must be at least 16 characters').optional(),
        tokenEndpointAuthMethod: z.union([authMethod, z.array(authMethod).min(1)]).optional(),
        redirectUris: z.array(z.string()).optional(),
        grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).optional(),
        scopes: z.array(scopeToken).optional(),
        clientName: z.string().optional(),
        trusted: z.boolean().optional(),
        introspection: z.union([z.literal('all'), z.object({ resources: z.array(urlString).min(1) })]).optional(),
      }),
    )
    .optional(),
  paths: z.partialRecord(z.enum(['authorization', 'token', 'jwks', 'userinfo', 'registration', 'revocation', 'introspection']), z.string().regex(/^\/[^?#]*$/, 'must be a path starting with /')).optional(),
  ttl: z
    .object({ accessToken: positiveSeconds, refreshToken: positiveSeconds, authorizationCode: positiveSeconds, interaction: positiveSeconds })
    .partial()
    .optional(),
  signing: z
    .object({
      algorithm: z.enum(['ES256', 'EdDSA', 'RS256']),
      hmacSecret: z.string().min(32, 'must be at least 32 characters'),
      rotateAfterSeconds: positiveSeconds,
      keyEncryption: z.custom<KeyEncryption>((value) => typeof value === 'object' && value !== null && typeof (value as KeyEncryption).encrypt === 'function' && typeof (value as KeyEncryption).decrypt === 'function', 'must have encrypt and decrypt methods'),
    })
    .partial()
    .optional(),
  interaction: z.function().optional(),
  login: z
    .object({
      users: z.custom<object>((value) => typeof value === 'object' && value !== null && 'verify' in value, 'must have a verify method').optional(),
      providers: z.array(z.object({ id: z.string().regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and dashes'), kind: z.enum(['redirect', 'token']), displayName: z.string() }).passthrough()).optional(),
      sessionTimeout: positiveSeconds.optional(),
      consentLifetime: positiveSeconds.optional(),
      encryptionSecret: z.string().min(32, 'must be at least 32 characters').optional(),
    })
    .passthrough()
    .optional(),
  devLogin: z.object({ subject: z.string().min(1) }).passthrough().optional(),
  refreshTokenReuseGraceSeconds: z.number().min(0).max(60).optional(),
  redirectUriSchemes: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*$/)).optional(),
  registration: z
    .union([
      z.literal(false),
      z.object({
        rateLimit: z.union([z.literal(false), z.object({ max: z.number().int().positive(), windowSeconds: positiveSeconds })]).optional(),
        policy: z.function().optional(),
        initialAccessTokens: z.array(z.string().min(16, 'must be at least 16 characters')).optional(),
        requireInitialAccessToken: z.boolean().optional(),
        clientSecretLifetime: z.number().int().min(0).optional(),
        unusedClientLifetime: z.number().int().min(0).optional(),
        allowedScopes: z.array(scopeToken).optional(),
      }),
    ])
    .optional(),
  revocation: z.boolean().optional(),
  introspection: z.union([z.literal(false), z.object({ bearerScope: scopeToken.optional() })]).optional(),
  clientIdMetadataDocuments: z.union([z.literal(false), z.object({}).passthrough()]).optional(),
  fetch: z.function().optional(),
  clock: z.function().optional(),
  onError: z.function().optional(),
  onEvent: z.function().optional(),
  logger: z.custom<KeywardLogger>((value) => typeof value === 'object' && value !== null && typeof (value as KeywardLogger).debug === 'function', 'must have a debug method').optional(),
  onResponse: z.function().optional(),
  rateLimits: z
    .partialRecord(
      z.enum(['token', 'authorize', 'register', 'revoke', 'introspect', 'userinfo', 'login']),
      z.union([z.literal(false), z.object({ windowMs: z.number().int().positive(), max: z.number().int().positive() })]),
    )
    .optional(),
  enforceHTTPS: z.boolean().optional(),
});

const LOOPBACK_HTTP = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/;

/** @internal True for an `http` issuer on a loopback host, the one plain-http issuer ever accepted. */
export function isLoopbackHTTP(issuer: string): boolean {
  return LOOPBACK_HTTP.test(issuer);
}

export function validateOptions(options: AuthorizationServerOptions): void {
  // Checked first, so the error names the setting the operator turned on.
  if (options.enforceHTTPS && typeof options.issuer === 'string' && !options.issuer.startsWith('https://') && !isLoopbackHTTP(options.issuer)) {
    throw new KeywardConfigError(`enforceHTTPS is on but the issuer ${options.issuer} is not an https URL`, 'ERR_KEYWARD_INSECURE_ISSUER');
  }
  const result = optionsSchema.safeParse(options);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new KeywardConfigError(`AuthorizationServer option ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  // The built-in login keeps browser sessions and consents: the store's optional LoginStore group.
  if (options.login && !options.interaction && !options.devLogin && !hasLoginStore(options.store)) {
    throw new KeywardConfigError('login needs a store with the LoginStore methods (saveSession, getSession, deleteSession, saveConsent, getConsent)', 'ERR_KEYWARD_STORE_CAPABILITY');
  }
  if (options.devLogin) {
    const url = new URL(options.issuer);
    if (url.protocol !== 'http:' || !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
      throw new KeywardConfigError('devLogin is refused unless the issuer is a loopback http URL', 'ERR_KEYWARD_DEV_LOGIN');
    }
  }
}

export function staticAuthMethods(options: StaticClientOptions): TokenEndpointAuthMethod[] {
  const configured = options.tokenEndpointAuthMethod ?? (options.clientSecret ? 'client_secret_basic' : 'none');
  const methods = Array.isArray(configured) ? configured : [configured];
  const secretMethod = methods.find((method) => method !== 'none');
  if (secretMethod && !options.clientSecret) {
    throw new KeywardConfigError(`client ${options.clientId} uses ${secretMethod} but has no clientSecret`);
  }
  if (methods.includes('none') && methods.length > 1) {
    throw new KeywardConfigError(`client ${options.clientId} cannot be both public (none) and confidential`);
  }
  return methods;
}

export function staticClient(options: StaticClientOptions, redirectUriSchemes: string[]): ClientRecord {
  const method = staticAuthMethods(options)[0]!;
  for (const uri of options.redirectUris ?? []) {
    const problem = checkRedirectUriForRegistration(uri, { allowedSchemes: redirectUriSchemes });
    if (problem) throw new KeywardConfigError(`client ${options.clientId} redirect URI ${uri}: ${problem}`);
  }
  const grantTypes = options.grantTypes ?? ['authorization_code', 'refresh_token'];
  return {
    clientId: options.clientId,
    clientSecretHash: undefined,
    clientSecretExpiresAt: 0,
    tokenEndpointAuthMethod: method,
    redirectUris: options.redirectUris ?? [],
    grantTypes,
    responseTypes: grantTypes.includes('authorization_code') ? ['code'] : [],
    scopes: options.scopes,
    clientName: options.clientName,
    metadata: { client_id: options.clientId, client_name: options.clientName },
    createdAt: 0,
    expiresAt: null,
  };
}
