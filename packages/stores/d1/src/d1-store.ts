/**
 * The Cloudflare D1 {@link Store}: Keyward on Cloudflare Workers.
 *
 * @module
 */
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
import { checkIdentifier, defineDialect, fromRow, MIGRATIONS, migrationStatements, sqliteDialect, TABLES, toRow, type Row, type TableName, type TableSpec } from '@keyward/sql-kit';

/** The part of a D1 prepared statement the store uses (`D1PreparedStatement` of `@cloudflare/workers-types`). */
export interface D1PreparedStatementLike {
  bind(...values: unknown[]): D1PreparedStatementLike;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  all<T = Record<string, unknown>>(): Promise<{ results: T[] }>;
  run(): Promise<{ meta: { changes: number } }>;
}

/** The part of a D1 binding the store uses (`D1Database` of `@cloudflare/workers-types`). */
export interface D1DatabaseLike {
  prepare(query: string): D1PreparedStatementLike;
  batch<T = Record<string, unknown>>(statements: D1PreparedStatementLike[]): Promise<{ results: T[]; meta: { changes: number } }[]>;
}

/**
 * Options of {@link D1Store}.
 *
 * @example
 * ```ts
 * const options: D1StoreOptions = { database: env.DB };
 * ```
 */
export interface D1StoreOptions {
  /** The D1 binding, e.g. `env.DB` with `[[d1_databases]] binding = "DB"` in wrangler.toml. */
  database: D1DatabaseLike;
  /** Prefix of the store's table names; default `keyward_`, as the SQLite store's. */
  tablePrefix?: string | undefined;
  /** Bring the schema up to date before the first query of each isolate (see {@link D1Store.migrate}); default true. */
  migrate?: boolean | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
}

