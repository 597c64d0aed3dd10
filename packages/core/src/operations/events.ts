/**
 * Security events, the debug trace and per-response reports: what an operator watches. Everything here
 * is non-secret by construction: events carry identifiers (client, subject, grant), never a code, token,
 * secret, password or cookie.
 *
 * @module
 */

/**
 * Where an event happened and who it concerns; every member but `at` is present only when known.
 *
 * @example
 * ```ts
 * const where = (event: KeywardEventBase) => `${event.endpoint ?? '-'} from ${event.sourceAddress ?? 'unknown'}`;
 * ```
 * @see [RFC 9700 §4](https://www.rfc-editor.org/rfc/rfc9700#section-4)
 */
export interface KeywardEventBase {
  /** Milliseconds since the epoch, from the server's clock. */
  at: number;
  clientId?: string | undefined;
  /** The user (or, for client_credentials, the client) concerned. */
  subject?: string | undefined;
  grantId?: string | undefined;
  /** The client's network address as the adapter reported it (after trusted proxies). */
  sourceAddress?: string | undefined;
  /** The stable endpoint name: `token`, `authorize`, `register`, `revoke`, `login`, `consent`, `mcp`, … */
  endpoint?: string | undefined;
}

/**
 * A security-relevant event, discriminated on `type`:
 *
 * - `signin.succeeded` / `signin.failed` / `signin.throttled`: the built-in login pages (`method` is
 *   `password`, `token` or `redirect`; `provider` names an upstream provider).
 * - `consent.given` / `consent.denied`: the consent page (`scopes` approved).
 * - `code.issued`: an authorization code was issued (`scopes`); `code.replayed`: a used code came back and
 *   its grant was revoked (RFC 9700 §4.2.4).
 * - `token.issued`: the token endpoint answered tokens (`grantType`, `scopes`).
 * - `refresh.rotated`: a refresh token was exchanged for its successor; `refresh.reused`: a rotated token
 *   came back (`grantRevoked` false only inside the concurrent-retry grace period).
 * - `token.revoked`: the revocation endpoint revoked a token (`tokenType`).
 * - `client.registered` / `client.updated` / `client.deleted`: dynamic registration (RFC 7591/7592).
 * - `rate_limited`: a request was refused with 429 (`limit`, `windowMs`).
 * - `store.unavailable`: a Store call failed and the request was answered 503 (`operation`).
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({
 *   issuer, store,
 *   onEvent: (event) => { if (event.type === 'refresh.reused') alert(`grant ${event.grantId} revoked`); },
 * });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)
 */
export type KeywardEvent =
  | (KeywardEventBase & { type: 'signin.succeeded'; method: 'password' | 'token' | 'redirect'; provider?: string | undefined })
  | (KeywardEventBase & { type: 'signin.failed'; method: 'password' | 'token' | 'redirect'; provider?: string | undefined })
  | (KeywardEventBase & { type: 'signin.throttled'; method: 'password' | 'token' })
  | (KeywardEventBase & { type: 'consent.given'; scopes: string[] })
  | (KeywardEventBase & { type: 'consent.denied' })
  | (KeywardEventBase & { type: 'code.issued'; scopes: string[] })
  | (KeywardEventBase & { type: 'code.replayed' })
  | (KeywardEventBase & { type: 'token.issued'; grantType: string; scopes: string[] })
  | (KeywardEventBase & { type: 'refresh.rotated' })
  | (KeywardEventBase & { type: 'refresh.reused'; grantRevoked: boolean })
  | (KeywardEventBase & { type: 'token.revoked'; tokenType: 'access_token' | 'refresh_token' })
  | (KeywardEventBase & { type: 'client.registered'; authMethod?: string | undefined })
  | (KeywardEventBase & { type: 'client.updated' })
  | (KeywardEventBase & { type: 'client.deleted' })
  | (KeywardEventBase & { type: 'rate_limited'; limit: number; windowMs: number })
  | (KeywardEventBase & { type: 'store.unavailable'; operation?: string | undefined })
  /** Once per server: a request came without a client address, so per-address limits are not applied to such requests. */
  | (KeywardEventBase & { type: 'client_address.missing' });

/**
 * Every event type, for exhaustive handling and metrics labels.
 *
 * @example
 * ```ts
 * const alerting: KeywardEventType[] = ['refresh.reused', 'code.replayed', 'store.unavailable'];
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)
 */
export type KeywardEventType = KeywardEvent['type'];

/** An event before the server stamps it with `at`. @internal */
export type PendingEvent = KeywardEvent extends infer E ? (E extends KeywardEvent ? Omit<E, 'at'> : never) : never;

/**
 * The detailed trace. Namespaces are `oauth:authorize`, `oauth:token`, `oauth:register`, `oauth:revoke`,
 * `oauth:introspect`, `oauth:login`, `oauth:store` and `oauth:guard`, so a `DEBUG=oauth:*` style filter
 * maps onto them. Fields never hold a secret.
 *
 * @example
 * ```ts
 * const logger: KeywardLogger = {
 *   debug: (namespace, message, fields) => { if (process.env.DEBUG?.includes('oauth:')) console.error(namespace, message, fields ?? ''); },
 * };
 * ```
 */
export interface KeywardLogger {
  /** One trace line; `fields` are identifiers and outcomes, never secrets. */
  debug(namespace: string, message: string, fields?: Record<string, unknown>): void;
}

/**
 * One answered request, for metrics and request logs. `endpoint` is a stable name (`token`, `authorize`,
 * `metadata`, `jwks`, `register`, `revoke`, `introspect`, `userinfo`, `login`, `consent`, `not_found`,
 * and `mcp` for a guard), never the raw path, so label cardinality stays bounded.
 *
 * @example
 * ```ts
 * const onResponse = (info: ResponseInfo) => console.log(`${info.method} ${info.endpoint} ${info.status} ${info.durationMs.toFixed(1)}ms`);
 * ```
 */
export interface ResponseInfo {
  endpoint: string;
  method: string;
  status: number;
  durationMs: number;
}

/**
 * The server's emitter: stamps `at` and swallows whatever the application's hook throws, so observing can
 * never change an answer. @internal
 */
export function eventEmitter(onEvent: (event: KeywardEvent) => void, clock: () => number): (event: PendingEvent) => void {
  return (event) => {
    try {
      onEvent({ ...event, at: clock() } as KeywardEvent);
    } catch {
      // An observer's failure is the observer's problem; the request goes on unchanged.
    }
  };
}

/** A logger whose failures are swallowed like the event hook's. @internal */
export function safeLogger(logger: KeywardLogger): (namespace: string, message: string, fields?: Record<string, unknown>) => void {
  return (namespace, message, fields) => {
    try {
      logger.debug(namespace, message, fields);
    } catch {
      // See eventEmitter.
    }
  };
}

/** Calls a response observer, swallowing its errors. @internal */
export function safeResponseHook(hook: (info: ResponseInfo) => void): (info: ResponseInfo) => void {
  return (info) => {
    try {
      hook(info);
    } catch {
      // See eventEmitter.
    }
  };
}
