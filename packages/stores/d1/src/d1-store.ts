/**
 * The Cloudflare D1 {@link Store}: Keyward on Cloudflare Workers.
 *
 * @module
 */
import { isTransientStoreError } from '@keyward/core';
import type { Clock, RefreshRotation, RefreshTokenRecord } from '@keyward/core';
import {
  checkIdentifier,
  defineDialect,
  fromRow,
  MIGRATIONS,
  migrationStatements,
  sqliteDialect,
  SqlStore,
  TABLES,
  toRow,
  type Dialect,
  type Row,
  type SqlDriver,
  type SqlResult,
} from '@keyward/sql-kit';

/** The part of a D1 prepared statement the store uses (`D1PreparedStatement` of `@cloudflare/workers-types`). */
export interface D1PreparedStatementLike {
  bind(...values: unknown[]): D1PreparedStatementLike;
  all<T = Record<string, unknown>>(): Promise<{ results: T[]; meta: { changes: number } }>;
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
 * Statements on a D1 binding, each after the schema is current. D1 has no interactive transactions, so
 * `transaction` refuses: {@link D1Store} overrides the operations that would need one with `batch()`.
 */
class D1Driver implements SqlDriver {
  readonly #db: D1DatabaseLike;
  readonly #ready: () => Promise<unknown>;

  constructor(db: D1DatabaseLike, ready: () => Promise<unknown>) {
    this.#db = db;
    this.#ready = ready;
  }

  async prepare(sql: string, params: readonly unknown[]): Promise<D1PreparedStatementLike> {
    await this.#ready();
    return this.#db.prepare(sql).bind(...params);
  }

  async run(sql: string, params: readonly unknown[]): Promise<SqlResult> {
    const { results, meta } = await (await this.prepare(sql, params)).all<Row>();
    return { rows: results, changes: meta.changes };
  }

  async batch(statements: D1PreparedStatementLike[]): Promise<Row[][]> {
    return (await this.#db.batch<Row>(statements)).map((result) => result.results);
  }

  transaction<T>(): Promise<T> {
    return Promise.reject(new Error('D1 has no interactive transactions; D1Store uses batch() instead'));
  }
}

/**
 * A {@link Store} in a Cloudflare D1 database, with the tables and migrations of the SQLite store (D1 is
 * SQLite; both come from Keyward's one description of its SQL tables).
 *
 * Every query is the SQL kit's `SqlStore`, which needs no transaction where the dialect has `RETURNING`: a
 * code is consumed by one guarded `UPDATE … RETURNING`, interactions by `DELETE … RETURNING`, markers and
 * counters by guarded upserts. D1 has no interactive transactions, so the two operations that would use one
 * (refresh rotation, purging) are one `batch()` each, which D1 runs as one transaction. A D1 database is one SQLite instance that every isolate in
 * every location writes to, so the store is atomic across all of them. Expiry is judged by the store's clock in every
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
export class D1Store extends SqlStore {
  readonly #db: D1DatabaseLike;
  readonly #driver: D1Driver;
  readonly #dialect: Dialect;
  readonly #migrations: string;
  #ready: Promise<unknown> | undefined;

  constructor(options: D1StoreOptions) {
    if (!options?.database || typeof options.database.prepare !== 'function') {
      throw new TypeError('D1Store needs the D1 binding as `database`, e.g. new D1Store({ database: env.DB })');
    }
    const prefix = checkIdentifier('table prefix', options.tablePrefix ?? 'keyward_');
    const dialect = defineDialect({ ...sqliteDialect({ prefix }), name: 'd1' });
    let store: D1Store | undefined;
    const driver = new D1Driver(options.database, () => store!.#schemaReady());
    super(driver, dialect, options.clock ?? Date.now);
    store = this;
    this.#db = options.database;
    this.#driver = driver;
    this.#dialect = dialect;
    this.#migrations = `"${prefix}migrations"`;
    if (options.migrate === false) this.#ready = Promise.resolve();
  }

  /** Runs {@link D1Store.migrate} once per store (again after a failure), before the first statement. */
  #schemaReady(): Promise<unknown> {
    this.#ready ??= this.migrate().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
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

  /**
   * One `batch()`, which D1 runs as one transaction: the successor is inserted only while the presented token
   * is live and unrotated, then the presented token is marked rotated under the same guard. Both statements
   * see the same state, so either both happen (`rotated`) or neither does (`reused`, `not_found`).
   */
  override async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const now = this.clock();
    const table = this.#dialect.table('refresh_tokens');
    const guard = 'token_hash = ? AND rotated_at IS NULL AND expires_at > ?';
    const row = toRow(this.#dialect, TABLES.refresh_tokens, { ...successor, rotatedAt: undefined });
    const columns = Object.keys(row).map((column) => this.#dialect.quote(column));
    const [, marked] = await this.#driver.batch([
      await this.#driver.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.map(() => '?').join(', ')} WHERE EXISTS (SELECT 1 FROM ${table} WHERE ${guard})`,
        [...Object.values(row), presentedHash, now],
      ),
      await this.#driver.prepare(`UPDATE ${table} SET rotated_at = ? WHERE ${guard} RETURNING *`, [now, presentedHash, now]),
    ]);
    if (marked?.[0]) return { status: 'rotated', previous: fromRow(this.#dialect, TABLES.refresh_tokens, marked[0]) };
    const presented = await this.getRefreshToken(presentedHash);
    return presented ? { status: 'reused', previous: presented } : { status: 'not_found' };
  }

  /** One batch of DELETEs (one transaction); closed counter windows count as expired records too. */
  override async purgeExpired(): Promise<number> {
    const now = this.clock();
    const tables = Object.values(TABLES) as { name: string; expiry: string }[];
    const deletes = await Promise.all(tables.map((table) => this.#driver.prepare(`DELETE FROM ${this.#dialect.table(table.name)} WHERE ${table.expiry} <= ?`, [now])));
    const results = await this.#db.batch(deletes);
    return results.reduce((removed, result) => removed + result.meta.changes, 0);
  }

  /**
   * Store contract v2: errors that pass. Besides {@link isTransientStoreError}'s codes, the D1 errors
   * Cloudflare documents as retryable (a lost network connection, a reset or overloaded database object, a
   * transient issue on the remote node); a SQL error such as a constraint violation is not.
   */
  isTransientError(error: unknown): boolean {
    return isTransientStoreError(error) || (error instanceof Error && D1_TRANSIENT_MESSAGE.test(error.message));
  }
}

/** D1's retryable errors, which carry no code: the message (after `D1_ERROR: `) says what happened. */
const D1_TRANSIENT_MESSAGE =
  /Network connection lost|storage caused object to be reset|reset because its code was updated|D1 DB is overloaded|transient issue on remote node|storage operation exceeded timeout/i;
