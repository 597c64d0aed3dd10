/**
 * The configuration of an {@link AuthorizationServer}, resolved from its options in one place: every
 * option checked and every default applied, once, into one deeply frozen object of plain data. Pure and
 * synchronous: no I/O, no promises, no runtime objects. The server builds its runtime parts (key manager,
 * revocation list, resolvers, login flow) from it; hooks, the Store, the clock and secrets stay on the
 * options, which the server reads for those alone.
 *
 * @module
 */
import { KeywardConfigError } from '../protocol/errors.js';
import { wellKnownURL } from '../protocol/metadata.js';
import { checkResourceIndicator } from '../protocol/resource.js';
import { isScopeSubset } from '../protocol/scope.js';
import type { ClientRecord, TokenEndpointAuthMethod } from '../store/store.js';
import { DEFAULT_RATE_LIMITS, type RateLimit } from '../operations/rate-limit.js';
import type { SigningAlgorithm } from './keys.js';
import {
  DEFAULT_PATHS,
  isLoopbackHTTP,
  staticAuthMethods,
  staticClient,
  validateOptions,
  type AuthorizationServerOptions,
  type EndpointURLs,
  type IntrospectionOptions,
} from './options.js';

/** The OpenID Connect scopes: the default scope list, and never advertised as a resource's own scopes. */
export const OIDC_SCOPES: readonly string[] = Object.freeze(['openid', 'profile', 'email', 'offline_access']);

// Headers on every answer. HSTS is added for https issuers only: on http it would be ignored, and on a
// loopback development issuer it would pin the browser to https for a host that does not offer it.
const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
const HSTS = 'max-age=31536000; includeSubDomains';
/** Where RFC 9728 §3 serves the default resource's metadata, for clients that try it first. */
const ROOT_RESOURCE_METADATA = '/.well-known/oauth-protected-resource';

/** A protected resource as the server serves it. */
export interface ResourceConfig {
  readonly resource: string;
  /** The scopes its metadata advertises. */
  readonly scopes: readonly string[];
  readonly resourceName: string | undefined;
  /** Absolute URL of its RFC 9728 metadata. */
  readonly metadataUrl: string;
}

/** A client configured in code. Its secret is not here: the server hashes it from the options. */
export interface StaticClientConfig {
  /** The client's record, without its secret hash. */
  readonly record: Readonly<ClientRecord>;
  /** The token endpoint authentication methods it may use; the first is the one its metadata reports. */
  readonly authMethods: readonly TokenEndpointAuthMethod[];
  readonly trusted: boolean;
  /** Other clients' tokens it may introspect: all, those of these audiences, or none (undefined). */
  readonly introspection: 'all' | readonly string[] | undefined;
}

/** Dynamic client registration settings; the policy hook and the initial access tokens stay on the options. */
export interface RegistrationConfig {
  readonly rateLimit: Readonly<{ max: number; windowSeconds: number }> | false;
  readonly requireInitialAccessToken: boolean;
  readonly clientSecretLifetime: number;
  readonly unusedClientLifetime: number;
  readonly allowedScopes: readonly string[] | undefined;
}

/** Everything an {@link AuthorizationServer} runs by, resolved from its options; deeply frozen. @internal */
export interface ResolvedConfig {
  /** The issuer identifier, exactly as configured. */
  readonly issuer: string;
  /** The issuer without its trailing slash: endpoint and login URLs are built on it. */
  readonly base: string;
  readonly endpoints: Readonly<EndpointURLs>;
  readonly scopesSupported: readonly string[];
  readonly defaultScopes: readonly string[];
  /** The resources in configured order (one entry per resource); the first is the default. */
  readonly resources: readonly ResourceConfig[];
  readonly defaultResource: string;
  /** Lifetimes in seconds. */
  readonly ttl: Readonly<{ accessToken: number; refreshToken: number; authorizationCode: number; interaction: number }>;
  readonly refreshReuseGraceMs: number;
  readonly accessTokenAlgorithm: SigningAlgorithm | 'HS256';
  /** The key manager's settings; the HMAC secret and key encryption stay on the options. */
  readonly keys: Readonly<{ algorithms: readonly SigningAlgorithm[]; retiredKeyOverlapSeconds: number; rotateAfterSeconds: number | undefined }>;
  readonly redirectUriSchemes: readonly string[];
  readonly registration: RegistrationConfig | false;
  readonly revocation: boolean;
  readonly introspection: Readonly<IntrospectionOptions> | false;
  /** Whether URL client ids (client ID metadata documents) are resolved. */
  readonly clientIdMetadataDocuments: boolean;
  /** Whether the built-in login and consent pages answer interactions (no `interaction` hook, no `devLogin`). */
  readonly builtInLogin: boolean;
  readonly staticClients: readonly StaticClientConfig[];
  /** Requests per source address and window, by endpoint name (`consent` shares `login`'s). */
  readonly rateLimits: Readonly<Record<string, Readonly<RateLimit>>>;
  /** Header fields on every answer. */
  readonly securityHeaders: Readonly<Record<string, string>>;
  /** Whether requests that came over plain http are refused (`enforceHTTPS`, unless the issuer is loopback http). */
  readonly refusePlainHTTP: boolean;
}

