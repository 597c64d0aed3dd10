/**
 * The PostgreSQL {@link Store}, shared by every server instance that connects to the same database.
 *
 * @module
 */
import pg from 'pg';
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
import { DEFAULT_SCHEMA, migrate, quoteSchema } from './migrations.js';
import {
  clientFromRow,
  clientToRow,
  codeFromRow,
  codeToRow,
  consentFromRow,
  consentToRow,
  grantFromRow,
  grantToRow,
  interactionFromRow,
  interactionToRow,
  refreshTokenFromRow,
  refreshTokenToRow,
  revocationFromRow,
  revocationToRow,
  sessionFromRow,
  sessionToRow,
  signingKeyFromRow,
  signingKeyToRow,
  type ClientRow,
  type CodeRow,
  type ConsentRow,
  type GrantRow,
  type InteractionRow,
  type RefreshTokenRow,
  type RevocationRow,
  type Row,
  type SessionRow,
  type SigningKeyRow,
} from './rows.js';
import { inTransaction } from './transaction.js';

/**
 * Options of {@link PostgresStore}: a pool (yours, or one the store opens from `connectionString`), the
 * schema of its tables, whether it migrates them on first use, and, for tests, the clock that decides
 * expiry.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { connectionString: process.env.DATABASE_URL, schema: 'keyward' };
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * Where to connect when no `pool` is given, e.g. `postgres://keyward@db.internal:5432/app`. Without
   * either, pg reads the `PG*` environment variables.
   */
  connectionString?: string | undefined;
  /** A pool to use instead, e.g. the application's own; the store does not end it on `close()`. */
  pool?: pg.Pool | undefined;
  /** The schema holding the store's tables, created when missing; defaults to `keyward`. */
  schema?: string | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
  /**
   * Whether to apply pending migrations before the first query (default `true`). Pass `false` when a
   * deployment step runs {@link migrate} and the store's role may only read and write rows.
   */
  migrate?: boolean | undefined;
}

const TABLES = [
  'clients',
  'grants',
  'authorization_codes',
  'refresh_tokens',
  'interactions',
  'revocations',
  'signing_keys',
  'sessions',
  'consents',
  'used_markers',
  'counters',
] as const;
type Table = (typeof TABLES)[number];

/** The column that says when a row of each table expires, for {@link PostgresStore.purgeExpired}. */
const EXPIRY_COLUMNS: Record<Table, string> = {
  clients: 'expires_at',
  grants: 'expires_at',
  authorization_codes: 'expires_at',
  refresh_tokens: 'expires_at',
  interactions: 'expires_at',
  revocations: 'expires_at',
  signing_keys: 'expires_at',
  sessions: 'expires_at',
  consents: 'expires_at',
  used_markers: 'expires_at',
  counters: 'reset_at',
};

/**
 * `INSERT` of a whole row as a parameterised statement. Given the primary key's columns, a row with the same
 * key is replaced (every other column overwritten), which is what the store's `save…` methods promise.
 */
function insertRow(table: string, row: Row, replaceKey?: readonly string[]): pg.QueryConfig {
  const columns = Object.keys(row);
  const placeholders = columns.map((_, index) => `$${index + 1}`);
  const replace = replaceKey
    ? ` ON CONFLICT (${replaceKey.join(', ')}) DO UPDATE SET ${columns
        .filter((column) => !replaceKey.includes(column))
        .map((column) => `${column} = EXCLUDED.${column}`)
        .join(', ')}`
    : '';
  return {
    text: `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders.join(', ')})${replace}`,
    values: Object.values(row),
  };
}

