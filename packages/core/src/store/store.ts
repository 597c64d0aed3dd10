/**
 * The records Keyward persists and the atomic operations it needs from a database. Secrets (codes, refresh
 * tokens, client secrets, registration access tokens) reach a store only as SHA-256 hashes. Every record
 * carries an explicit `expiresAt` in epoch milliseconds; a store must treat an expired record as absent,
 * judged by its own clock, whether or not the engine has removed it yet.
 *
 * Implementations must pass the conformance suite of `@keyward/core/testing` (`testStore`).
 *
 * @module
 */

import type { TokenEndpointAuthMethod } from '../protocol/client-metadata.js';

export type { TokenEndpointAuthMethod };

/**
 * A registered client.
 *
 * @see [RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)
 */
export interface ClientRecord {
  clientId: string;
  /** SHA-256 (base64url) of the client secret; absent for public clients. */
  clientSecretHash?: string | undefined;
  /**
   * Epoch milliseconds after which the secret is refused; 0 means never. The registration response converts
   * it to the epoch seconds of RFC 7591 §3.2.1 `client_secret_expires_at`.
   */
  clientSecretExpiresAt?: number | undefined;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  /** Scopes the client may request; absent means every scope the server supports. */
  scopes?: string[] | undefined;
  clientName?: string | undefined;
  applicationType?: 'web' | 'native' | undefined;
  /** SHA-256 (base64url) of the RFC 7592 registration access token. */
  registrationAccessTokenHash?: string | undefined;
  /** Every registered metadata member, as returned to the client (never the secret). */
  metadata: Record<string, unknown>;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds after which an unused client disappears; `null` keeps it forever. */
  expiresAt: number | null;
}

/**
 * A user's consent to a client: who, which client, which scopes and resources. Every code, refresh token and
 * access token carries its grant id, so revoking the grant revokes all of them.
 */
export interface GrantRecord {
  grantId: string;
  clientId: string;
  /** The user (or, for client_credentials, the client) the grant speaks for. */
  subject: string;
  scopes: string[];
  resources: string[];
  /** Epoch milliseconds of the user's authentication; ID tokens carry it as OIDC `auth_time` in seconds. */
  authTime?: number | undefined;
  /** Claims the login step returned about the user (name, email, …) for userinfo and ID tokens. */
  claims?: Record<string, unknown> | undefined;
  createdAt: number;
  expiresAt: number;
  /** Epoch milliseconds of revocation; a revoked grant authorises nothing. */
  revokedAt?: number | undefined;
  /** The upstream identity provider's tokens, encrypted (a compact JWE); never sent to clients. */
  upstreamTokens?: string | undefined;
}

/**
 * An issued authorization code, stored under the hash of the code.
 *
 * @see [OAuth 2.1 §4.1.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.2)
 */
export interface AuthorizationCodeRecord {
  codeHash: string;
  grantId: string;
  clientId: string;
  subject: string;
  redirectUri: string;
  codeChallenge?: string | undefined;
  codeChallengeMethod?: 'S256' | undefined;
  scopes: string[];
  resources: string[];
  nonce?: string | undefined;
  /** Epoch milliseconds of the user's authentication. */
  authTime?: number | undefined;
  createdAt: number;
  expiresAt: number;
}

/** What {@link Store.consumeAuthorizationCode} found. */
export interface ConsumedAuthorizationCode {
  record: AuthorizationCodeRecord;
  /** True for exactly one caller per code; false for every replay. */
  firstUse: boolean;
}

/**
 * A refresh token, stored under its hash. Tokens of one grant form a family; rotation marks the presented
 * token rotated and inserts its successor in one atomic step.
 */
export interface RefreshTokenRecord {
  tokenHash: string;
  grantId: string;
  clientId: string;
  subject: string;
  scopes: string[];
  resources: string[];
  createdAt: number;
  expiresAt: number;
  /** Epoch milliseconds at which this token was rotated out; set by the store. */
  rotatedAt?: number | undefined;
}

/** The outcome of {@link Store.rotateRefreshToken}. */
export type RefreshRotation =
  | { status: 'rotated'; previous: RefreshTokenRecord }
  | { status: 'reused'; previous: RefreshTokenRecord }
  | { status: 'not_found' };

/**
 * A validated authorization request waiting for the user to log in and consent, kept server-side so that
 * nothing in the browser can alter it. Single use: completing or denying it consumes it.
 */
export interface InteractionRecord {
  interactionId: string;
  clientId: string;
  redirectUri: string;
  state?: string | undefined;
  scopes: string[];
  resources: string[];
  codeChallenge: string;
  codeChallengeMethod: 'S256';
  nonce?: string | undefined;
  responseMode: 'query' | 'form_post';
  prompt?: string | undefined;
  maxAge?: number | undefined;
  /** The browser session the interaction belongs to (CSRF binding), when the login pages set one. */
  sessionBinding?: string | undefined;
  /** What an upstream login in progress must keep server-side (provider id, PKCE verifier, nonce, state). */
  loginState?: Record<string, unknown> | undefined;
  createdAt: number;
  expiresAt: number;
}

