/**
 * The Redis {@link Store}, shared by every server instance that connects to the same Redis.
 *
 * @module
 */
import { Redis, type ChainableCommander } from 'ioredis';
import { isTransientStoreError, systemClock } from '@keyward/core';
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  Clock,
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
} from '@keyward/core';
import {
  CONSUME_CODE,
  INCREMENT_COUNTER,
  MARK_USED,
  PURGE_EXPIRED,
  REVOKE_GRANT,
  ROTATE_REFRESH_TOKEN,
} from './scripts.js';

/**
 * Options of {@link RedisStore}: a client (yours, or one the store opens from `url`), the prefix of its
 * keys and, for tests, the clock that decides expiry.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: process.env.REDIS_URL, keyPrefix: 'auth:' };
 * ```
 */
export interface RedisStoreOptions {
  /** Where to connect when no `client` is given, e.g. `redis://redis.internal:6379/0`; default localhost. */
  url?: string | undefined;
  /**
   * An ioredis client to use instead, e.g. the application's own; the store does not close it. Give it a low
   * `maxRetriesPerRequest` so calls fail fast during an outage, and no ioredis `keyPrefix` (use the
   * store's: its purge script names keys itself).
   */
  client?: Redis | undefined;
  /** Prepended to every key, so several stores (or applications) can share one Redis; default `keyward:`. */
  keyPrefix?: string | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
}

/**
 * How long Redis keeps a key after the store's clock says it expired. Expiry is the store's decision; the
 * TTL only frees memory, and the margin makes sure clock skew between a server and Redis never evicts a
 * consumed code or a replay marker early (which would turn a replay into a first use).
 */
const TTL_MARGIN_MS = 60_000;
/** Index entries one purge script handles, so a large purge never blocks Redis for long. */
const PURGE_BATCH = 500;

type Script = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/** Registers a Lua script on the client once (EVALSHA, falling back to EVAL) and returns a caller for it. */
function defineScript(redis: Redis, name: string, numberOfKeys: number, lua: string): Script {
  const commands = redis as unknown as Record<string, Script | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  return (...keysThenArgs) => commands[name]!(...keysThenArgs);
}

/** Runs a MULTI and throws the first command error rather than returning it among the results. */
async function execAll(multi: ChainableCommander): Promise<void> {
  const results = await multi.exec();
  if (!results) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
}

function keyLayout(prefix: string) {
  return {
    client: (clientId: string) => `${prefix}client:${clientId}`,
    grant: (grantId: string) => `${prefix}grant:${grantId}`,
    subjectGrants: (subject: string) => `${prefix}subject-grants:${encodeURIComponent(subject)}`,
    code: (codeHash: string) => `${prefix}code:${codeHash}`,
    refreshToken: (tokenHash: string) => `${prefix}refresh:${tokenHash}`,
    interaction: (interactionId: string) => `${prefix}interaction:${interactionId}`,
    session: (sessionHash: string) => `${prefix}session:${sessionHash}`,
    // Encoded so that no subject or client id containing ':' can collide with another pair.
    consent: (subject: string, clientId: string) =>
      `${prefix}consent:${encodeURIComponent(subject)}:${encodeURIComponent(clientId)}`,
    revocationPrefix: `${prefix}revocation:`,
    revocations: `${prefix}revocations`,
    revocationChannel: `${prefix}revocations:channel`,
    signingKeyPrefix: `${prefix}signing-key:`,
    signingKeys: `${prefix}signing-keys`,
    marker: (key: string) => `${prefix}used:${key}`,
    counter: (key: string) => `${prefix}counter:${key}`,
    expiries: `${prefix}expiries`,
  };
}

const isLive = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

/**
 * Before store contract v2, `clientSecretExpiresAt` and `authTime` were epoch seconds, and Redis still holds
 * such records. A value below 10^11 can only be seconds (10^11 ms is March 1973, 10^11 s the year 5138).
 */
const LEGACY_SECONDS_BELOW = 100_000_000_000;
const inMilliseconds = (time: number): number => (time > 0 && time < LEGACY_SECONDS_BELOW ? time * 1000 : time);