/**
 * A {@link Store} in PostgreSQL, through a pg pool. Shared: any number of server instances can use the
 * same database. Atomic by PostgreSQL's own means, with no read-then-write window: codes are consumed by a
 * guarded `UPDATE … WHERE consumed_at IS NULL … RETURNING`, refresh tokens rotated by a guarded `UPDATE`
 * and the successor's `INSERT` in one transaction, interactions taken by `DELETE … RETURNING`, replay
 * markers and counters kept by `INSERT … ON CONFLICT DO UPDATE`.
 *
 * The tables live in their own schema (`keyward` by default), migrated on first use (see {@link migrate}).
 * Expiry is judged by the store's clock in every query; expired rows stay, invisible, until
 * {@link PostgresStore.purgeExpired} deletes them, so run that periodically from one instance.
 *
 * When the database is unreachable, every method rejects with pg's error (a store it opens itself gives up
 * connecting after 5 s), so the server can answer 503; the pool reconnects once the database is back.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { PostgresStore } from '@keyward/store-postgres';
 *
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL });
 * await store.init(); // optional: migrate and fail fast at start-up instead of on the first request
 * const server = new AuthorizationServer({ issuer: 'https://auth.example.com', store });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #clock: Clock;
  readonly #migrate: boolean;
  /** Qualified table names, e.g. `"keyward".clients`. */
  readonly #t: Record<Table, string>;
  readonly #purgeSql: string;
  #ready: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions = {}) {
    this.#schema = options.schema ?? DEFAULT_SCHEMA;
    const schema = quoteSchema(this.#schema);
    this.#t = Object.fromEntries(TABLES.map((table) => [table, `${schema}.${table}`])) as Record<Table, string>;
    this.#clock = options.clock ?? systemClock;
    this.#migrate = options.migrate ?? true;
    if (options.pool) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      this.#pool = new pg.Pool({ connectionString: options.connectionString, connectionTimeoutMillis: 5_000 });
      this.#ownsPool = true;
      // An idle connection that breaks (database restarted) is emitted here and dropped by the pool; without
      // a listener Node would crash the process. The next query opens a fresh connection or rejects.
      this.#pool.on('error', () => undefined);
    }
    // One statement deleting from every table, so a purge costs one round trip.
    const deletions = TABLES.map(
      (table, index) => `d${index} AS (DELETE FROM ${this.#t[table]} WHERE ${EXPIRY_COLUMNS[table]} <= $1 RETURNING 1)`,
    );
    const counts = TABLES.map((_, index) => `(SELECT count(*) FROM d${index})`);
    this.#purgeSql = `WITH ${deletions.join(', ')} SELECT ${counts.join(' + ')} AS removed`;
  }

  /**
   * Applies pending migrations (unless constructed with `migrate: false`). Every method waits for this, so
   * calling it is optional; call it at start-up to fail fast when the database is unreachable. A failed
   * attempt is retried by the next call.
   */
  async init(): Promise<void> {
    if (!this.#migrate) return;
    this.#ready ??= migrate(this.#pool, { schema: this.#schema }).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  async #query<R extends pg.QueryResultRow>(query: string | pg.QueryConfig, values?: unknown[]): Promise<R[]> {
    await this.init();
    const result = typeof query === 'string' ? await this.#pool.query<R>(query, values) : await this.#pool.query<R>(query);
    return result.rows;
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const [row] = await this.#query<ClientRow>(
      `SELECT * FROM ${this.#t.clients} WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [clientId, this.#clock()],
    );
    return row ? clientFromRow(row) : null;
  }

  async saveClient(client: ClientRecord): Promise<void> {
    await this.#query(insertRow(this.#t.clients, clientToRow(client), ['client_id']));
  }

  async deleteClient(clientId: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#t.clients} WHERE client_id = $1`, [clientId]);
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    await this.#query(insertRow(this.#t.grants, grantToRow(grant), ['grant_id']));
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    const rows = await this.#query<GrantRow>(
      `SELECT * FROM ${this.#t.grants} WHERE subject = $1 AND expires_at > $2 ORDER BY created_at DESC`,
      [subject, this.#clock()],
    );
    return rows.map(grantFromRow);
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const [row] = await this.#query<GrantRow>(`SELECT * FROM ${this.#t.grants} WHERE grant_id = $1 AND expires_at > $2`, [
      grantId,
      this.#clock(),
    ]);
    return row ? grantFromRow(row) : null;
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    await this.#query(
      `UPDATE ${this.#t.grants} SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL AND expires_at > $3`,
      [grantId, revokedAt, this.#clock()],
    );
  }

  /** Saving a code again replaces it, unconsumed. */
  async saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    await this.#query(insertRow(this.#t.authorization_codes, codeToRow(code), ['code_hash']));
  }

  /**
   * The guarded UPDATE hits the row for exactly one caller (PostgreSQL re-checks `consumed_at IS NULL` after
   * waiting for a concurrent update's lock); every later caller reads the consumed row as a replay.
   */
  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const [row] = await this.#query<CodeRow>(`SELECT * FROM ${this.#t.authorization_codes} WHERE code_hash = $1 AND expires_at > $2`, [
      codeHash,
      this.#clock(),
    ]);
    return row ? codeFromRow(row) : null;
  }

  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const now = this.#clock();
    const [consumed] = await this.#query<CodeRow>(
      `UPDATE ${this.#t.authorization_codes} SET consumed_at = $2
       WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING *`,
      [codeHash, now],
    );
    if (consumed) return { record: codeFromRow(consumed), firstUse: true };
    const [replayed] = await this.#query<CodeRow>(
      `SELECT * FROM ${this.#t.authorization_codes} WHERE code_hash = $1 AND expires_at > $2`,
      [codeHash, now],
    );
    return replayed ? { record: codeFromRow(replayed), firstUse: false } : null;
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.#query(insertRow(this.#t.refresh_tokens, refreshTokenToRow(token), ['token_hash']));
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const [row] = await this.#query<RefreshTokenRow>(
      `SELECT * FROM ${this.#t.refresh_tokens} WHERE token_hash = $1 AND expires_at > $2`,
      [tokenHash, this.#clock()],
    );
    return row ? refreshTokenFromRow(row) : null;
  }

  /**
   * Marks the presented token rotated with a guarded UPDATE and inserts the successor in the same
   * transaction; `previous` carries the `rotatedAt` the store set (or, on reuse, the one set earlier).
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    await this.init();
    const now = this.#clock();
    return inTransaction(this.#pool, async (client) => {
      const rotated = await client.query<RefreshTokenRow>(
        `UPDATE ${this.#t.refresh_tokens} SET rotated_at = $2
         WHERE token_hash = $1 AND rotated_at IS NULL AND expires_at > $2 RETURNING *`,
        [presentedHash, now],
      );
      if (rotated.rows[0]) {
        await client.query(insertRow(this.#t.refresh_tokens, refreshTokenToRow(successor)));
        return { status: 'rotated', previous: refreshTokenFromRow(rotated.rows[0]) };
      }
      const presented = await client.query<RefreshTokenRow>(
        `SELECT * FROM ${this.#t.refresh_tokens} WHERE token_hash = $1 AND expires_at > $2`,
        [presentedHash, now],
      );
      return presented.rows[0]
        ? { status: 'reused', previous: refreshTokenFromRow(presented.rows[0]) }
        : { status: 'not_found' };
    });
  }

  async addRevocation(revocation: RevocationRecord): Promise<void> {
    await this.#query(insertRow(this.#t.revocations, revocationToRow(revocation), ['key']));
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const rows = await this.#query<RevocationRow>(
      `SELECT * FROM ${this.#t.revocations} WHERE revoked_at >= $1 AND expires_at > $2 ORDER BY revoked_at, key`,
      [since, this.#clock()],
    );
    return rows.map(revocationFromRow);
  }

  async saveInteraction(interaction: InteractionRecord): Promise<void> {
    await this.#query(insertRow(this.#t.interactions, interactionToRow(interaction), ['interaction_id']));
  }

  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const [row] = await this.#query<InteractionRow>(
      `SELECT * FROM ${this.#t.interactions} WHERE interaction_id = $1 AND expires_at > $2`,
      [interactionId, this.#clock()],
    );
    return row ? interactionFromRow(row) : null;
  }

  /** `DELETE … RETURNING`: the row goes to whichever caller deleted it; an expired one is deleted, unanswered. */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const [row] = await this.#query<InteractionRow>(
      `DELETE FROM ${this.#t.interactions} WHERE interaction_id = $1 RETURNING *`,
      [interactionId],
    );
    return row && Number(row.expires_at) > this.#clock() ? interactionFromRow(row) : null;
  }

  async saveSession(session: BrowserSessionRecord): Promise<void> {
    await this.#query(insertRow(this.#t.sessions, sessionToRow(session), ['session_hash']));
  }

  async getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    const [row] = await this.#query<SessionRow>(
      `SELECT * FROM ${this.#t.sessions} WHERE session_hash = $1 AND expires_at > $2`,
      [sessionHash, this.#clock()],
    );
    return row ? sessionFromRow(row) : null;
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#t.sessions} WHERE session_hash = $1`, [sessionHash]);
  }

  /** One row per (subject, client), replaced when saved again. */
  async saveConsent(consent: ConsentRecord): Promise<void> {
    await this.#query(insertRow(this.#t.consents, consentToRow(consent), ['subject', 'client_id']));
  }

  async getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    const [row] = await this.#query<ConsentRow>(
      `SELECT * FROM ${this.#t.consents} WHERE subject = $1 AND client_id = $2 AND expires_at > $3`,
      [subject, clientId, this.#clock()],
    );
    return row ? consentFromRow(row) : null;
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.#query<SigningKeyRow>(
      `SELECT * FROM ${this.#t.signing_keys} WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at, kid`,
      [this.#clock()],
    );
    return rows.map(signingKeyFromRow);
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.#query(insertRow(this.#t.signing_keys, signingKeyToRow(key), ['kid']));
  }

  /** Takes the marker when it is new or the old one has expired; RETURNING yields no row when it did not. */
  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const rows = await this.#query(
      `INSERT INTO ${this.#t.used_markers} AS marker (key, expires_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE marker.expires_at <= $3
       RETURNING key`,
      [key, expiresAt, this.#clock()],
    );
    return rows.length === 1;
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const [row] = await this.#query<{ count: number; reset_at: string }>(
      `SELECT count, reset_at FROM ${this.#t.counters} WHERE key = $1 AND reset_at > $2`,
      [key, this.#clock()],
    );
    return row ? { count: row.count, resetAt: Number(row.reset_at) } : null;
  }

  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const now = this.#clock();
    const [row] = await this.#query<{ count: number; reset_at: string }>(
      `INSERT INTO ${this.#t.counters} AS counter (key, count, reset_at) VALUES ($1, 1, $3)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN counter.reset_at > $2 THEN counter.count + 1 ELSE 1 END,
         reset_at = CASE WHEN counter.reset_at > $2 THEN counter.reset_at ELSE EXCLUDED.reset_at END
       RETURNING count, reset_at`,
      [key, now, now + windowMs],
    );
    return { count: row!.count, resetAt: Number(row!.reset_at) };
  }

  /** Closed counter windows count as expired records too. */
  async purgeExpired(): Promise<number> {
    const [row] = await this.#query<{ removed: string }>(this.#purgeSql, [this.#clock()]);
    return Number(row!.removed);
  }

  /** Ends the pool if the store opened it; a pool passed in as `pool` stays open. */
  async close(): Promise<void> {
    if (this.#ownsPool && !this.#pool.ended) await this.#pool.end();
  }

  /**
   * Store contract v2: errors that pass. SQLSTATEs and Node network codes ({@link isTransientStoreError}),
   * and what pg reports without a code: a dropped connection, an ended pool, no connection free in time.
   */
  isTransientError(error: unknown): boolean {
    return isTransientStoreError(error) || (error instanceof Error && PG_TRANSIENT_MESSAGE.test(error.message));
  }
}

/** pg and pg-pool errors that carry no code but mean the database is out of reach for now. */
const PG_TRANSIENT_MESSAGE =
  /^(Connection terminated|Cannot use a pool after calling end on the pool|timeout exceeded when trying to connect|Client was closed and is not queryable|Client has encountered a connection error|Query read timeout)/;
