/**
 * An in-process {@link Store} for tests, examples and single-instance servers.
 *
 * @module memory-store
 */
import { systemClock, type Clock } from '../protocol/clock.js';
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  ConsentRecord,
  ConsumedAuthorizationCode,
  CounterState,
  GrantRecord,
  InteractionRecord,
  RefreshRotation,
  RefreshTokenRecord,
  RevocationRecord,
  SigningKeyRecord,
  Store,
  StoreCapabilities,
} from './store.js';

/**
 * Options of {@link MemoryStore}.
 *
 * @example
 * ```ts
 * let now = Date.UTC(2030, 0, 1);
 * const store = new MemoryStore({ clock: () => now });
 * ```
 */
export interface MemoryStoreOptions {
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
}

interface CodeEntry {
  record: AuthorizationCodeRecord;
  consumed: boolean;
}

/**
 * A deep copy of a record. Records are plain JSON-like data (objects, arrays, strings, numbers, undefined),
 * which a recursive copy handles about ten times faster than `structuredClone`'s serialisation; anything
 * else inside (a Date in application claims, say) still goes through `structuredClone`.
 */
function copy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copy) as T;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = copy((value as Record<string, unknown>)[key]);
    // An own "__proto__" member (JSON.parse makes one) must stay data, not become the copy's prototype.
    if (key === '__proto__') Object.defineProperty(result, key, { value: member, enumerable: true, writable: true, configurable: true });
    else result[key] = member;
  }
  return result as T;
}

function isExpired(expiresAt: number | null, now: number): boolean {
  return expiresAt !== null && expiresAt <= now;
}

function purge<V>(map: Map<string, V>, expiresAt: (value: V) => number | null, now: number): number {
  let removed = 0;
  for (const [key, value] of map) {
    if (isExpired(expiresAt(value), now)) {
      map.delete(key);
      removed++;
    }
  }
  return removed;
}

/**
 * A {@link Store} that keeps everything in `Map`s of this process. Atomic because every operation reads and
 * writes without yielding to the event loop, but not shared: each server instance has its own data, and a
 * restart loses it (including signing keys, so previously issued tokens stop verifying). Use a database
 * store when you run more than one instance.
 *
 * Records are copied on the way in and out, so mutating a returned record never changes stored state.
 * Expired records are invisible to reads at once; {@link MemoryStore.purgeExpired} frees their memory.
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@keyward/core/memory';
 *
 * const store = new MemoryStore();
 * await store.saveGrant({
 *   grantId: 'grant-1', clientId: 'client-1', subject: 'user-42', scopes: ['mcp:tools'],
 *   resources: ['http://localhost:3009/mcp'], createdAt: Date.now(), expiresAt: Date.now() + 86_400_000,
 * });
 * ```
 */
export class MemoryStore implements Store {
  readonly capabilities: StoreCapabilities = { atomic: true, shared: false };

  readonly #clock: Clock;
  readonly #clients = new Map<string, ClientRecord>();
  readonly #grants = new Map<string, GrantRecord>();
  // Consumed codes stay until expiry so that a replay is recognised as one (and its grant revoked).
  readonly #codes = new Map<string, CodeEntry>();
  readonly #refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly #revocations = new Map<string, RevocationRecord>();
  readonly #interactions = new Map<string, InteractionRecord>();
  readonly #signingKeys = new Map<string, SigningKeyRecord>();
  readonly #sessions = new Map<string, BrowserSessionRecord>();
  /** Keyed by the JSON pair [subject, clientId], which no choice of either can make collide. */
  readonly #consents = new Map<string, ConsentRecord>();
  /** Single-use marker key → its expiresAt. */
  readonly #markers = new Map<string, number>();
  readonly #counters = new Map<string, CounterState>();

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  // Methods are `async` only to satisfy the interface; none awaits, so each one runs to completion before
  // any other store call starts, which is what makes the compare-and-swap operations atomic.

  #live<V extends { expiresAt: number | null }>(map: Map<string, V>, key: string): V | undefined {
    const value = map.get(key);
    return value && !isExpired(value.expiresAt, this.#clock()) ? value : undefined;
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const client = this.#live(this.#clients, clientId);
    return client ? copy(client) : null;
  }

  async saveClient(client: ClientRecord): Promise<void> {
    this.#clients.set(client.clientId, copy(client));
  }

