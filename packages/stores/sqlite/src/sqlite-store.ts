/**
 * The SQLite {@link Store}: Keyward's embedded default for a single server instance.
 *
 * @module
 */
import Database from 'better-sqlite3';
import type { Clock, Store, StoreCapabilities } from '@keyward/core';
import { SqlStore, sqliteDialect, type SqlDriver, type SqlExecutor, type SqlResult } from '@keyward/sql-kit';
import { migrate } from './migrations.js';

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

/**
 * better-sqlite3 as a {@link SqlDriver}: statements prepared once per SQL text. A transaction holds the
 * connection: other calls wait until it commits, so nothing of theirs runs inside it.
 */
class SQLiteDriver implements SqlDriver {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  #transaction: Promise<void> | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #execute(sql: string, params: readonly unknown[]): SqlResult {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    if (statement.reader) {
      const rows = statement.all(params) as Record<string, unknown>[];
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: statement.run(params).changes };
  }

  async run(sql: string, params: readonly unknown[]): Promise<SqlResult> {
    while (this.#transaction) await this.#transaction;
    return this.#execute(sql, params);
  }

  /** IMMEDIATE takes the write lock up front, so another process's writer waits on busy_timeout. */
  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.#transaction) await this.#transaction;
    let release!: () => void;
    this.#transaction = new Promise((resolve) => (release = resolve));
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      const result = await work({ run: async (sql, params) => this.#execute(sql, params) });
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#transaction = undefined;
      release();
    }
  }
}

/**
 * A {@link Store} in a SQLite database file, through better-sqlite3. Atomic: every compare-and-swap is a
 * single guarded statement or an immediate transaction, so it holds even between processes. Not shared:
 * SQLite serves one machine, so use `@keyward/store-postgres`, `-mysql` or `-redis` behind a load
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
export class SQLiteStore extends SqlStore implements Store {
  readonly capabilities: StoreCapabilities = { atomic: true, shared: false };

  readonly #db: Database.Database;
  readonly #ownsDatabase: boolean;

  constructor(options: SQLiteStoreOptions) {
    const db = options.database ?? (options.filename ? new Database(options.filename) : undefined);
    if (!db) throw new TypeError('SQLiteStore needs a filename (or ":memory:") or an open database');
    if (!options.database) {
      // WAL lets readers proceed during a write and other processes open the file; busy_timeout makes a
      // writer wait for the lock instead of failing at once with SQLITE_BUSY.
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
    }
    migrate(db);
    super(new SQLiteDriver(db), sqliteDialect(), options.clock);
    this.#db = db;
    this.#ownsDatabase = !options.database;
  }

  /** Closes the database if the store opened it; one passed in as `database` stays open. */
  async close(): Promise<void> {
    if (this.#ownsDatabase && this.#db.open) this.#db.close();
  }
}