/**
 * A signed-in browser: created at login, found again through the hash of its cookie. Lasts the configured
 * session timeout (OAUTH_SESSION_TIMEOUT).
 */
export interface BrowserSessionRecord {
  /** SHA-256 (base64url) of the session cookie value. */
  sessionHash: string;
  subject: string;
  claims?: Record<string, unknown> | undefined;
  /** Encrypted upstream tokens of this login (a compact JWE), carried into the grant. */
  upstreamTokens?: string | undefined;
  /** Epoch milliseconds of the authentication, for `max_age` and `auth_time`. */
  authTime: number;
  createdAt: number;
  expiresAt: number;
}

/** A user's remembered consent to a client, for the scopes listed. Asked again when a request wants more. */
export interface ConsentRecord {
  subject: string;
  clientId: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
}

/** A signing key pair, persisted so that a restart keeps issued tokens valid. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /**
   * The private key as a JWK, or, when the server seals keys (`signing.keyEncryption`), `{ encrypted }`
   * holding it sealed. A store keeps the object as given and must not look inside.
   */
  privateJwk: Record<string, unknown>;
  /** The public JWK published at the JWKS endpoint; absent for symmetric keys. */
  publicJwk?: Record<string, unknown> | undefined;
  createdAt: number;
  /** Epoch milliseconds after which the key no longer signs (rotation), though it stays published. */
  retiresAt: number | null;
  /** Epoch milliseconds after which the key is removed from the JWKS (its last tokens have expired). */
  expiresAt: number | null;
}

/**
 * What a revocation covers, in the string form a store keeps: `grant:<grantId>` (every token of a grant),
 * `jti:<jti>` (one access token) or `client:<clientId>` (every token of a deleted client). Build one with
 * {@link grantRevocationKey}, {@link accessTokenRevocationKey} or {@link clientRevocationKey}; a store
 * treats it as an opaque string and returns it unchanged.
 *
 * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
 */
export type RevocationKey = `grant:${string}` | `jti:${string}` | `client:${string}`;

/**
 * The revocation key of every token issued under a grant (a revoked refresh token, a replayed code).
 *
 * @example
 * ```ts
 * await store.addRevocation({ key: grantRevocationKey('grant-1'), revokedAt: now, expiresAt });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)
 */
export function grantRevocationKey(grantId: string): RevocationKey {
  return `grant:${grantId}`;
}

/**
 * The revocation key of one access token, by its `jti` claim.
 *
 * @example
 * ```ts
 * await store.addRevocation({ key: accessTokenRevocationKey(payload.jti), revokedAt: now, expiresAt: payload.exp * 1000 });
 * ```
 * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
 */
export function accessTokenRevocationKey(jti: string): RevocationKey {
  return `jti:${jti}`;
}

/**
 * The revocation key of every token of a client whose registration was deleted.
 *
 * @example
 * ```ts
 * await store.addRevocation({ key: clientRevocationKey('client-1'), revokedAt: now, expiresAt });
 * ```
 * @see [RFC 7592 §2.3](https://www.rfc-editor.org/rfc/rfc7592#section-2.3)
 */
export function clientRevocationKey(clientId: string): RevocationKey {
  return `client:${clientId}`;
}

/** A revoked token, grant or client, kept until the tokens it covers would have expired anyway. */
export interface RevocationRecord {
  /** What is revoked; a store keeps the string as given. */
  key: RevocationKey;
  revokedAt: number;
  expiresAt: number;
}

/** A fixed-window rate-limit counter. */
export interface CounterState {
  count: number;
  /** Epoch milliseconds at which the window closes. */
  resetAt: number;
}

/**
 * The records of Keyward's built-in login pages: signed-in browsers and remembered consents. An optional
 * group of a {@link Store}: the server asks for it only when the built-in login (`login`) is on, and refuses
 * at construction a store that lacks any of these methods.
 *
 * @example
 * ```ts
 * if (!hasLoginStore(store)) console.log('this store serves the token endpoints only, not the login pages');
 * ```
 */
export interface LoginStore {
  saveSession(session: BrowserSessionRecord): Promise<void>;
  getSession(sessionHash: string): Promise<BrowserSessionRecord | null>;
  deleteSession(sessionHash: string): Promise<void>;

  /** Inserts or replaces the consent of `subject` to `clientId`. */
  saveConsent(consent: ConsentRecord): Promise<void>;
  getConsent(subject: string, clientId: string): Promise<ConsentRecord | null>;
}

const LOGIN_STORE_METHODS = ['saveSession', 'getSession', 'deleteSession', 'saveConsent', 'getConsent'] as const;

/**
 * Whether a store has the {@link LoginStore} group the built-in login pages need.
 *
 * @example
 * ```ts
 * if (hasLoginStore(store)) await store.deleteSession(sessionHash);
 * ```
 */
export function hasLoginStore(store: Store): store is Store & LoginStore {
  return LOGIN_STORE_METHODS.every((method) => typeof store[method] === 'function');
}

