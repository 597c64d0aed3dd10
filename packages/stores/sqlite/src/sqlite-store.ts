/**
 * The SQLite {@link Store}: Keyward's embedded default for a single server instance.
 *
 * @module
 */
import Database from 'better-sqlite3';
import { systemClock } from '@keyward/core';
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
import { migrate } from './migrations.js';
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
  type SessionRow,
  type SigningKeyRow,
} from './rows.js';

/**
 * Options of {@link SQLiteStore}: where the data lives (`filename` or an open `database`) and, for tests,
 * the clock that decides expiry.
 *
 * @example
 * ```ts
 * const options: SQLiteStoreOptions = { filename: './data/keyward.db' };
 * ```
 */
export interface SQLiteStoreOptions {
  /** Path of the database file, created when missing; `':memory:'` for a private in-memory database. */
  filename?: string | undefined;
  /**
   * An open better-sqlite3 database to use instead of `filename`, e.g. the application's own. The store
   * leaves its pragmas alone (enable WAL yourself) and does not close it.
   */
  database?: Database.Database | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
}

/** Tables and the column that says when their rows expire, for {@link SQLiteStore.purgeExpired}. */
const EXPIRING_TABLES = [
  ['keyward_clients', 'expires_at'],
  ['keyward_grants', 'expires_at'],
  ['keyward_authorization_codes', 'expires_at'],
  ['keyward_refresh_tokens', 'expires_at'],
  ['keyward_interactions', 'expires_at'],
  ['keyward_revocations', 'expires_at'],
  ['keyward_signing_keys', 'expires_at'],
  ['keyward_sessions', 'expires_at'],
  ['keyward_consents', 'expires_at'],
  ['keyward_used_markers', 'expires_at'],
  ['keyward_counters', 'reset_at'],
] as const;

