/**
 * The {@link Store} of every SQL backend, written once over a small driver interface and a {@link Dialect}.
 *
 * @module
 */
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
  StoreCapabilities,
} from '@keyward/core';
import { overwrite, type Dialect } from './dialect.js';
import { fromRow, toRow, type Row } from './rows.js';
import { TABLES, type TableSpec } from './schema.js';

/** What a statement returned: its rows (SELECT, RETURNING) and how many rows it changed (or matched). */
export interface SqlResult {
  rows: Row[];
  changes: number;
}

/** Runs one SQL statement with positional parameters. */
export interface SqlExecutor {
  run(sql: string, params: readonly unknown[]): Promise<SqlResult>;
}

/**
 * What {@link SqlStore} needs from a database driver: statements, and a transaction whose statements all
 * run on one connection and commit together (rolled back when `work` throws). A SQL store package
 * implements it for its driver in a few lines.
 *
 * @example
 * ```ts
 * const driver: SqlDriver = {
 *   run: async (sql, params) => { const r = await pool.query(sql, params); return { rows: r.rows, changes: r.rowCount ?? 0 }; },
 *   transaction: (work) => inTransaction(pool, (client) => work({ run: … })),
 * };
 * ```
 */
export interface SqlDriver extends SqlExecutor {
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

/**
 * Fills a statement template for a dialect: `{table}` becomes the table's qualified name, `[column]` a quoted
 * identifier, and each `?` the dialect's next placeholder.
 *
 * @example
 * ```ts
 * sql(postgresDialect(), 'SELECT * FROM {grants} WHERE [subject] = ? AND expires_at > ?');
 * // 'SELECT * FROM "keyward"."grants" WHERE "subject" = $1 AND expires_at > $2'
 * ```
 */
export function sql(dialect: Dialect, template: string): string {
  let position = 0;
  return template
    .replace(/\{(\w+)\}/g, (_, table: string) => dialect.table(table))
    .replace(/\[(\w+)\]/g, (_, column: string) => dialect.quote(column))
    .replace(/\?/g, () => dialect.param(position++));
}

/**
 * A {@link Store} over any SQL database that a {@link SqlDriver} and a {@link Dialect} describe. Atomic by
 * the database's own means, never read-then-write in the application: codes are consumed by a guarded
 * `UPDATE … WHERE consumed_at IS NULL`, refresh tokens rotated by a guarded `UPDATE` and the successor's
 * `INSERT` in one transaction, interactions taken by a `DELETE` that only one caller can win, replay markers
 * and counters kept by upserts. Where the dialect has `RETURNING` each of these is one statement.
 *
 * Expiry is judged by the store's clock in every query; expired rows stay, invisible, until
 * {@link SqlStore.purgeExpired} deletes them.
 *
 * @example
 * ```ts
 * class MyStore extends SqlStore {
 *   readonly capabilities = { atomic: true, shared: true };
 *   constructor(pool: Pool) { super(myDriver(pool), postgresDialect(), systemClock); }
 * }
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export abstract class SqlStore implements Store {
  abstract readonly capabilities: StoreCapabilities;

  readonly #driver: SqlDriver;
  readonly #dialect: Dialect;
  /** The store's time source in epoch milliseconds. */
  protected readonly clock: Clock;
  readonly #q;
  readonly #save = new Map<string, string>();
  readonly #insertRefreshToken: string;