/**
 * A {@link Store} in a Cloudflare D1 database, with the tables and migrations of the SQLite store (D1 is
 * SQLite; both come from Keyward's one description of its SQL tables).
 *
 * D1 has no interactive transactions, so every compare-and-swap is one guarded statement (`UPDATE … WHERE
 * consumed_at IS NULL … RETURNING`, `DELETE … RETURNING`, an upsert whose `DO UPDATE` is guarded) or one
 * `batch()`, which D1 runs as one transaction. A D1 database is one SQLite instance that every isolate in
 * every location writes to, so the store is atomic and shared. Expiry is judged by the store's clock in every
 * query; expired rows stay until {@link D1Store.purgeExpired} deletes them (e.g. from a Cron Trigger).
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { D1Store } from '@keyward/store-d1';
 *
 * export default {
 *   async fetch(request: Request, env: { DB: D1Database }): Promise<Response> {
 *     const server = new AuthorizationServer({ issuer: 'https://mcp.example.com', store: new D1Store({ database: env.DB }) });
 *     return server.fetch(request);
 *   },
 * };
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export class D1Store implements Store {
  readonly capabilities: StoreCapabilities = { atomic: true, shared: true };

  readonly #db: D1DatabaseLike;
  readonly #clock: Clock;
  readonly #dialect;
  readonly #migrations: string;
  readonly #t: Record<TableName, string>;
  #ready: Promise<unknown> | undefined;

  constructor(options: D1StoreOptions) {
    if (!options?.database || typeof options.database.prepare !== 'function') {
      throw new TypeError('D1Store needs the D1 binding as `database`, e.g. new D1Store({ database: env.DB })');
    }
    this.#db = options.database;
    this.#clock = options.clock ?? Date.now;
    const prefix = checkIdentifier('table prefix', options.tablePrefix ?? 'keyward_');
    this.#dialect = defineDialect({ ...sqliteDialect({ prefix }), name: 'd1' });
    this.#migrations = `"${prefix}migrations"`;
    this.#t = Object.fromEntries(Object.keys(TABLES).map((name) => [name, this.#dialect.table(name)])) as Record<TableName, string>;
    if (options.migrate === false) this.#ready = Promise.resolve();
  }

  /**
   * Brings the tables up to the current schema version, recording each applied migration in
   * `keyward_migrations`; idempotent. Each migration is one `batch()` that records its version first, so when
   * two isolates migrate at once the second batch fails on that record and rolls back whole. Runs by itself
   * before the first query of each isolate unless the store was made with `migrate: false`.
   *
   * @returns The versions this call applied (empty when the schema was already current).
   * @example
   * ```ts
   * const applied = await new D1Store({ database: env.DB, migrate: false }).migrate();
   * ```
   */
  async migrate(): Promise<number[]> {
    const db = this.#db;
    await db.prepare(`CREATE TABLE IF NOT EXISTS ${this.#migrations} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`).run();
    const applied = async () => new Set((await db.prepare(`SELECT version FROM ${this.#migrations}`).all<{ version: number }>()).results.map((row) => row.version));
    const done = await applied();
    const ran: number[] = [];
    for (const { version, name } of MIGRATIONS.filter(({ version }) => !done.has(version))) {
      const record = db.prepare(`INSERT INTO ${this.#migrations} (version, name, applied_at) VALUES (?, ?, ?)`).bind(version, name, Date.now());
      try {
        await db.batch([record, ...migrationStatements(this.#dialect, version).map((sql) => db.prepare(sql))]);
        ran.push(version);
      } catch (error) {
        // Another isolate applied it at the same moment; anything else is a real failure.
        if (!(await applied()).has(version)) throw error;
      }
    }
    return ran;
  }

  /** A statement with its parameters, once the schema is current (see {@link D1Store.migrate}). */
  async #sql(sql: string, ...values: unknown[]): Promise<D1PreparedStatementLike> {
    this.#ready ??= this.migrate().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    await this.#ready;
    return this.#db.prepare(sql).bind(...values);
  }

  /** The first row of a query as a record of `table`, or null. */
  async #one<R>(table: TableSpec<R>, sql: string, ...values: unknown[]): Promise<R | null> {
    const row = await (await this.#sql(sql, ...values)).first<Row>();
    return row ? fromRow(this.#dialect, table, row) : null;
  }

  async #many<R>(table: TableSpec<R>, sql: string, ...values: unknown[]): Promise<R[]> {
    const { results } = await (await this.#sql(sql, ...values)).all<Row>();
    return results.map((row) => fromRow(this.#dialect, table, row));
  }

  async #run(sql: string, ...values: unknown[]): Promise<void> {
    await (await this.#sql(sql, ...values)).run();
  }

  /** Inserts a record, or overwrites the row with the same key. */
  async #save<R>(name: TableName, record: R): Promise<void> {
    const table = TABLES[name] as TableSpec<R>;
    const row = toRow(this.#dialect, table, record);
    const columns = Object.keys(row);
    const upsert = this.#dialect.upsert(columns, table.key);
    await this.#run(`INSERT INTO ${this.#t[name]} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${upsert}`, ...Object.values(row));
  }

  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#one(TABLES.clients, `SELECT * FROM ${this.#t.clients} WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?)`, clientId, this.#clock());
  }

  saveClient(client: ClientRecord): Promise<void> {
    return this.#save('clients', client);
  }

  deleteClient(clientId: string): Promise<void> {
    return this.#run(`DELETE FROM ${this.#t.clients} WHERE client_id = ?`, clientId);
  }

  saveGrant(grant: GrantRecord): Promise<void> {
    return this.#save('grants', grant);
  }

  getGrant(grantId: string): Promise<GrantRecord | null> {
    return this.#one(TABLES.grants, `SELECT * FROM ${this.#t.grants} WHERE grant_id = ? AND expires_at > ?`, grantId, this.#clock());
  }

  listGrants(subject: string): Promise<GrantRecord[]> {
    return this.#many(TABLES.grants, `SELECT * FROM ${this.#t.grants} WHERE subject = ? AND expires_at > ? ORDER BY created_at DESC, grant_id`, subject, this.#clock());
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    return this.#run(`UPDATE ${this.#t.grants} SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL AND expires_at > ?`, revokedAt, grantId, this.#clock());
  }

  /** Saving a code again replaces it, unconsumed. */
  saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    return this.#save('authorization_codes', code);
  }

  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    return this.#one(TABLES.authorization_codes, `SELECT * FROM ${this.#t.authorization_codes} WHERE code_hash = ? AND expires_at > ?`, codeHash, this.#clock());
  }

  /** One guarded UPDATE: D1 runs statements one at a time, so exactly one caller finds the code unconsumed. */
  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const now = this.#clock();
    const sql = `UPDATE ${this.#t.authorization_codes} SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ? RETURNING *`;
    const consumed = await this.#one(TABLES.authorization_codes, sql, now, codeHash, now);
    if (consumed) return { record: consumed, firstUse: true };
    const replayed = await this.getAuthorizationCode(codeHash);
    return replayed ? { record: replayed, firstUse: false } : null;
  }

  saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    return this.#save('refresh_tokens', token);
  }

  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    return this.#one(TABLES.refresh_tokens, `SELECT * FROM ${this.#t.refresh_tokens} WHERE token_hash = ? AND expires_at > ?`, tokenHash, this.#clock());
  }

  /**
   * One `batch()`, which D1 runs as one transaction: the successor is inserted only while the presented token
   * is live and unrotated, then the presented token is marked rotated under the same guard. Both statements
   * see the same state, so either both happen (`rotated`) or neither does (`reused`, `not_found`).
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const now = this.#clock();
    const table = this.#t.refresh_tokens;
    const guard = 'token_hash = ? AND rotated_at IS NULL AND expires_at > ?';
    const row = toRow(this.#dialect, TABLES.refresh_tokens, { ...successor, rotatedAt: undefined });
    const columns = Object.keys(row);
    const insert = await this.#sql(
      `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) SELECT ${columns.map(() => '?').join(', ')} WHERE EXISTS (SELECT 1 FROM ${table} WHERE ${guard})`,
      ...Object.values(row),
      presentedHash,
      now,
    );
    const mark = this.#db.prepare(`UPDATE ${table} SET rotated_at = ? WHERE ${guard} RETURNING *`).bind(now, presentedHash, now);
    const [, marked] = await this.#db.batch<Row>([insert, mark]);
    const previous = marked?.results[0];
    if (previous) return { status: 'rotated', previous: fromRow(this.#dialect, TABLES.refresh_tokens, previous) };
    const presented = await this.getRefreshToken(presentedHash);
    return presented ? { status: 'reused', previous: presented } : { status: 'not_found' };
  }

  addRevocation(revocation: RevocationRecord): Promise<void> {
    return this.#save('revocations', revocation);
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  listRevocations(since: number): Promise<RevocationRecord[]> {
    return this.#many(TABLES.revocations, `SELECT * FROM ${this.#t.revocations} WHERE revoked_at >= ? AND expires_at > ? ORDER BY revoked_at, key`, since, this.#clock());
  }

  saveInteraction(interaction: InteractionRecord): Promise<void> {
    return this.#save('interactions', interaction);
  }

  getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    return this.#one(TABLES.interactions, `SELECT * FROM ${this.#t.interactions} WHERE interaction_id = ? AND expires_at > ?`, interactionId, this.#clock());
  }

  /** `DELETE … RETURNING`: the row goes to whichever caller deleted it (an expired one is deleted, and absent). */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const row = await this.#one(TABLES.interactions, `DELETE FROM ${this.#t.interactions} WHERE interaction_id = ? RETURNING *`, interactionId);
    return row && row.expiresAt > this.#clock() ? row : null;
  }

  saveSession(session: BrowserSessionRecord): Promise<void> {
    return this.#save('sessions', session);
  }

  getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    return this.#one(TABLES.sessions, `SELECT * FROM ${this.#t.sessions} WHERE session_hash = ? AND expires_at > ?`, sessionHash, this.#clock());
  }

  deleteSession(sessionHash: string): Promise<void> {
    return this.#run(`DELETE FROM ${this.#t.sessions} WHERE session_hash = ?`, sessionHash);
  }

  /** One row per (subject, client), replaced when saved again. */
  saveConsent(consent: ConsentRecord): Promise<void> {
    return this.#save('consents', consent);
  }

  getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    return this.#one(TABLES.consents, `SELECT * FROM ${this.#t.consents} WHERE subject = ? AND client_id = ? AND expires_at > ?`, subject, clientId, this.#clock());
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#many(TABLES.signing_keys, `SELECT * FROM ${this.#t.signing_keys} WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at, kid`, this.#clock());
  }

  saveSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.#save('signing_keys', key);
  }

  /** An upsert whose update is guarded by expiry: RETURNING yields a row only to the caller that took the marker. */
  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const table = this.#t.used_markers;
    const sql = `INSERT INTO ${table} (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE ${table}.expires_at <= ? RETURNING key`;
    return (await (await this.#sql(sql, key, expiresAt, this.#clock())).first()) !== null;
  }

  /** One upsert: a closed window restarts at 1, an open one counts on. */
  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const table = this.#t.counters;
    const open = `${table}.reset_at > ?2`;
    const sql = `INSERT INTO ${table} (key, count, reset_at) VALUES (?1, 1, ?2 + ?3) ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN ${open} THEN ${table}.count + 1 ELSE 1 END, reset_at = CASE WHEN ${open} THEN ${table}.reset_at ELSE excluded.reset_at END
      RETURNING count, reset_at`;
    const row = await (await this.#sql(sql, key, this.#clock(), windowMs)).first<{ count: number; reset_at: number }>();
    return { count: row!.count, resetAt: row!.reset_at };
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const sql = `SELECT count, reset_at FROM ${this.#t.counters} WHERE key = ? AND reset_at > ?`;
    const row = await (await this.#sql(sql, key, this.#clock())).first<{ count: number; reset_at: number }>();
    return row ? { count: row.count, resetAt: row.reset_at } : null;
  }

  /** One batch of DELETEs; closed counter windows count as expired records too. */
  async purgeExpired(): Promise<number> {
    const now = this.#clock();
    const deletes = await Promise.all(Object.values(TABLES).map((table) => this.#sql(`DELETE FROM ${this.#t[table.name as TableName]} WHERE ${table.expiry} <= ?`, now)));
    const results = await this.#db.batch(deletes);
    return results.reduce((removed, result) => removed + result.meta.changes, 0);
  }
}
