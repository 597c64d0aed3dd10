/**
 * The PostgreSQL {@link Store}, shared by every server instance that connects to the same database.
 *
 * @module
 */
import pg from 'pg';
import { isTransientStoreError } from '@keyward/core';
import type { Clock, RevocationRecord, Store } from '@keyward/core';
import { postgresDialect, runOnce, SqlStore, type SqlDriver } from '@keyward/sql-kit';
import { DEFAULT_SCHEMA, migrate } from './migrations.js';
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
export class PostgresStore extends SqlStore implements Store {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #migrate: boolean;
  readonly #ready = runOnce(() => migrate(this.#pool, { schema: this.#schema }));
  readonly #listeners = new Set<(revocation: RevocationRecord) => void>();
  /** The connection held for LISTEN while anyone subscribes; reopened after it breaks. */
  #listening: Promise<pg.PoolClient | undefined> | undefined;

  constructor(options: PostgresStoreOptions = {}) {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    const dialect = postgresDialect({ schema });
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, connectionTimeoutMillis: 5_000 });
    // Every statement waits for the migration first (a no-op once it has run).
    const driver: SqlDriver = {
      run: async (sql, params) => {
        await this.init();
        const result = await pool.query(sql, params as unknown[]);
        return { rows: result.rows, changes: result.rowCount ?? 0 };
      },
      transaction: async (work) => {
        await this.init();
        return inTransaction(pool, (client) =>
          work({
            run: async (sql, params) => {
              const result = await client.query(sql, params as unknown[]);
              return { rows: result.rows, changes: result.rowCount ?? 0 };
            },
          }),
        );
      },
    };
    super(driver, dialect, options.clock);
    this.#schema = schema;
    this.#migrate = options.migrate ?? true;
    this.#pool = pool;
    this.#ownsPool = !options.pool;
    // An idle connection that breaks (database restarted) is emitted here and dropped by the pool; without
    // a listener Node would crash the process. The next query opens a fresh connection or rejects.
    if (this.#ownsPool) pool.on('error', () => undefined);
  }

  /**
   * Applies pending migrations (unless constructed with `migrate: false`). Every method waits for this, so
   * calling it is optional; call it at start-up to fail fast when the database is unreachable. A failed
   * attempt is retried by the next call.
   */
  async init(): Promise<void> {
    if (this.#migrate) await this.#ready();
  }

  /** The NOTIFY channel of this schema's revocations. */
  get #channel(): string {
    return `${this.#schema}_revocations`;
  }

  /** Records the revocation, then notifies every instance listening on this schema (NOTIFY is sent on commit). */
  override async addRevocation(revocation: RevocationRecord): Promise<void> {
    await super.addRevocation(revocation);
    await this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, JSON.stringify(revocation)]);
  }

  /**
   * Pushes each revocation any instance records to `listener`, through PostgreSQL LISTEN/NOTIFY on one
   * connection of the pool held while anyone listens. After that connection breaks it is reopened a second
   * later; the revocation list's polling covers the gap.
   *
   * @example
   * ```ts
   * const stop = store.subscribeRevocations((revocation) => console.log(revocation.key));
   * ```
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  subscribeRevocations(listener: (revocation: RevocationRecord) => void): () => void {
    this.#listeners.add(listener);
    this.#listening ??= this.#listen();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) void this.#stopListening();
    };
  }

  async #listen(): Promise<pg.PoolClient | undefined> {
    try {
      await this.init();
      const client = await this.#pool.connect();
      client.on('notification', (message) => {
        if (message.channel !== this.#channel || message.payload === undefined) return;
        const revocation = JSON.parse(message.payload) as RevocationRecord;
        for (const listener of this.#listeners) listener(revocation);
      });
      client.on('error', () => {
        client.release(true);
        this.#retryListen();
      });
      await client.query(`LISTEN "${this.#channel}"`);
      // A NOTIFY sent before LISTEN took effect reached nobody: hand the listeners what is stored, so the push
      // leaves no gap for the polling to close.
      const stored = await this.listRevocations(0).catch(() => []);
      for (const revocation of stored) for (const each of this.#listeners) each(revocation);
      return client;
    } catch {
      this.#retryListen();
      return undefined;
    }
  }

  #retryListen(): void {
    this.#listening = undefined;
    if (this.#listeners.size === 0) return;
    setTimeout(() => {
      if (this.#listeners.size > 0) this.#listening ??= this.#listen();
    }, 1_000).unref?.();
  }

  async #stopListening(): Promise<void> {
    const listening = this.#listening;
    this.#listening = undefined;
    const client = await listening;
    if (!client) return;
    await client.query(`UNLISTEN "${this.#channel}"`).catch(() => undefined);
    client.release();
  }

  /** Ends the pool if the store opened it; a pool passed in as `pool` stays open. */
  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#stopListening();
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
