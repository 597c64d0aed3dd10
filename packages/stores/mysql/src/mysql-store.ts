/**
 * The MySQL / MariaDB {@link Store}, shared by every server instance that connects to the same database.
 *
 * @module
 */
import mysql, { type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { Clock, Store, StoreCapabilities } from '@keyward/core';
import { mysqlDialect, SqlStore, type SqlDriver, type SqlExecutor, type SqlResult } from '@keyward/sql-kit';
import { migrate } from './migrations.js';

/**
 * Options of {@link MySQLStore}: a pool (yours, or one the store opens from `uri`), the prefix of its
 * tables, whether it migrates them on first use, and, for tests, the clock that decides expiry.
 *
 * @example
 * ```ts
 * const options: MySQLStoreOptions = { uri: 'mysql://keyward@db.internal:3306/app', prefix: 'keyward_' };
 * ```
 */
export interface MySQLStoreOptions {
  /** Where to connect when no `pool` is given, e.g. `mysql://keyward:secret@db.internal:3306/app`. */
  uri?: string | undefined;
  /** A mysql2 promise pool to use instead, e.g. the application's own; the store does not end it on `close()`. */
  pool?: Pool | undefined;
  /** Prefix of the store's table names in the database; defaults to `keyward_`. */
  prefix?: string | undefined;
  /** Time source in epoch milliseconds that decides expiry; defaults to `Date.now`. */
  clock?: Clock | undefined;
  /**
   * Whether to apply pending migrations before the first query (default `true`). Pass `false` when a
   * deployment step runs {@link migrate} and the store's user may only read and write rows.
   */
  migrate?: boolean | undefined;
}

/** InnoDB's answer when it broke a deadlock by rolling this transaction back; the transaction may be re-run. */
const ER_LOCK_DEADLOCK = 1213;

async function execute(connection: Pool | PoolConnection, sql: string, params: readonly unknown[]): Promise<SqlResult> {
  const [result] = await connection.query<RowDataPacket[] | ResultSetHeader>(sql, params as unknown[]);
  return Array.isArray(result) ? { rows: result, changes: result.length } : { rows: [], changes: result.affectedRows };
}

/**
 * A {@link Store} in MySQL 8 or MariaDB 10.5+, through a mysql2 pool. Shared: any number of server instances
 * can use the same database. Atomic by InnoDB's row locks, with no read-then-write window: codes are consumed
 * by a guarded `UPDATE … WHERE consumed_at IS NULL` (the affected-row count names the one winner), refresh
 * tokens rotated by a guarded `UPDATE` and the successor's `INSERT` in one transaction, interactions taken by
 * the `DELETE` that removed the row, replay markers by `INSERT IGNORE` after dropping an expired one, and
 * counters by `INSERT … ON DUPLICATE KEY UPDATE`. A transaction InnoDB rolls back to break a deadlock is run
 * again, up to three times.
 *
 * Tables are InnoDB with a binary utf8mb4 collation, prefixed `keyward_` in the connection's database and
 * migrated on first use (see {@link migrate}). Expiry is judged by the store's clock in every query; expired
 * rows stay, invisible, until {@link MySQLStore.purgeExpired} deletes them.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { MySQLStore } from '@keyward/store-mysql';
 *
 * const store = new MySQLStore({ uri: process.env.MYSQL_URL });
 * await store.init(); // optional: migrate and fail fast at start-up instead of on the first request
 * const server = new AuthorizationServer({ issuer: 'https://auth.example.com', store });
 * ```
 * @see [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2) for why refresh token
 * rotation must be a compare-and-swap.
 */
export class MySQLStore extends SqlStore implements Store {
  readonly capabilities: StoreCapabilities = { atomic: true, shared: true };

  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #prefix: string | undefined;
  readonly #migrate: boolean;
  #ready: Promise<void> | undefined;

  constructor(options: MySQLStoreOptions = {}) {
    const dialect = mysqlDialect({ prefix: options.prefix });
    if (!options.pool && !options.uri) throw new TypeError('MySQLStore needs a uri or a pool');
    const pool = options.pool ?? mysql.createPool({ uri: options.uri, connectTimeout: 5_000 });
    const driver: SqlDriver = {
      run: async (sql, params) => {
        await this.init();
        return execute(pool, sql, params);
      },
      transaction: async (work) => {
        await this.init();
        for (let attempt = 1; ; attempt++) {
          try {
            return await transaction(pool, work);
          } catch (error) {
            if ((error as { errno?: number }).errno !== ER_LOCK_DEADLOCK || attempt === 3) throw error;
          }
        }
      },
    };
    super(driver, dialect, options.clock);
    this.#pool = pool;
    this.#ownsPool = !options.pool;
    this.#prefix = options.prefix;
    this.#migrate = options.migrate ?? true;
  }

  /**
   * Applies pending migrations (unless constructed with `migrate: false`). Every method waits for this, so
   * calling it is optional; call it at start-up to fail fast when the database is unreachable. A failed
   * attempt is retried by the next call.
   */
  async init(): Promise<void> {
    if (!this.#migrate) return;
    this.#ready ??= migrate(this.#pool, { prefix: this.#prefix }).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  /** Ends the pool if the store opened it; a pool passed in as `pool` stays open. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

/** Runs `work` inside one transaction on one pooled connection; a connection that cannot roll back is destroyed. */
async function transaction<T>(pool: Pool, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  let broken = false;
  try {
    await connection.beginTransaction();
    const result = await work({ run: (sql, params) => execute(connection, sql, params) });
    await connection.commit();
    return result;
  } catch (error) {
    broken = await connection.rollback().then(
      () => false,
      () => true,
    );
    throw error;
  } finally {
    if (broken) connection.destroy();
    else connection.release();
  }
}