/**
 * The persistence interface of Keyward. Domain operations, not get/put: the atomic ones
 * (`consumeAuthorizationCode`, `rotateRefreshToken`, `markUsed`, `incrementCounter`) must hold under
 * concurrency across every process that shares the store; a store that cannot guarantee that is not a
 * Keyward store. The browser sessions and consents of the built-in login are an optional group,
 * {@link LoginStore}.
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@keyward/core/memory';
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store: new MemoryStore() });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)
 */
export interface Store extends Partial<LoginStore> {

  getClient(clientId: string): Promise<ClientRecord | null>;
  /** Inserts or replaces a client. */
  saveClient(client: ClientRecord): Promise<void>;
  deleteClient(clientId: string): Promise<void>;

  saveGrant(grant: GrantRecord): Promise<void>;
  getGrant(grantId: string): Promise<GrantRecord | null>;
  /** Every unexpired grant of a subject (revoked ones included), newest first: what a user has connected. */
  listGrants(subject: string): Promise<GrantRecord[]>;
  /**
   * Marks the grant revoked (`revokedAt`). Idempotent. The server refuses codes and refresh tokens of a
   * revoked grant by reading the grant; a store may also delete them, but must keep the grant record itself
   * until it expires.
   */
  revokeGrant(grantId: string, revokedAt: number): Promise<void>;

  saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void>;
  /**
   * Reads a code without consuming it (consumed or not), so the server can check the client, redirect URI
   * and PKCE verifier before it spends the code: a failed attempt must not burn it. `null` when unknown or
   * expired.
   */
  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null>;
  /**
   * Atomically consumes a code. Of any number of concurrent callers exactly one receives `firstUse: true`;
   * later callers receive the record with `firstUse: false` until it expires, so a replay can be detected and
   * its grant revoked. Returns `null` for unknown or expired codes.
   */
  consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null>;

  saveRefreshToken(token: RefreshTokenRecord): Promise<void>;
  /** Reads a refresh token without changing it (rotated ones included); `null` when unknown or expired. */
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /**
   * Compare-and-swap rotation: when the presented token is live and not yet rotated, marks it rotated and
   * inserts `successor` in one atomic step (`rotated`). When it was already rotated, inserts nothing
   * (`reused`). Of N concurrent rotations of one token exactly one gets `rotated`.
   */
  rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation>;

  /** Records a revocation (of a grant or a single access token `jti`). */
  addRevocation(revocation: RevocationRecord): Promise<void>;
  /** Revocations recorded at or after `since` (epoch ms), for the resource server's revocation list. */
  listRevocations(since: number): Promise<RevocationRecord[]>;
  /**
   * Optional push channel: calls `listener` with each revocation any instance records through
   * `addRevocation`, as it is written (PostgreSQL LISTEN/NOTIFY, Redis pub/sub), and returns the function that
   * stops listening. A store without it is polled through `listRevocations`; a store with it is still polled,
   * so a message lost while the connection was down arrives by the next poll.
   *
   * @example
   * ```ts
   * const stop = store.subscribeRevocations?.((revocation) => revoked.set(revocation.key, revocation.expiresAt));
   * ```
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  subscribeRevocations?(listener: (revocation: RevocationRecord) => void): () => void;

  saveInteraction(interaction: InteractionRecord): Promise<void>;
  getInteraction(interactionId: string): Promise<InteractionRecord | null>;
  /** Atomically removes and returns the interaction; of concurrent callers exactly one receives it. */
  consumeInteraction(interactionId: string): Promise<InteractionRecord | null>;

  listSigningKeys(): Promise<SigningKeyRecord[]>;
  saveSigningKey(key: SigningKeyRecord): Promise<void>;

  /**
   * Records a single-use marker (a JWT `jti`, a DPoP proof). Returns true the first time the key is seen
   * before `expiresAt`, false for every later call.
   */
  markUsed(key: string, expiresAt: number): Promise<boolean>;
  /**
   * Adds one to a fixed-window counter and returns its state; a closed window restarts at 1 with
   * `resetAt = clock() + windowMs` (the store's clock, not the engine's).
   */
  incrementCounter(key: string, windowMs: number): Promise<CounterState>;
  /** Reads a counter without changing it; `null` when it was never incremented or its window has closed. */
  getCounter(key: string): Promise<CounterState | null>;

  /** Deletes every expired record; returns how many went. */
  purgeExpired(): Promise<number>;
  /** Releases connections. */
  close?(): Promise<void>;

  /**
   * Whether an error this store threw passes (connection refused or reset, timeout, serialization failure,
   * exhausted pool, closed client): the server answers those with 503 `temporarily_unavailable` and
   * `Retry-After`, and every other error with 500 `server_error`, reported once to `onError`. Synchronous
   * and never throws. Optional: without it the server recognises Node, PostgreSQL and SQLite error codes
   * (`isTransientStoreError`); a store may also throw `StoreUnavailableError` itself.
   */
  isTransientError?(error: unknown): boolean;
}