/** A deep copy of plain data (arrays, plain objects, primitives), frozen all the way down. */
function frozenCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return Object.freeze(value.map((item: unknown) => frozenCopy(item))) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = frozenCopy((value as Record<string, unknown>)[key]);
  return Object.freeze(copy) as T;
}

const pathOf = (url: string) => new URL(url).pathname;

/**
 * The pathnames of the public documents: authorization-server metadata, OpenID discovery (its aliases
 * included) and each resource's metadata. Routes are matched by path alone, so two resources whose metadata
 * shares a path (with each other or with a discovery document) would shadow each other.
 */
function checkDocumentPaths(issuer: string, openid: boolean, resources: readonly ResourceConfig[]): void {
  const paths = new Set([pathOf(wellKnownURL(issuer, 'oauth-authorization-server'))]);
  if (openid) {
    const issuerPath = new URL(issuer).pathname.replace(/\/$/, '');
    paths.add(`${issuerPath}/.well-known/openid-configuration`);
    paths.add(`${issuerPath}/.well-known/openid_configuration`);
    paths.add(pathOf(wellKnownURL(issuer, 'openid-configuration')));
  }
  resources.forEach((resource, index) => {
    const metadataPath = pathOf(resource.metadataUrl);
    if (paths.has(metadataPath)) {
      throw new KeywardConfigError(`resources with the same metadata path ${metadataPath} cannot be served by one server; give them distinct paths`);
    }
    paths.add(metadataPath);
    if (index === 0) paths.add(ROOT_RESOURCE_METADATA);
  });
}

/**
 * Checks `options` and resolves every default into one deeply frozen configuration. Throws a
 * {@link KeywardConfigError} for an invalid option, naming it. Pure: the same options give an equal
 * configuration, and nothing of the options is frozen or kept by reference.
 *
 * @internal
 */
