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
import { SCHEMA, TABLES, type Table } from './schema.js';

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
  /**
   * Create the tables (`CREATE TABLE IF NOT EXISTS`) before the first query of each isolate; default true.
   * Set false when you apply {@link D1_SCHEMA} with `wrangler d1 execute` or `wrangler d1 migrations apply`.
   */
  migrate?: boolean | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
}

interface DocumentRow {
  data: string;
  consumed_at?: number | null;
  rotated_at?: number | null;
}

/**
 * A {@link Store} in a Cloudflare D1 database. D1 has no interactive transactions, so every compare-and-swap
 * is one guarded statement (`UPDATE … WHERE consumed_at IS NULL … RETURNING`, `DELETE … RETURNING`, an upsert
 * whose `DO UPDATE` is guarded) or one `batch()`, which D1 runs as a single transaction. A D1 database is one
 * SQLite instance that every isolate of every location writes to, so the store is atomic and shared.
 *
 * Records are kept as JSON beside the columns that queries filter on. Expiry is judged by the store's clock
 * in every query; expired rows stay until {@link D1Store.purgeExpired} deletes them (e.g. from a Cron Trigger).
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
  #ready: Promise<void> | undefined;

  constructor(options: D1StoreOptions) {
    if (!options?.database || typeof options.database.prepare !== 'function') {
      throw new TypeError('D1Store needs the D1 binding as `database`, e.g. new D1Store({ database: env.DB })');
    }
    this.#db = options.database;
    this.#clock = options.clock ?? Date.now;
    if (options.migrate === false) this.#ready = Promise.resolve();
  }

  /** Creates the tables when missing (idempotent). Runs by itself before the first query unless `migrate: false`. */
  migrate(): Promise<void> {
    this.#ready ??= this.#db
      .batch(SCHEMA.map((sql) => this.#db.prepare(sql)))
      .then(
        () => undefined,
        (error: unknown) => {
          this.#ready = undefined;
          throw error;
        },
      );
    return this.#ready;
  }

  async #statement(sql: string, ...values: unknown[]): Promise<D1PreparedStatementLike> {
    await this.migrate();
    return this.#db.prepare(sql).bind(...values);
  }

  async #first<T>(sql: string, ...values: unknown[]): Promise<T | null> {
    return (await this.#statement(sql, ...values)).first<T>();
  }

  async #all<T>(sql: string, ...values: unknown[]): Promise<T[]> {
    return (await (await this.#statement(sql, ...values)).all<T>()).results;
  }

  async #run(sql: string, ...values: unknown[]): Promise<number> {
    return (await (await this.#statement(sql, ...values)).run()).meta.changes;
  }

  /** Reads one live record of `table` by its key. */
  async #get<T>(table: Table, id: string): Promise<T | null> {
    const row = await this.#first<DocumentRow>(`SELECT * FROM ${table} WHERE id = ? AND ${live()}`, id, this.#clock());
    return row ? decode<T>(row) : null;
  }

  /** `INSERT OR REPLACE` of a record under its key, with the columns its table filters on. */
  #replace(table: Table, id: string, record: object & { expiresAt: number | null }, extra: Record<string, unknown> = {}): D1PreparedStatementLike {
    const columns = { id, expires_at: record.expiresAt, data: JSON.stringify(record), ...extra };
    const names = Object.keys(columns);
    return this.#db.prepare(`INSERT OR REPLACE INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).bind(...Object.values(columns));
  }

  async #save(table: Table, id: string, record: object & { expiresAt: number | null }, extra?: Record<string, unknown>): Promise<void> {
    await this.migrate();
    await this.#replace(table, id, record, extra).run();
  }

  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#get('keyward_clients', clientId);
  }

  saveClient(client: ClientRecord): Promise<void> {
    return this.#save('keyward_clients', client.clientId, client);
  }

  async deleteClient(clientId: string): Promise<void> {
    await this.#run('DELETE FROM keyward_clients WHERE id = ?', clientId);
  }

  saveGrant(grant: GrantRecord): Promise<void> {
    return this.#save('keyward_grants', grant.grantId, grant, { subject: grant.subject, created_at: grant.createdAt });
  }

  getGrant(grantId: string): Promise<GrantRecord | null> {
    return this.#get('keyward_grants', grantId);
  }

  async listGrants(subject: string): Promise<GrantRecord[]> {
    const rows = await this.#all<DocumentRow>(`SELECT * FROM keyward_grants WHERE subject = ? AND ${live()} ORDER BY created_at DESC, id`, subject, this.#clock());
    return rows.map((row) => decode<GrantRecord>(row));
  }

  /** Keeps the first `revokedAt`; an unknown or expired grant is left alone. */
  async revokeGrant(grantId: string, revokedAt: number): Promise<void> {
    await this.#run(
      `UPDATE keyward_grants SET data = json_set(data, '$.revokedAt', ?) WHERE id = ? AND json_extract(data, '$.revokedAt') IS NULL AND ${live()}`,
      revokedAt,
      grantId,
      this.#clock(),
    );
  }

  /** Saving a code again replaces it, unconsumed. */
  saveAuthorizationCode(code: AuthorizationCodeRecord): Promise<void> {
    return this.#save('keyward_authorization_codes', code.codeHash, code, { consumed_at: null });
  }

  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | null> {
    return this.#get('keyward_authorization_codes', codeHash);
  }

  /** One guarded UPDATE: D1 runs statements one at a time, so exactly one caller finds the row unconsumed. */
  async consumeAuthorizationCode(codeHash: string): Promise<ConsumedAuthorizationCode | null> {
    const now = this.#clock();
    const consumed = await this.#first<DocumentRow>(
      `UPDATE keyward_authorization_codes SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL AND ${live()} RETURNING data`,
      now,
      codeHash,
      now,
    );
    if (consumed) return { record: decode(consumed), firstUse: true };
    const replayed = await this.getAuthorizationCode(codeHash);
    return replayed ? { record: replayed, firstUse: false } : null;
  }

  saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    const { rotatedAt, ...record } = token;
    return this.#save('keyward_refresh_tokens', token.tokenHash, record, { rotated_at: rotatedAt ?? null });
  }

  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    return this.#get('keyward_refresh_tokens', tokenHash);
  }

  /**
   * One `batch()`, which D1 runs as one transaction: the successor is inserted only while the presented token
   * is live and unrotated, then the presented token is marked rotated under the same guard. Both statements
   * see the same state, so either both happen (`rotated`) or neither does.
   */
  async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    await this.migrate();
    const now = this.#clock();
    const { rotatedAt: _ignored, ...record } = successor;
    const guard = `id = ? AND rotated_at IS NULL AND ${live()}`;
    const [, rotated] = await this.#db.batch<DocumentRow>([
      this.#db
        .prepare(
          `INSERT INTO keyward_refresh_tokens (id, expires_at, data, rotated_at)
           SELECT ?, ?, ?, NULL WHERE EXISTS (SELECT 1 FROM keyward_refresh_tokens WHERE ${guard})`,
        )
        .bind(successor.tokenHash, successor.expiresAt, JSON.stringify(record), presentedHash, now),
      this.#db.prepare(`UPDATE keyward_refresh_tokens SET rotated_at = ? WHERE ${guard} RETURNING data, rotated_at`).bind(now, presentedHash, now),
    ]);
    const row = rotated?.results[0];
    if (row) return { status: 'rotated', previous: decode(row) };
    const presented = await this.getRefreshToken(presentedHash);
    return presented ? { status: 'reused', previous: presented } : { status: 'not_found' };
  }

  addRevocation(revocation: RevocationRecord): Promise<void> {
    return this.#save('keyward_revocations', revocation.key, revocation, { revoked_at: revocation.revokedAt });
  }

  /** Oldest first, so a resource server can page forward by the last `revokedAt` it saw. */
  async listRevocations(since: number): Promise<RevocationRecord[]> {
    const rows = await this.#all<DocumentRow>(`SELECT data FROM keyward_revocations WHERE revoked_at >= ? AND ${live()} ORDER BY revoked_at, id`, since, this.#clock());
    return rows.map((row) => decode<RevocationRecord>(row));
  }

  saveInteraction(interaction: InteractionRecord): Promise<void> {
    return this.#save('keyward_interactions', interaction.interactionId, interaction);
  }

  getInteraction(interactionId: string): Promise<InteractionRecord | null> {
    return this.#get('keyward_interactions', interactionId);
  }

  /** `DELETE … RETURNING`: the row goes to whichever caller deleted it (an expired one is deleted, and absent). */
  async consumeInteraction(interactionId: string): Promise<InteractionRecord | null> {
    const row = await this.#first<DocumentRow & { expires_at: number }>('DELETE FROM keyward_interactions WHERE id = ? RETURNING data, expires_at', interactionId);
    return row && row.expires_at > this.#clock() ? decode(row) : null;
  }

  saveSession(session: BrowserSessionRecord): Promise<void> {
    return this.#save('keyward_sessions', session.sessionHash, session);
  }

  getSession(sessionHash: string): Promise<BrowserSessionRecord | null> {
    return this.#get('keyward_sessions', sessionHash);
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.#run('DELETE FROM keyward_sessions WHERE id = ?', sessionHash);
  }

  /** One row per (subject, client); the key is their JSON array, so no separator can make two pairs collide. */
  saveConsent(consent: ConsentRecord): Promise<void> {
    return this.#save('keyward_consents', JSON.stringify([consent.subject, consent.clientId]), consent);
  }

  getConsent(subject: string, clientId: string): Promise<ConsentRecord | null> {
    return this.#get('keyward_consents', JSON.stringify([subject, clientId]));
  }

  /** Keys past their `expiresAt` are left out; oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.#all<DocumentRow>(`SELECT data FROM keyward_signing_keys WHERE ${live()} ORDER BY created_at, id`, this.#clock());
    return rows.map((row) => decode<SigningKeyRecord>(row));
  }

  saveSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.#save('keyward_signing_keys', key.kid, key, { created_at: key.createdAt });
  }

  /** An upsert whose update is guarded by expiry: RETURNING yields a row only to the caller that took the marker. */
  async markUsed(key: string, expiresAt: number): Promise<boolean> {
    const row = await this.#first(
      `INSERT INTO keyward_used_markers (id, expires_at) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE keyward_used_markers.expires_at <= ?
       RETURNING id`,
      key,
      expiresAt,
      this.#clock(),
    );
    return row !== null;
  }

  /** One upsert: a closed window restarts at 1, an open one counts on. */
  async incrementCounter(key: string, windowMs: number): Promise<CounterState> {
    const now = this.#clock();
    const row = await this.#first<{ count: number; expires_at: number }>(
      `INSERT INTO keyward_counters (id, count, expires_at) VALUES (?1, 1, ?2 + ?3)
       ON CONFLICT (id) DO UPDATE SET
         count = CASE WHEN keyward_counters.expires_at > ?2 THEN keyward_counters.count + 1 ELSE 1 END,
         expires_at = CASE WHEN keyward_counters.expires_at > ?2 THEN keyward_counters.expires_at ELSE excluded.expires_at END
       RETURNING count, expires_at`,
      key,
      now,
      windowMs,
    );
    return { count: row!.count, resetAt: row!.expires_at };
  }

  async getCounter(key: string): Promise<CounterState | null> {
    const row = await this.#first<{ count: number; expires_at: number }>(`SELECT count, expires_at FROM keyward_counters WHERE id = ? AND ${live()}`, key, this.#clock());
    return row ? { count: row.count, resetAt: row.expires_at } : null;
  }

  /** One batch of DELETEs; closed counter windows count as expired records too. */
  async purgeExpired(): Promise<number> {
    await this.migrate();
    const now = this.#clock();
    const results = await this.#db.batch(TABLES.map((table) => this.#db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`).bind(now)));
    return results.reduce((removed, result) => removed + result.meta.changes, 0);
  }
}

/** A row is live while it has no expiry or its expiry is after `now`, the next bound value. */
function live(): string {
  return '(expires_at IS NULL OR expires_at > ?)';
}

/** The record of a row, with the state the store keeps in columns (`rotatedAt`) put back. */
function decode<T>(row: DocumentRow): T {
  const record = JSON.parse(row.data) as Record<string, unknown>;
  if (row.rotated_at != null) record.rotatedAt = row.rotated_at;
  return record as T;
}