  protected constructor(driver: SqlDriver, dialect: Dialect, clock: Clock = systemClock) {
    this.#driver = driver;
    this.#dialect = dialect;
    this.clock = clock;
    const q = (template: string) => sql(dialect, template);
    const live = 'expires_at > ?';
    const counter = dialect.upsert(['key']);
    const marker = dialect.upsert(['key']);
    this.#q = {
      getClient: q(`SELECT * FROM {clients} WHERE [client_id] = ? AND (expires_at IS NULL OR ${live})`),
      deleteClient: q('DELETE FROM {clients} WHERE [client_id] = ?'),
      getGrant: q(`SELECT * FROM {grants} WHERE [grant_id] = ? AND ${live}`),
      listGrants: q(`SELECT * FROM {grants} WHERE [subject] = ? AND ${live} ORDER BY created_at DESC`),
      revokeGrant: q(`UPDATE {grants} SET revoked_at = ? WHERE [grant_id] = ? AND revoked_at IS NULL AND ${live}`),
      getCode: q(`SELECT * FROM {authorization_codes} WHERE [code_hash] = ? AND ${live}`),
      consumeCode: q(
        `UPDATE {authorization_codes} SET consumed_at = ? WHERE [code_hash] = ? AND consumed_at IS NULL AND ${live}${dialect.returning ? ' RETURNING *' : ''}`,
      ),
      getRefreshToken: q(`SELECT * FROM {refresh_tokens} WHERE [token_hash] = ? AND ${live}`),
      markRotated: q(
        `UPDATE {refresh_tokens} SET rotated_at = ? WHERE [token_hash] = ? AND rotated_at IS NULL AND ${live}${dialect.returning ? ' RETURNING *' : ''}`,
      ),
      listRevocations: q(`SELECT * FROM {revocations} WHERE revoked_at >= ? AND ${live} ORDER BY revoked_at, [key]`),
      getInteraction: q(`SELECT * FROM {interactions} WHERE [interaction_id] = ? AND ${live}`),
      // An expired interaction is deleted too (it is dead anyway); the caller then answers null.
      deleteInteraction: q(`DELETE FROM {interactions} WHERE [interaction_id] = ?${dialect.returning ? ' RETURNING *' : ''}`),
      getAnyInteraction: q('SELECT * FROM {interactions} WHERE [interaction_id] = ?'),
      getSession: q(`SELECT * FROM {sessions} WHERE [session_hash] = ? AND ${live}`),
      deleteSession: q('DELETE FROM {sessions} WHERE [session_hash] = ?'),
      getConsent: q(`SELECT * FROM {consents} WHERE [subject] = ? AND [client_id] = ? AND ${live}`),
      listSigningKeys: q(`SELECT * FROM {signing_keys} WHERE expires_at IS NULL OR ${live} ORDER BY created_at, [kid]`),
      // Takes the marker when it is new or the stored one has expired; RETURNING yields no row when it did not.
      markUsed: q(
        `INSERT INTO {used_markers}${marker.alias} ([key], expires_at) VALUES (?, ?)${marker.clause}expires_at = ${marker.incoming('expires_at')} WHERE ${marker.existing('expires_at')} <= ? RETURNING [key]`,
      ),
      // Without RETURNING: drop an expired marker, then whichever insert lands first wins.
      dropExpiredMarker: q('DELETE FROM {used_markers} WHERE [key] = ? AND expires_at <= ?'),
      insertMarker: q(`${dialect.insertIgnore[0]} INTO {used_markers} ([key], expires_at) VALUES (?, ?)${dialect.insertIgnore[1]}`),
      // `count` is assigned before `reset_at`, so (MySQL assigning left to right) both read the stored reset_at.
      incrementCounter: q(
        `INSERT INTO {counters}${counter.alias} ([key], [count], reset_at) VALUES (?, 1, ?)${counter.clause}` +
          `[count] = CASE WHEN ${counter.existing('reset_at')} > ? THEN ${counter.existing('count')} + 1 ELSE 1 END, ` +
          `reset_at = CASE WHEN ${counter.existing('reset_at')} > ? THEN ${counter.existing('reset_at')} ELSE ${counter.incoming('reset_at')} END` +
          (dialect.returning ? ' RETURNING [count], reset_at' : ''),
      ),
      getCounter: q('SELECT [count], reset_at FROM {counters} WHERE [key] = ? AND reset_at > ?'),
      readCounter: q('SELECT [count], reset_at FROM {counters} WHERE [key] = ?'),
      purge: Object.values(TABLES).map((table: TableSpec<unknown>) => q(`DELETE FROM {${table.name}} WHERE ${table.expiry} <= ?`)),
    };
    const columns = TABLES.refresh_tokens.columns.map((column) => dialect.quote(column.name));
    this.#insertRefreshToken = `INSERT INTO ${dialect.table('refresh_tokens')} (${columns.join(', ')}) VALUES (${columns.map((_, i) => dialect.param(i)).join(', ')})`;
  }

  async #rows(statement: string, params: readonly unknown[], executor: SqlExecutor = this.#driver): Promise<Row[]> {
    return (await executor.run(statement, params)).rows;
  }

  #one<R>(table: TableSpec<R>, rows: Row[]): R | null {
    return rows[0] ? fromRow(this.#dialect, table, rows[0]) : null;
  }

  /** Inserts a record's row, replacing the row with the same key; the statement is built once per table. */
  async #upsert<R>(table: TableSpec<R>, record: R): Promise<void> {
    let statement = this.#save.get(table.name);
    if (!statement) {
      const d = this.#dialect;
      const names = table.columns.map((column) => column.name);
      const upsert = d.upsert(table.key);
      statement =
        `INSERT INTO ${d.table(table.name)}${upsert.alias} (${names.map((name) => d.quote(name)).join(', ')}) ` +
        `VALUES (${names.map((_, i) => d.param(i)).join(', ')})${overwrite(d, upsert, names, table.key)}`;
      this.#save.set(table.name, statement);
    }
    await this.#driver.run(statement, Object.values(toRow(this.#dialect, table, record)));
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#one(TABLES.clients, await this.#rows(this.#q.getClient, [clientId, this.clock()]));
  }

  async saveClient(client: ClientRecord): Promise<void> {
    await this.#upsert(TABLES.clients, client);
  }

  async deleteClient(clientId: string): Promise<void> {
    await this.#driver.run(this.#q.deleteClient, [clientId]);
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    await this.#upsert(TABLES.grants, grant);
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    return this.#one(TABLES.grants, await this.#rows(this.#q.getGrant, [grantId, this.clock()]));
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    const rows = await this.#rows(this.#q.listGrants, [subject, this.clock()]);
    return rows.map((row) => fromRow(this.#dialect, TABLES.grants, row));
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    await this.#driver.run(this.#q.revokeGrant, [revokedAt, grantId, this.clock()]);
  }

  /** Saving a code again replaces it, unconsumed. */
  async saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    await this.#upsert(TABLES.authorization_codes, code);
  }

  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    return this.#one(TABLES.authorization_codes, await this.#rows(this.#q.getCode, [codeHash, this.clock()]));
  }

  /** The guarded UPDATE hits the row for exactly one caller; every later caller reads the consumed row. */
  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const now = this.clock();
    const consumed = await this.#driver.run(this.#q.consumeCode, [now, codeHash, now]);
    const first = this.#dialect.returning ? this.#one(TABLES.authorization_codes, consumed.rows) : null;
    if (first) return { record: first, firstUse: true };
    const record = await this.getAuthorizationCode(codeHash);
    return record ? { record, firstUse: !this.#dialect.returning && consumed.changes === 1 } : null;
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.#upsert(TABLES.refresh_tokens, token);
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    return this.#one(TABLES.refresh_tokens, await this.#rows(this.#q.getRefreshToken, [tokenHash, this.clock()]));
  }

  /**
   * Marks the presented token rotated with a guarded UPDATE and inserts the successor in the same
   * transaction; `previous` carries the `rotatedAt` the store set (or, on reuse, the one set earlier).
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const now = this.clock();
    return this.#driver.transaction(async (tx) => {
      const marked = await tx.run(this.#q.markRotated, [now, presentedHash, now]);
      const read = async () => this.#one(TABLES.refresh_tokens, await this.#rows(this.#q.getRefreshToken, [presentedHash, now], tx));
      const rotated = this.#dialect.returning ? this.#one(TABLES.refresh_tokens, marked.rows) : marked.changes === 1 ? await read() : null;
      if (rotated) {
        await tx.run(this.#insertRefreshToken, Object.values(toRow(this.#dialect, TABLES.refresh_tokens, successor)));
        return { status: 'rotated', previous: rotated };
      }
      const presented = await read();
      return presented ? { status: 'reused', previous: presented } : { status: 'not_found' };
    });
  }

  async addRevocation(revocation: RevocationRecord): Promise<void> {
    await this.#upsert(TABLES.revocations, revocation);
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const rows = await this.#rows(this.#q.listRevocations, [since, this.clock()]);
    return rows.map((row) => fromRow(this.#dialect, TABLES.revocations, row));
  }

  async saveInteraction(interaction: InteractionRecord): Promise<void> {
    await this.#upsert(TABLES.interactions, interaction);
  }

  async getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    return this.#one(TABLES.interactions, await this.#rows(this.#q.getInteraction, [interactionId, this.clock()]));
  }

  /** The row goes to whichever caller's DELETE removed it; an expired one is removed, unanswered. */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    let record: InteractionRecord | null;
    if (this.#dialect.returning) {
      record = this.#one(TABLES.interactions, await this.#rows(this.#q.deleteInteraction, [interactionId]));
    } else {
      record = this.#one(TABLES.interactions, await this.#rows(this.#q.getAnyInteraction, [interactionId]));
      if (record && (await this.#driver.run(this.#q.deleteInteraction, [interactionId])).changes !== 1) record = null;
    }
    return record && record.expiresAt > this.clock() ? record : null;
  }

  async saveSession(session: BrowserSessionRecord): Promise<void> {
    await this.#upsert(TABLES.sessions, session);
  }

  async getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    return this.#one(TABLES.sessions, await this.#rows(this.#q.getSession, [sessionHash, this.clock()]));
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.#driver.run(this.#q.deleteSession, [sessionHash]);
  }

  /** One row per (subject, client), replaced when saved again. */
  async saveConsent(consent: ConsentRecord): Promise<void> {
    await this.#upsert(TABLES.consents, consent);
  }

  async getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    return this.#one(TABLES.consents, await this.#rows(this.#q.getConsent, [subject, clientId, this.clock()]));
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.#rows(this.#q.listSigningKeys, [this.clock()]);
    return rows.map((row) => fromRow(this.#dialect, TABLES.signing_keys, row));
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.#upsert(TABLES.signing_keys, key);
  }

  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const now = this.clock();
    if (this.#dialect.returning) return (await this.#rows(this.#q.markUsed, [key, expiresAt, now])).length === 1;
    await this.#driver.run(this.#q.dropExpiredMarker, [key, now]);
    return (await this.#driver.run(this.#q.insertMarker, [key, expiresAt])).changes === 1;
  }

  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const now = this.clock();
    const params = [key, now + windowMs, now, now];
    if (this.#dialect.returning) return counterOf((await this.#rows(this.#q.incrementCounter, params))[0]!);
    // The upsert locks the row until commit, so the read in the same transaction sees exactly its result.
    return this.#driver.transaction(async (tx) => {
      await tx.run(this.#q.incrementCounter, params);
      return counterOf((await this.#rows(this.#q.readCounter, [key], tx))[0]!);
    });
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const [row] = await this.#rows(this.#q.getCounter, [key, this.clock()]);
    return row ? counterOf(row) : null;
  }

  /** Closed counter windows count as expired records too; one transaction over every table. */
  async purgeExpired(): Promise<number> {
    const now = this.clock();
    return this.#driver.transaction(async (tx) => {
      let removed = 0;
      for (const statement of this.#q.purge) removed += (await tx.run(statement, [now])).changes;
      return removed;
    });
  }
}

function counterOf(row: Row): CounterState {
  return { count: Number(row.count), resetAt: Number(row.reset_at) };
}
