import { parseClientMetadata } from '../protocol/client-metadata.js';
import type { Clock } from '../protocol/clock.js';
import { OAuthError } from '../protocol/errors.js';
import { duplicateNote, parseJSONBody } from '../protocol/http.js';
import { OutboundFetchError, type OutboundFetch } from '../protocol/outbound.js';
import type { ClientIdMetadataDocumentOptions } from './options.js';
import { parseScope } from '../protocol/scope.js';
import type { ClientRecord } from '../store/store.js';

/** @internal What the server tells the resolver about itself. */
export interface ResolverContext {
  scopesSupported: readonly string[];
  /** The scopes self-registered clients may have (`registration.allowedScopes`). */
  allowedScopes?: string[] | undefined;
  allowedSchemes: readonly string[];
  clock: Clock;
  /** The server's fetcher of client-supplied URLs. */
  fetch: OutboundFetch;
}

/**
 * True when a `client_id` is a URL that names a client ID metadata document: https, a path other than `/`,
 * no dot segments, no fragment, no user information.
 *
 * @example
 * ```ts
 * isClientIdMetadataDocumentURL('https://app.example/oauth/client.json'); // true
 * isClientIdMetadataDocumentURL('https://app.example'); // false
 * ```
 * @see [CIMD §3](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export function isClientIdMetadataDocumentURL(clientId: string): boolean {
  if (!clientId.startsWith('https://') || clientId.includes('#') || !URL.canParse(clientId)) return false;
  // CIMD §3: URL parsers treat `\` as `/` in https URLs and drop tabs and newlines, so such an id would be
  // fetched from another path than it names (and `\..\` would hide a dot segment from the check below).
  if (/[\\\s\x00-\x1f\x7f]/.test(clientId)) return false;
  const url = new URL(clientId);
  if (url.username || url.password) return false;
  // Judge the path as written: `URL` would silently resolve the dot segments this rule forbids.
  const afterScheme = clientId.slice('https://'.length);
  const pathStart = afterScheme.search(/[/?]/);
  const path = pathStart < 0 ? '' : afterScheme.slice(pathStart).split('?', 1)[0]!;
  if (!path || path === '/') return false;
  // CIMD §3 (no dot segments): `%2e` is a dot to URL parsers (RFC 3986 §2.3, §6.2.2.2), so `%2e%2e`
  // and `.%2E` are dot segments as well.
  return !path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

function cacheSeconds(headers: Record<string, string | string[] | undefined>, options: ClientIdMetadataDocumentOptions): number {
  const control = String(headers['cache-control'] ?? '');
  const max = options.maxCacheSeconds ?? 86_400;
  if (/no-store|no-cache/i.test(control)) return 0;
  const maxAge = /max-age=(\d+)/i.exec(control);
  return Math.min(maxAge ? Number(maxAge[1]) : (options.defaultCacheSeconds ?? 300), max);
}

/**
 * Turns a URL `client_id` into a client by fetching its metadata document: only a 200 counts, the
 * document's `client_id` must equal the URL exactly, no shared secrets, unsupported grant types dropped.
 * Valid documents are cached per Cache-Control; failures never are.
 *
 * @example
 * ```ts
 * const resolver = new ClientIdMetadataDocumentResolver({ scopesSupported, allowedSchemes: [], clock: Date.now });
 * const client = await resolver.resolve('https://app.example/oauth/client.json');
 * ```
 * @see [CIMD §4](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export class ClientIdMetadataDocumentResolver {
  readonly #cache = new Map<string, { client: ClientRecord; until: number }>();
  readonly #options: ClientIdMetadataDocumentOptions & ResolverContext;

  constructor(options: ClientIdMetadataDocumentOptions & ResolverContext) {
    this.#options = options;
  }

  /**
   * The client the document describes; throws `invalid_client` with the reason when it cannot be used.
   * A document that cannot be fetched says only that: the network detail is the `cause` (an
   * {@link OutboundFetchError}) and goes to the server's log, never to the caller.
   */
  async resolve(clientId: string): Promise<ClientRecord> {
    const now = this.#options.clock();
    const cached = this.#cache.get(clientId);
    if (cached && cached.until > now) return cached.client;
    const failure = (reason: string) => new OAuthError('invalid_client', { description: `client metadata document ${reason}` });
    if (!isClientIdMetadataDocumentURL(clientId)) throw failure('URL is not a valid https client_id');
    const unreachable = (cause: OutboundFetchError) =>
      new OAuthError('invalid_client', { description: 'client metadata document could not be fetched', cause });

    let response: Awaited<ReturnType<OutboundFetch>>;
    try {
      response = await this.#options.fetch(clientId);
    } catch (error) {
      throw unreachable(error instanceof OutboundFetchError ? error : new OutboundFetchError(clientId, String((error as Error)?.message ?? error), { cause: error }));
    }
    // CIMD §4: redirects are not followed; only a 200 is a document. The status is the far server's
    // answer, which would tell a caller what listens where: it goes to the log like any fetch failure.
    if (response.status !== 200) throw unreachable(new OutboundFetchError(clientId, `answered HTTP ${response.status}`));
    let document: unknown;
    try {
      document = parseJSONBody(response.body);
    } catch (error) {
      throw failure(`is not JSON${duplicateNote(error)}`);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw failure('is not a JSON object');
    const fields = document as Record<string, unknown>;
    if (fields.client_id !== clientId) throw failure('has a client_id that differs from its URL');
    if ('client_secret' in fields || 'client_secret_expires_at' in fields) throw failure('must not contain a client secret');
    // Anyone who can publish a JSON file is a document client: it is an anonymous registration, which may
    // not obtain client_credentials (that needs an initial access token, RFC 7591 §3 / docs/decisions.md).
    // Filtered like the other grant types this server does not offer to it, not fatal.
    const requestedGrants = Array.isArray(fields.grant_types)
      ? { grant_types: fields.grant_types.filter((grant) => grant !== 'client_credentials') }
      : {};
    let metadata;
    try {
      // A document client authenticates with none or private_key_jwt; "none" is its natural default.
      metadata = parseClientMetadata(
        { token_endpoint_auth_method: 'none', ...fields, ...requestedGrants },
        { scopesSupported: this.#options.allowedScopes ?? this.#options.scopesSupported, allowedSchemes: this.#options.allowedSchemes, forbidSharedSecrets: true },
      );
    } catch (error) {
      throw failure(`is invalid: ${(error as OAuthError).description ?? 'bad metadata'}`);
    }
    const client: ClientRecord = {
      clientId,
      tokenEndpointAuthMethod: metadata.token_endpoint_auth_method,
      redirectUris: metadata.redirect_uris ?? [],
      grantTypes: metadata.grant_types,
      responseTypes: metadata.response_types,
      // A document that names no scope gets what self-registered clients may have, never more.
      scopes: metadata.scope === undefined ? this.#options.allowedScopes : (parseScope(metadata.scope) ?? undefined),
      clientName: metadata.client_name,
      applicationType: metadata.application_type,
      metadata: { ...metadata, client_id: clientId },
      createdAt: now,
      expiresAt: null,
    };
    const seconds = cacheSeconds(response.headers, this.#options);
    if (seconds > 0) {
      if (this.#cache.size >= 1000) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(clientId, { client, until: now + seconds * 1000 });
    }
    return client;
  }
}