/** Reads a record written before contract v2 with its seconds as milliseconds; newer records pass unchanged. */
function withMilliseconds<T extends object>(record: T): T {
  const times = record as { authTime?: unknown; clientSecretExpiresAt?: unknown };
  if (typeof times.authTime === 'number') times.authTime = inMilliseconds(times.authTime);
  if (typeof times.clientSecretExpiresAt === 'number') times.clientSecretExpiresAt = inMilliseconds(times.clientSecretExpiresAt);
  return record;
}

/**
 * A {@link Store} in Redis (6.2 or later), through ioredis. Shared: any number of server instances can use
 * the same Redis. Atomic by Redis's own means: consuming a code, rotating a refresh token, revoking a grant,
 * taking a replay marker and counting are Lua scripts (run to completion, nothing interleaves), taking an
 * interaction is `GETDEL`, and every save is one `MULTI`.
 *
 * Expiry is judged by the store's clock, in the scripts and after every read. Each key also gets a
 * `PEXPIREAT` a minute past its record's `expiresAt`, so Redis frees the memory by itself; run
 * {@link RedisStore.purgeExpired} periodically anyway to remove what the clock has expired sooner and to
 * prune the revocation and signing-key indexes. Key layout (after `keyPrefix`, default `keyward:`):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `client:<clientId>`, `interaction:<id>`, `session:<hash>`, `consent:<subject>:<clientId>`, `revocation:<key>`, `signing-key:<kid>` | string | the record as JSON |
 * | `grant:<id>`, `code:<hash>`, `refresh:<hash>` | hash | `record` (JSON), `expiresAt`, and the state the store sets: `revokedAt`, `consumedAt`, `rotatedAt` |
 * | `used:<key>` | string | a replay marker's `expiresAt` |
 * | `counter:<key>` | hash | `count`, `resetAt` |
 * | `revocations` | sorted set | revocation keys by `revokedAt` |
 * | `signing-keys` | set | kids |
 * | `expiries` | sorted set | every expiring key by its `expiresAt`, for `purgeExpired` |
 *
 * When Redis is unreachable every method rejects promptly (a client the store opens retries a command once
 * and times out after 5 s) instead of queueing forever, so the server can answer 503; ioredis keeps
 * reconnecting and calls succeed again once Redis is back. Not for Redis Cluster unless every key shares
 * a slot: scripts touch several keys, so use a hash-tagged prefix such as `{keyward}:`.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { RedisStore } from '@keyward/store-redis';
 *
 * const store = new RedisStore({ url: process.env.REDIS_URL });
 * const server = new AuthorizationServer({ issuer: 'https://auth.example.com', store });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export class RedisStore implements Store {
  readonly #redis: Redis;
  readonly #ownsClient: boolean;
  readonly #listeners = new Set<(revocation: RevocationRecord) => void>();
  /** The connection subscribed to revocations while anyone listens. */
  #subscriber: Redis | undefined;
  readonly #clock: Clock;
  readonly #keys: ReturnType<typeof keyLayout>;
  readonly #scripts: Record<
    'consumeCode' | 'rotateRefreshToken' | 'revokeGrant' | 'markUsed' | 'incrementCounter' | 'purgeExpired',
    Script
  >;

  constructor(options: RedisStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#keys = keyLayout(options.keyPrefix ?? 'keyward:');
    if (options.client) {
      this.#redis = options.client;
      this.#ownsClient = false;
    } else {
      // Retrying a command once and timing it out means a request fails in seconds during an outage
      // rather than waiting in ioredis's offline queue for as long as Redis is gone.
      const connection = { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 5_000 };
      this.#redis = options.url ? new Redis(options.url, connection) : new Redis(connection);
      this.#ownsClient = true;
      // Connection errors are also emitted here on every reconnect attempt; the commands they affect reject
      // with them, which is where they are reported. Without a listener ioredis logs each one.
      this.#redis.on('error', () => undefined);
    }
    const redis = this.#redis;
    this.#scripts = {
      consumeCode: defineScript(redis, 'keywardConsumeCode', 1, CONSUME_CODE),
      rotateRefreshToken: defineScript(redis, 'keywardRotateRefreshToken', 3, ROTATE_REFRESH_TOKEN),
      revokeGrant: defineScript(redis, 'keywardRevokeGrant', 1, REVOKE_GRANT),
      markUsed: defineScript(redis, 'keywardMarkUsed', 2, MARK_USED),
      incrementCounter: defineScript(redis, 'keywardIncrementCounter', 2, INCREMENT_COUNTER),
      purgeExpired: defineScript(redis, 'keywardPurgeExpired', 3, PURGE_EXPIRED),
    };
  }

  /** Adds the commands that give `key` its TTL and its place in the expiry index (or take them away). */
  #expireAt(multi: ChainableCommander, key: string, expiresAt: number | null): ChainableCommander {
    if (expiresAt === null) return multi.persist(key).zrem(this.#keys.expiries, key);
    return multi.pexpireat(key, expiresAt + TTL_MARGIN_MS).zadd(this.#keys.expiries, expiresAt, key);
  }

  /** A record that is only ever replaced, as a JSON string. */
  #setJson(multi: ChainableCommander, key: string, record: { expiresAt: number | null }): ChainableCommander {
    return this.#expireAt(multi.set(key, JSON.stringify(record)), key, record.expiresAt);
  }

  /**
   * A record the store changes in place, as a hash: the record's JSON, its expiresAt for the scripts, and
   * the state field (`revokedAt`, `rotatedAt`) when the record already carries it.
   */
  async #saveHash(key: string, record: { expiresAt: number }, state: Record<string, number | undefined> = {}) {
    const fields: Record<string, string> = { record: JSON.stringify(record), expiresAt: String(record.expiresAt) };
    for (const [field, value] of Object.entries(state)) if (value !== undefined) fields[field] = String(value);
    await execAll(this.#expireAt(this.#redis.multi().del(key).hset(key, fields), key, record.expiresAt));
  }

  /** Reads a JSON string record, `null` when absent or expired by the store's clock. */
  async #getJson<T extends { expiresAt: number | null }>(key: string): Promise<T | null> {
    const json = await this.#redis.get(key);
    return this.#liveJson<T>(json);
  }

  #liveJson<T extends { expiresAt: number | null }>(json: string | null): T | null {
    if (json === null) return null;
    const record = withMilliseconds(JSON.parse(json) as T);
    return isLive(record.expiresAt, this.#clock()) ? record : null;
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#getJson<ClientRecord>(this.#keys.client(clientId));
  }

  async saveClient(client: ClientRecord): Promise<void> {
    await execAll(this.#setJson(this.#redis.multi(), this.#keys.client(client.clientId), client));
  }

  async deleteClient(clientId: string): Promise<void> {
    await this.#redis.del(this.#keys.client(clientId));
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    const { revokedAt, ...record } = grant;
    await this.#saveHash(this.#keys.grant(grant.grantId), record, { revokedAt });
    // The subject's index of grant ids; entries of expired grants are skipped on read and pruned there.
    const index = this.#keys.subjectGrants(grant.subject);
    await execAll(this.#redis.multi().sadd(index, grant.grantId).pexpireat(index, grant.expiresAt + TTL_MARGIN_MS));
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    const index = this.#keys.subjectGrants(subject);
    const ids = await this.#redis.smembers(index);
    const grants = await Promise.all(ids.map((id) => this.getGrant(id)));
    const gone = ids.filter((_, i) => grants[i] === null);
    if (gone.length) await this.#redis.srem(index, ...gone);
    return grants.filter((grant): grant is GrantRecord => grant !== null && grant.subject === subject).sort((a, b) => b.createdAt - a.createdAt);
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const [json, revokedAt] = await this.#redis.hmget(this.#keys.grant(grantId), 'record', 'revokedAt');
    const grant = this.#liveJson<GrantRecord>(json ?? null);
    return grant && revokedAt ? { ...grant, revokedAt: Number(revokedAt) } : grant;
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    await this.#scripts.revokeGrant(this.#keys.grant(grantId), revokedAt, this.#clock());
  }

  /** Saving a code again replaces it, unconsumed. */
  async saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    await this.#saveHash(this.#keys.code(code.codeHash), code);
  }

  /** One script: HSETNX of `consumedAt` succeeds for exactly one caller; later callers get the replay answer. */
  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const json = await this.#redis.hget(this.#keys.code(codeHash), 'record');
    return this.#liveJson<AuthorizationCodeRecord>(json ?? null);
  }

  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const result = (await this.#scripts.consumeCode(this.#keys.code(codeHash), this.#clock())) as
      | [record: string, firstUse: number]
      | null;
    return result ? { record: withMilliseconds(JSON.parse(result[0]) as AuthorizationCodeRecord), firstUse: result[1] === 1 } : null;
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    const { rotatedAt, ...record } = token;
    await this.#saveHash(this.#keys.refreshToken(token.tokenHash), record, { rotatedAt });
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const [json, rotatedAt] = await this.#redis.hmget(this.#keys.refreshToken(tokenHash), 'record', 'rotatedAt');
    const token = this.#liveJson<RefreshTokenRecord>(json ?? null);
    return token && rotatedAt ? { ...token, rotatedAt: Number(rotatedAt) } : token;
  }

  /**
   * One script checks the presented token, marks it rotated and writes the successor; `previous` carries the
   * `rotatedAt` it set (or, on reuse, the one set earlier).
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const { rotatedAt: _successorIsFresh, ...successorRecord } = successor;
    const successorKey = this.#keys.refreshToken(successor.tokenHash);
    const result = (await this.#scripts.rotateRefreshToken(
      this.#keys.refreshToken(presentedHash),
      successorKey,
      this.#keys.expiries,
      this.#clock(),
      JSON.stringify(successorRecord),
      successor.expiresAt,
      successor.expiresAt + TTL_MARGIN_MS,
    )) as [status: 'rotated' | 'reused', record: string, rotatedAt: string] | null;
    if (!result) return { status: 'not_found' };
    const [status, json, rotatedAt] = result;
    return { status, previous: { ...(JSON.parse(json) as RefreshTokenRecord), rotatedAt: Number(rotatedAt) } };
  }

  async addRevocation(revocation: RevocationRecord): Promise<void> {
    // Published in the same MULTI, so a subscribed instance hears of it exactly when it is written.
    const multi = this.#redis
      .multi()
      .zadd(this.#keys.revocations, revocation.revokedAt, revocation.key)
      .publish(this.#keys.revocationChannel, JSON.stringify(revocation));
    await execAll(this.#setJson(multi, this.#keys.revocationPrefix + revocation.key, revocation));
  }

  /**
   * Pushes each revocation any instance records to `listener`, through Redis pub/sub on the channel
   * `<keyPrefix>revocations:channel`, over a second connection (a subscribed connection can do nothing else)
   * held while anyone listens. ioredis reconnects and resubscribes after an outage; the revocation list's
   * polling covers what was published meanwhile.
   *
   * @example
   * ```ts
   * const stop = store.subscribeRevocations((revocation) => console.log(revocation.key));
   * ```
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  subscribeRevocations(listener: (revocation: RevocationRecord) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#subscriber) {
      const subscriber = this.#redis.duplicate({ lazyConnect: false });
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.#keys.revocationChannel) return;
        const revocation = JSON.parse(message) as RevocationRecord;
        for (const each of this.#listeners) each(revocation);
      });
      // A revocation published while SUBSCRIBE was in flight reached nobody: once subscribed, hand the
      // listeners what is stored, so the push leaves no gap for the polling to close.
      subscriber
        .subscribe(this.#keys.revocationChannel)
        .then(() => this.listRevocations(0))
        .then((revocations) => {
          for (const revocation of revocations) for (const each of this.#listeners) each(revocation);
        })
        .catch(() => undefined);
      this.#subscriber = subscriber;
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#unsubscribe();
    };
  }

  #unsubscribe(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const keys = await this.#redis.zrangebyscore(this.#keys.revocations, since, '+inf');
    if (keys.length === 0) return [];
    const records = await this.#redis.mget(keys.map((key) => this.#keys.revocationPrefix + key));
    return records.flatMap((json) => this.#liveJson<RevocationRecord>(json) ?? []);
  }

  async saveInteraction(interaction: InteractionRecord): Promise<void> {
    const key = this.#keys.interaction(interaction.interactionId);
    await execAll(this.#setJson(this.#redis.multi(), key, interaction));
  }

  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    return this.#getJson<InteractionRecord>(this.#keys.interaction(interactionId));
  }

  /** `GETDEL`: the record goes to whichever caller deleted it; an expired one is deleted, unanswered. */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    return this.#liveJson<InteractionRecord>(await this.#redis.getdel(this.#keys.interaction(interactionId)));
  }

  async saveSession(session: BrowserSessionRecord): Promise<void> {
    await execAll(this.#setJson(this.#redis.multi(), this.#keys.session(session.sessionHash), session));
  }

  async getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    return this.#getJson<BrowserSessionRecord>(this.#keys.session(sessionHash));
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.#redis.del(this.#keys.session(sessionHash));
  }

  /** One key per (subject, client), replaced when saved again. */
  async saveConsent(consent: ConsentRecord): Promise<void> {
    const key = this.#keys.consent(consent.subject, consent.clientId);
    await execAll(this.#setJson(this.#redis.multi(), key, consent));
  }

  async getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    return this.#getJson<ConsentRecord>(this.#keys.consent(subject, clientId));
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const kids = await this.#redis.smembers(this.#keys.signingKeys);
    if (kids.length === 0) return [];
    const records = await this.#redis.mget(kids.map((kid) => this.#keys.signingKeyPrefix + kid));
    return records
      .flatMap((json) => this.#liveJson<SigningKeyRecord>(json) ?? [])
      .sort((a, b) => a.createdAt - b.createdAt || a.kid.localeCompare(b.kid));
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    const multi = this.#redis.multi().sadd(this.#keys.signingKeys, key.kid);
    await execAll(this.#setJson(multi, this.#keys.signingKeyPrefix + key.kid, key));
  }

  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const marker = this.#keys.marker(key);
    const taken = await this.#scripts.markUsed(marker, this.#keys.expiries, this.#clock(), expiresAt, expiresAt + TTL_MARGIN_MS);
    return taken === 1;
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const [count, resetAt] = await this.#redis.hmget(this.#keys.counter(key), 'count', 'resetAt');
    if (count === null || count === undefined || !resetAt || Number(resetAt) <= this.#clock()) return null;
    return { count: Number(count), resetAt: Number(resetAt) };
  }

  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const now = this.#clock();
    const resetAt = now + windowMs;
    const [count, currentResetAt] = (await this.#scripts.incrementCounter(
      this.#keys.counter(key),
      this.#keys.expiries,
      now,
      resetAt,
      resetAt + TTL_MARGIN_MS,
    )) as [number, string];
    return { count, resetAt: Number(currentResetAt) };
  }

  /**
   * Deletes every record whose `expiresAt` the store's clock has passed (closed counter windows included)
   * and prunes the indexes, in batches of atomic scripts.
   */
  async purgeExpired(): Promise<number> {
    const now = this.#clock();
    let removed = 0;
    for (;;) {
      const [deleted, processed] = (await this.#scripts.purgeExpired(
        this.#keys.expiries,
        this.#keys.revocations,
        this.#keys.signingKeys,
        now,
        this.#keys.revocationPrefix,
        this.#keys.signingKeyPrefix,
        PURGE_BATCH,
      )) as [number, number];
      removed += deleted;
      if (processed < PURGE_BATCH) return removed;
    }
  }

  /** Closes the connection if the store opened it; a client passed in as `client` stays open. */
  async close(): Promise<void> {
    this.#listeners.clear();
    this.#unsubscribe();
    if (!this.#ownsClient || this.#redis.status === 'end') return;
    if (this.#redis.status === 'ready') await this.#redis.quit();
    else this.#redis.disconnect();
  }

  /**
   * Store contract v2: errors that pass. Node network codes ({@link isTransientStoreError}), and ioredis's
   * own: a closed or unwritable connection, retries or a command timeout exhausted, and the replies of a
   * Redis that is loading, busy with a script or failing over.
   */
  isTransientError(error: unknown): boolean {
    if (isTransientStoreError(error)) return true;
    if (!(error instanceof Error)) return false;
    return error.name === 'MaxRetriesPerRequestError' || REDIS_TRANSIENT_MESSAGE.test(error.message);
  }
}

/** ioredis errors and Redis replies that mean Redis is out of reach for now. */
const REDIS_TRANSIENT_MESSAGE =
  /^(Connection is closed|Command timed out|Stream isn't writeable|Reached the max retries per request limit|LOADING |BUSY |TRYAGAIN |CLUSTERDOWN |MASTERDOWN |READONLY )/;