/**
 * A {@link Store} in a SQLite database file, through better-sqlite3. Atomic: every compare-and-swap is a
 * single guarded statement or an immediate transaction, so it holds even between processes. Not shared:
 * SQLite serves one machine, so use `@keyward/store-postgres` or `@keyward/store-redis` behind a load
 * balancer. (WAL mode does let several processes on that machine open the same file safely.)
 *
 * The schema is created or upgraded when the store is constructed (see {@link migrate}). Expiry is judged
 * by the store's clock in every query; rows past `expiresAt` stay on disk, invisible, until
 * {@link SQLiteStore.purgeExpired} deletes them, so run that periodically.
 *
 * Calls are synchronous underneath (better-sqlite3 blocks for the few microseconds a statement takes) and
 * throw the driver's error, e.g. `SQLITE_BUSY` when another process holds the write lock past
 * `busy_timeout`.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { SQLiteStore } from '@keyward/store-sqlite';
 *
 * const store = new SQLiteStore({ filename: './data/keyward.db' });
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store });
 * setInterval(() => void store.purgeExpired(), 60 * 60 * 1000).unref();
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export class SQLiteStore implements Store {
  readonly #db: Database.Database;
  readonly #ownsDatabase: boolean;
  readonly #clock: Clock;
  readonly #replaceStatements = new Map<string, Database.Statement>();
  readonly #sql;
  readonly #rotate;
  readonly #purge;

  constructor(options: SQLiteStoreOptions) {
    if (options.database) {
      this.#db = options.database;
      this.#ownsDatabase = false;
    } else if (options.filename) {
      this.#db = new Database(options.filename);
      this.#ownsDatabase = true;
      // WAL lets readers proceed during a write and other processes open the file; busy_timeout makes a
      // writer wait for the lock instead of failing at once with SQLITE_BUSY.
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
    } else {
      throw new TypeError('SQLiteStore needs a filename (or ":memory:") or an open database');
    }
    this.#clock = options.clock ?? systemClock;
    migrate(this.#db);

    const db = this.#db;
    this.#sql = {
      getClient: db.prepare(
        'SELECT * FROM keyward_clients WHERE client_id = @id AND (expires_at IS NULL OR expires_at > @now)',
      ),
      deleteClient: db.prepare('DELETE FROM keyward_clients WHERE client_id = @id'),
      getGrant: db.prepare('SELECT * FROM keyward_grants WHERE grant_id = @id AND expires_at > @now'),
      listGrants: db.prepare('SELECT * FROM keyward_grants WHERE subject = @subject AND expires_at > @now ORDER BY created_at DESC'),
      revokeGrant: db.prepare(
        'UPDATE keyward_grants SET revoked_at = @revokedAt WHERE grant_id = @id AND revoked_at IS NULL AND expires_at > @now',
      ),
      consumeCode: db.prepare(
        `UPDATE keyward_authorization_codes SET consumed_at = @now
         WHERE code_hash = @hash AND consumed_at IS NULL AND expires_at > @now RETURNING *`,
      ),
      getCode: db.prepare('SELECT * FROM keyward_authorization_codes WHERE code_hash = @hash AND expires_at > @now'),
      getRefreshToken: db.prepare('SELECT * FROM keyward_refresh_tokens WHERE token_hash = @hash AND expires_at > @now'),
      markRotated: db.prepare(
        `UPDATE keyward_refresh_tokens SET rotated_at = @now
         WHERE token_hash = @hash AND rotated_at IS NULL AND expires_at > @now RETURNING *`,
      ),
      insertRefreshToken: db.prepare(
        `INSERT INTO keyward_refresh_tokens
           (token_hash, grant_id, client_id, subject, scopes, resources, created_at, expires_at, rotated_at)
         VALUES
           (@token_hash, @grant_id, @client_id, @subject, @scopes, @resources, @created_at, @expires_at, @rotated_at)`,
      ),
      listRevocations: db.prepare(
        'SELECT * FROM keyward_revocations WHERE revoked_at >= @since AND expires_at > @now ORDER BY revoked_at, key',
      ),
      getInteraction: db.prepare(
        'SELECT * FROM keyward_interactions WHERE interaction_id = @id AND expires_at > @now',
      ),
      // Deletes an expired interaction too (it is dead anyway); the caller then answers null.
      deleteInteraction: db.prepare('DELETE FROM keyward_interactions WHERE interaction_id = @id RETURNING *'),
      getSession: db.prepare('SELECT * FROM keyward_sessions WHERE session_hash = @hash AND expires_at > @now'),
      deleteSession: db.prepare('DELETE FROM keyward_sessions WHERE session_hash = @hash'),
      getConsent: db.prepare(
        'SELECT * FROM keyward_consents WHERE subject = @subject AND client_id = @clientId AND expires_at > @now',
      ),
      listSigningKeys: db.prepare(
        'SELECT * FROM keyward_signing_keys WHERE expires_at IS NULL OR expires_at > @now ORDER BY created_at, kid',
      ),
      // Takes the marker when it is new or the old one has expired; RETURNING yields no row when it did not.
      markUsed: db.prepare(
        `INSERT INTO keyward_used_markers (key, expires_at) VALUES (@key, @expiresAt)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
         WHERE keyward_used_markers.expires_at <= @now
         RETURNING key`,
      ),
      incrementCounter: db.prepare(
        `INSERT INTO keyward_counters (key, count, reset_at) VALUES (@key, 1, @now + @windowMs)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN keyward_counters.reset_at > @now THEN keyward_counters.count + 1 ELSE 1 END,
           reset_at = CASE WHEN keyward_counters.reset_at > @now THEN keyward_counters.reset_at ELSE excluded.reset_at END
         RETURNING count, reset_at`,
      ),
      getCounter: db.prepare('SELECT count, reset_at FROM keyward_counters WHERE key = @key AND reset_at > @now'),
      purge: EXPIRING_TABLES.map(([table, column]) => db.prepare(`DELETE FROM ${table} WHERE ${column} <= @now`)),
    };

    // IMMEDIATE takes the write lock up front, so a concurrent writer in another process waits on
    // busy_timeout rather than failing mid-transaction.
    this.#rotate = db.transaction((presentedHash: string, successor: RefreshTokenRecord, now: number): RefreshRotation => {
      const rotated = this.#sql.markRotated.get({ hash: presentedHash, now }) as RefreshTokenRow | undefined;
      if (rotated) {
        this.#sql.insertRefreshToken.run(refreshTokenToRow(successor));
        return { status: 'rotated', previous: refreshTokenFromRow(rotated) };
      }
      const presented = this.#sql.getRefreshToken.get({ hash: presentedHash, now }) as RefreshTokenRow | undefined;
      return presented ? { status: 'reused', previous: refreshTokenFromRow(presented) } : { status: 'not_found' };
    });
    this.#purge = db.transaction((now: number): number =>
      this.#sql.purge.reduce((removed, statement) => removed + statement.run({ now }).changes, 0),
    );
  }

  /** `INSERT OR REPLACE` of a whole row; the statement is prepared once per table from the row's columns. */
  #replace(table: string, row: object): void {
    let statement = this.#replaceStatements.get(table);
    if (!statement) {
      const columns = Object.keys(row);
      statement = this.#db.prepare(
        `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
      );
      this.#replaceStatements.set(table, statement);
    }
    statement.run(row);
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const row = this.#sql.getClient.get({ id: clientId, now: this.#clock() }) as ClientRow | undefined;
    return row ? clientFromRow(row) : null;
  }

  async saveClient(client: ClientRecord): Promise<void> {
    this.#replace('keyward_clients', clientToRow(client));
  }

  async deleteClient(clientId: string): Promise<void> {
    this.#sql.deleteClient.run({ id: clientId });
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    this.#replace('keyward_grants', grantToRow(grant));
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    return (this.#sql.listGrants.all({ subject, now: this.#clock() }) as GrantRow[]).map(grantFromRow);
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const row = this.#sql.getGrant.get({ id: grantId, now: this.#clock() }) as GrantRow | undefined;
    return row ? grantFromRow(row) : null;
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    this.#sql.revokeGrant.run({ id: grantId, revokedAt, now: this.#clock() });
  }

  /** Saving a code again replaces it, unconsumed. */
  async saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    this.#replace('keyward_authorization_codes', { ...codeToRow(code), consumed_at: null });
  }

  /** The guarded UPDATE hits a row for exactly one caller; everyone after it reads the consumed row. */
  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    const row = this.#sql.getCode.get({ hash: codeHash, now: this.#clock() }) as CodeRow | undefined;
    return row ? codeFromRow(row) : null;
  }

  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const now = this.#clock();
    const consumed = this.#sql.consumeCode.get({ hash: codeHash, now }) as CodeRow | undefined;
    if (consumed) return { record: codeFromRow(consumed), firstUse: true };
    const replayed = this.#sql.getCode.get({ hash: codeHash, now }) as CodeRow | undefined;
    return replayed ? { record: codeFromRow(replayed), firstUse: false } : null;
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    this.#replace('keyward_refresh_tokens', refreshTokenToRow(token));
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const row = this.#sql.getRefreshToken.get({ hash: tokenHash, now: this.#clock() }) as RefreshTokenRow | undefined;
    return row ? refreshTokenFromRow(row) : null;
  }

  /**
   * Marks the presented token rotated with a guarded UPDATE and inserts the successor in the same
   * transaction; `previous` carries the `rotatedAt` the store set (or, on reuse, the one set earlier).
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    return this.#rotate.immediate(presentedHash, successor, this.#clock());
  }

  async addRevocation(revocation: RevocationRecord): Promise<void> {
    this.#replace('keyward_revocations', revocationToRow(revocation));
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const rows = this.#sql.listRevocations.all({ since, now: this.#clock() }) as RevocationRow[];
    return rows.map(revocationFromRow);
  }

  async saveInteraction(interaction: InteractionRecord): Promise<void> {
    this.#replace('keyward_interactions', interactionToRow(interaction));
  }

  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const row = this.#sql.getInteraction.get({ id: interactionId, now: this.#clock() }) as InteractionRow | undefined;
    return row ? interactionFromRow(row) : null;
  }

  /** `DELETE … RETURNING`: the row goes to whichever caller deleted it. */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const row = this.#sql.deleteInteraction.get({ id: interactionId }) as InteractionRow | undefined;
    return row && row.expires_at > this.#clock() ? interactionFromRow(row) : null;
  }

  async saveSession(session: BrowserSessionRecord): Promise<void> {
    this.#replace('keyward_sessions', sessionToRow(session));
  }

  async getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    const row = this.#sql.getSession.get({ hash: sessionHash, now: this.#clock() }) as SessionRow | undefined;
    return row ? sessionFromRow(row) : null;
  }

  async deleteSession(sessionHash: string): Promise<void> {
    this.#sql.deleteSession.run({ hash: sessionHash });
  }

  /** One row per (subject, client), replaced when saved again. */
  async saveConsent(consent: ConsentRecord): Promise<void> {
    this.#replace('keyward_consents', consentToRow(consent));
  }

  async getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    const row = this.#sql.getConsent.get({ subject, clientId, now: this.#clock() }) as ConsentRow | undefined;
    return row ? consentFromRow(row) : null;
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = this.#sql.listSigningKeys.all({ now: this.#clock() }) as SigningKeyRow[];
    return rows.map(signingKeyFromRow);
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#replace('keyward_signing_keys', signingKeyToRow(key));
  }

  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    return this.#sql.markUsed.get({ key, expiresAt, now: this.#clock() }) !== undefined;
  }

  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const row = this.#sql.incrementCounter.get({ key, windowMs, now: this.#clock() }) as {
      count: number;
      reset_at: number;
    };
    return { count: row.count, resetAt: row.reset_at };
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const row = this.#sql.getCounter.get({ key, now: this.#clock() }) as { count: number; reset_at: number } | undefined;
    return row ? { count: row.count, resetAt: row.reset_at } : null;
  }

  /** Closed counter windows count as expired records too. */
  async purgeExpired(): Promise<number> {
    return this.#purge(this.#clock());
  }

  /** Closes the database if the store opened it; one passed in as `database` stays open. */
  async close(): Promise<void> {
    if (this.#ownsDatabase && this.#db.open) this.#db.close();
  }
}
