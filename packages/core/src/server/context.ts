import type { Clock } from '../protocol/clock.js';
import type { KeyManager, SigningAlgorithm } from './keys.js';
import type { PendingEvent } from '../operations/events.js';
import type { InteractionHandler, InteractionResult } from '../login/interaction.js';
import type { EndpointURLs } from './options.js';
import type { OutboundFetch } from '../protocol/outbound.js';
import type { RevocationList } from '../store/revocation-list.js';
import type { ClientRecord, InteractionRecord, Store, TokenEndpointAuthMethod } from '../store/store.js';

/** A protected resource (an MCP endpoint) this server issues tokens for. */
export interface ResolvedResource {
  resource: string;
  scopes: string[];
  resourceName?: string | undefined;
  /** Absolute URL of its RFC 9728 metadata. */
  metadataUrl: string;
}

/** @internal Shared state of one AuthorizationServer, handed to every endpoint handler. */
export interface ServerContext {
  issuer: string;
  store: Store;
  keys: KeyManager;
  clock: Clock;
  revocations: RevocationList;
  accessTokenAlgorithm: SigningAlgorithm | 'HS256';
  scopesSupported: string[];
  defaultScopes: string[];
  resources: Map<string, ResolvedResource>;
  defaultResource: string;
  ttl: { accessToken: number; refreshToken: number; authorizationCode: number; interaction: number };
  refreshReuseGraceMs: number;
  endpoints: EndpointURLs;
  /**
   * The client's network address as the adapter reported it in the `RequestContext` of the request being
   * answered (handlers receive a per-request view of the context), or undefined when it reported none:
   * then per-address limits are not applied (docs/decisions.md).
   */
  clientAddress?: string | undefined;
  /** Renews the expiry of a registered client that was just used (unused clients expire). */
  touchClient(client: ClientRecord): Promise<void>;
  /** Fetches a client-supplied URL (metadata documents, jwks_uri): the `fetch` option or the safe default. */
  outboundFetch: OutboundFetch;
  /** Renders login and consent: the `interaction` hook or the built-in flow, decided at construction. */
  readonly interaction: InteractionHandler | undefined;
  /** Answers `prompt=none` from an existing session and consent, or with an error redirect; never a page. */
  readonly silentInteraction?: ((interaction: InteractionRecord, request: Request) => Promise<Response>) | undefined;
  devLogin: InteractionResult | undefined;
  getClient(clientId: string): Promise<ClientRecord | null>;
  /** Whether `client` may authenticate with `method` (its registered one, or a configured client's list). */
  allowsAuthMethod(client: ClientRecord, method: TokenEndpointAuthMethod): boolean;
  /**
   * Reports a security event (absent when nobody listens, so `ctx.emit?.(…)` builds nothing); the source
   * address is taken from `request` unless the event names one.
   */
  emit?: ((event: PendingEvent, request?: Request) => void) | undefined;
  /** The debug trace (absent when no logger is configured, so `ctx.log?.(…)` builds nothing). */
  log?: ((namespace: string, message: string, fields?: Record<string, unknown>) => void) | undefined;
  /** The application's hook for unexpected errors. */
  onError?: ((error: unknown, request: Request) => void) | undefined;
  /**
   * The scopes of `scopes` this user may grant this client (the `grantableScopes` hook), in request order;
   * all of them without a hook. `client` is a record or a client id to look up.
   */
  grantableScopes(input: {
    client: ClientRecord | string;
    subject: string;
    claims: Record<string, unknown> | undefined;
    scopes: string[];
    resources: string[];
    stage: 'authorization' | 'refresh';
  }): Promise<string[]>;
  /** Which tokens of other clients a configured client may introspect: `'all'`, these audiences, or none. */
  introspectionAccess(clientId: string): 'all' | ReadonlySet<string> | undefined;
  /** Turns an approved interaction into a redirect carrying the code. */
  approve(interaction: InteractionRecord, result: InteractionResult, method: string): Promise<Response>;
}

export type { InteractionHandler, InteractionResult, PendingAuthorization } from '../login/interaction.js';