export function resolveConfig(options: AuthorizationServerOptions): ResolvedConfig {
  validateOptions(options);
  const issuer = options.issuer;
  const base = issuer.replace(/\/$/, '');
  const paths = { ...DEFAULT_PATHS, ...options.paths };
  const scopesSupported = options.scopes ?? OIDC_SCOPES;
  const defaultScopes = options.defaultScopes ?? [];
  if (!isScopeSubset(defaultScopes, scopesSupported)) throw new KeywardConfigError('defaultScopes must be a subset of scopes');
  const registrationOptions = options.registration ?? {};

  // Keyed by resource: a resource configured twice is served once, in its first place, as last configured.
  const resources = new Map<string, ResourceConfig>();
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
          (scope) => !OIDC_SCOPES.includes(scope) && (!registrationOptions || !registrationOptions.allowedScopes || registrationOptions.allowedScopes.includes(scope)),
        ),
      resourceName: resolved.resourceName,
      metadataUrl: wellKnownURL(resolved.resource, 'oauth-protected-resource'),
    });
  }

  const redirectUriSchemes = options.redirectUriSchemes ?? [];
  const staticClients = new Map<string, StaticClientConfig>();
  for (const client of options.clients ?? []) {
    if (staticClients.has(client.clientId)) throw new KeywardConfigError(`client ${client.clientId} is configured twice`);
    const record = staticClient(client, redirectUriSchemes);
    const authMethods = staticAuthMethods(client);
    let introspection: StaticClientConfig['introspection'];
    if (client.introspection) {
      if (!client.clientSecret) throw new KeywardConfigError(`client ${client.clientId} needs a clientSecret to introspect tokens`);
      const access = client.introspection;
      if (access !== 'all') {
        const unknown = access.resources.filter((resource) => !resources.has(resource));
        if (unknown.length) throw new KeywardConfigError(`client ${client.clientId} introspection resource ${unknown[0]} is not one of the server's resources`);
      }
      introspection = access === 'all' ? 'all' : access.resources;
    }
    staticClients.set(client.clientId, { record, authMethods, trusted: client.trusted === true, introspection });
  }

  const algorithm = options.signing?.algorithm ?? 'ES256';
  const ttl = {
    accessToken: options.ttl?.accessToken ?? 3600,
    refreshToken: options.ttl?.refreshToken ?? 30 * 24 * 3600,
    authorizationCode: options.ttl?.authorizationCode ?? 60,
    interaction: options.ttl?.interaction ?? 600,
  };
  const registration: RegistrationConfig | false = registrationOptions && {
    rateLimit: registrationOptions.rateLimit ?? { max: 20, windowSeconds: 60 },
    requireInitialAccessToken: registrationOptions.requireInitialAccessToken ?? false,
    clientSecretLifetime: registrationOptions.clientSecretLifetime ?? 0,
    unusedClientLifetime: registrationOptions.unusedClientLifetime ?? 30 * 24 * 3600,
    allowedScopes: registrationOptions.allowedScopes,
  };

  const registrationLimit = registration && registration.rateLimit;
  const defaultLimits = { ...DEFAULT_RATE_LIMITS, register: registrationLimit && { windowMs: registrationLimit.windowSeconds * 1000, max: registrationLimit.max } };
  const rateLimits: Record<string, RateLimit> = {};
  for (const [name, limit] of Object.entries({ ...defaultLimits, ...options.rateLimits })) if (limit) rateLimits[name] = { windowMs: limit.windowMs, max: limit.max };
  // The consent page is part of signing in and shares its budget.
  if (rateLimits.login) rateLimits.consent = rateLimits.login;

  const introspection = options.introspection ?? {};
  const resourceList = [...resources.values()];
  checkDocumentPaths(issuer, scopesSupported.includes('openid'), resourceList);

  const endpoint = (path: string) => base + path;
  return frozenCopy<ResolvedConfig>({
    issuer,
    base,
    endpoints: {
      authorization: endpoint(paths.authorization),
      token: endpoint(paths.token),
      jwks: endpoint(paths.jwks),
      userinfo: endpoint(paths.userinfo),
      registration: endpoint(paths.registration),
      revocation: endpoint(paths.revocation),
      introspection: endpoint(paths.introspection),
    },
    scopesSupported,
    defaultScopes,
    resources: resourceList,
    defaultResource: resourceList[0]!.resource,
    ttl,
    refreshReuseGraceMs: (options.refreshTokenReuseGraceSeconds ?? 2) * 1000,
    accessTokenAlgorithm: options.signing?.hmacSecret ? 'HS256' : algorithm,
    keys: {
      // ID tokens always need RS256; a second asymmetric key only when it signs the access tokens.
      algorithms: algorithm === 'RS256' || options.signing?.hmacSecret ? ['RS256'] : [algorithm, 'RS256'],
      retiredKeyOverlapSeconds: ttl.accessToken + 300,
      rotateAfterSeconds: options.signing?.rotateAfterSeconds,
    },
    redirectUriSchemes,
    registration,
    revocation: options.revocation !== false,
    introspection: introspection && { ...(introspection.bearerScope !== undefined && { bearerScope: introspection.bearerScope }) },
    clientIdMetadataDocuments: options.clientIdMetadataDocuments !== false,
    // validateOptions refused a store without the login group when the built-in login is on.
    builtInLogin: Boolean(options.login && !options.interaction && !options.devLogin),
    staticClients: [...staticClients.values()],
    rateLimits,
    securityHeaders: issuer.startsWith('https://') ? { ...BASE_SECURITY_HEADERS, 'strict-transport-security': HSTS } : BASE_SECURITY_HEADERS,
    refusePlainHTTP: options.enforceHTTPS === true && !isLoopbackHTTP(issuer),
  });
}