  async deleteClient(clientId: string): Promise<void> {
    this.#clients.delete(clientId);
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    this.#grants.set(grant.grantId, copy(grant));
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    const now = this.#clock();
    return [...this.#grants.values()]
      .filter((grant) => grant.subject === subject && !isExpired(grant.expiresAt, now))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((grant) => copy(grant));
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const grant = this.#live(this.#grants, grantId);
    return grant ? copy(grant) : null;
  }

  /** Keeps the first `revokedAt` when called again, so the revocation time is the one that counted. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    const grant = this.#live(this.#grants, grantId);
    if (grant && grant.revokedAt === undefined) grant.revokedAt = revokedAt;
  }

  async saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    this.#codes.set(code.codeHash, { record: copy(code), consumed: false });
  }

  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const entry = this.#codes.get(codeHash);
    return entry && !isExpired(entry.record.expiresAt, this.#clock()) ? copy(entry.record) : null;
  }

  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const entry = this.#codes.get(codeHash);
    if (!entry || isExpired(entry.record.expiresAt, this.#clock())) return null;
    const firstUse = !entry.consumed;
    entry.consumed = true;
    return { record: copy(entry.record), firstUse };
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    this.#refreshTokens.set(token.tokenHash, copy(token));
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const token = this.#live(this.#refreshTokens, tokenHash);
    return token ? copy(token) : null;
  }

  /**
   * `previous` is the presented token as stored after this call: with `rotatedAt` set to the clock's time for
   * `rotated`, and with its original `rotatedAt` for `reused`.
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const now = this.#clock();
    const presented = this.#refreshTokens.get(presentedHash);
    if (!presented || isExpired(presented.expiresAt, now)) return { status: 'not_found' };
    if (presented.rotatedAt !== undefined) return { status: 'reused', previous: copy(presented) };
    presented.rotatedAt = now;
    this.#refreshTokens.set(successor.tokenHash, copy(successor));
    return { status: 'rotated', previous: copy(presented) };
  }

  async addRevocation(revocation: RevocationRecord): Promise<void> {
    this.#revocations.set(revocation.key, copy(revocation));
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const now = this.#clock();
    return [...this.#revocations.values()]
      .filter((revocation) => revocation.revokedAt >= since && !isExpired(revocation.expiresAt, now))
      .sort((a, b) => a.revokedAt - b.revokedAt)
      .map((revocation) => copy(revocation));
  }

  async saveInteraction(interaction: InteractionRecord): Promise<void> {
    this.#interactions.set(interaction.interactionId, copy(interaction));
  }

  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const interaction = this.#live(this.#interactions, interactionId);
    return interaction ? copy(interaction) : null;
  }

  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const interaction = this.#live(this.#interactions, interactionId);
    this.#interactions.delete(interactionId);
    return interaction ?? null;
  }

  async saveSession(session: BrowserSessionRecord): Promise<void> {
    this.#sessions.set(session.sessionHash, copy(session));
  }

  async getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    const session = this.#live(this.#sessions, sessionHash);
    return session ? copy(session) : null;
  }

  async deleteSession(sessionHash: string): Promise<void> {
    this.#sessions.delete(sessionHash);
  }

  async saveConsent(consent: ConsentRecord): Promise<void> {
    this.#consents.set(JSON.stringify([consent.subject, consent.clientId]), copy(consent));
  }

  async getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    const consent = this.#live(this.#consents, JSON.stringify([subject, clientId]));
    return consent ? copy(consent) : null;
  }

  /** Keys past their `expiresAt` are left out: their last tokens have expired, so nothing needs them. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const now = this.#clock();
    return [...this.#signingKeys.values()]
      .filter((key) => !isExpired(key.expiresAt, now))
      .map((key) => copy(key));
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#signingKeys.set(key.kid, copy(key));
  }

  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const existing = this.#markers.get(key);
    if (existing !== undefined && !isExpired(existing, this.#clock())) return false;
    this.#markers.set(key, expiresAt);
    return true;
  }

  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const now = this.#clock();
    const counter = this.#counters.get(key);
    if (counter && counter.resetAt > now) {
      counter.count++;
      return { ...counter };
    }
    const fresh = { count: 1, resetAt: now + windowMs };
    this.#counters.set(key, fresh);
    return { ...fresh };
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const counter = this.#counters.get(key);
    return counter && counter.resetAt > this.#clock() ? { ...counter } : null;
  }

  /** Closed counter windows count as expired records too. */
  async purgeExpired(): Promise<number> {
    const now = this.#clock();
    return (
      purge(this.#clients, (client) => client.expiresAt, now) +
      purge(this.#grants, (grant) => grant.expiresAt, now) +
      purge(this.#codes, (entry) => entry.record.expiresAt, now) +
      purge(this.#refreshTokens, (token) => token.expiresAt, now) +
      purge(this.#revocations, (revocation) => revocation.expiresAt, now) +
      purge(this.#interactions, (interaction) => interaction.expiresAt, now) +
      purge(this.#signingKeys, (key) => key.expiresAt, now) +
      purge(this.#sessions, (session) => session.expiresAt, now) +
      purge(this.#consents, (consent) => consent.expiresAt, now) +
      purge(this.#markers, (expiresAt) => expiresAt, now) +
      purge(this.#counters, (counter) => counter.resetAt, now)
    );
  }
}
