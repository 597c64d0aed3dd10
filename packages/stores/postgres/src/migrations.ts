/**
 * The versioned schema of the PostgreSQL store.
 *
 * @module
 */
import type pg from 'pg';
import { inTransaction } from './transaction.js';

/**
 * The schema the store's tables live in unless told otherwise.
 *
 * @example
 * ```ts
 * await pool.query(`GRANT USAGE ON SCHEMA ${DEFAULT_SCHEMA} TO keyward_app`);
 * ```
 */
export const DEFAULT_SCHEMA = 'keyward';

/** A numbered schema change, applied once and in order. Never edit a released one: add the next number. */
interface Migration {
  version: number;
  name: string;
  /** The DDL, given the quoted schema name. */
  sql: (schema: string) => string;
}

// Times are epoch milliseconds (BIGINT, read back through Number()); arrays and objects are jsonb.
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: (s) => `
      CREATE TABLE ${s}.clients (
        client_id text PRIMARY KEY,
        client_secret_hash text,
        client_secret_expires_at bigint,
        token_endpoint_auth_method text NOT NULL,
        redirect_uris jsonb NOT NULL,
        grant_types jsonb NOT NULL,
        response_types jsonb NOT NULL,
        scopes jsonb,
        client_name text,
        application_type text,
        registration_access_token_hash text,
        metadata jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint
      );
      CREATE INDEX clients_expires_at ON ${s}.clients (expires_at);

      CREATE TABLE ${s}.grants (
        grant_id text PRIMARY KEY,
        client_id text NOT NULL,
        subject text NOT NULL,
        scopes jsonb NOT NULL,
        resources jsonb NOT NULL,
        auth_time bigint,
        claims jsonb,
        upstream_tokens text,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE INDEX grants_expires_at ON ${s}.grants (expires_at);

      CREATE TABLE ${s}.authorization_codes (
        code_hash text PRIMARY KEY,
        grant_id text NOT NULL,
        client_id text NOT NULL,
        subject text NOT NULL,
        redirect_uri text NOT NULL,
        redirect_uri_sent boolean NOT NULL,
        code_challenge text,
        code_challenge_method text,
        scopes jsonb NOT NULL,
        resources jsonb NOT NULL,
        nonce text,
        auth_time bigint,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        consumed_at bigint
      );
      CREATE INDEX authorization_codes_expires_at ON ${s}.authorization_codes (expires_at);

      CREATE TABLE ${s}.refresh_tokens (
        token_hash text PRIMARY KEY,
        grant_id text NOT NULL,
        client_id text NOT NULL,
        subject text NOT NULL,
        scopes jsonb NOT NULL,
        resources jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        rotated_at bigint
      );
      CREATE INDEX refresh_tokens_grant_id ON ${s}.refresh_tokens (grant_id);
      CREATE INDEX refresh_tokens_expires_at ON ${s}.refresh_tokens (expires_at);

      CREATE TABLE ${s}.interactions (
        interaction_id text PRIMARY KEY,
        client_id text NOT NULL,
        redirect_uri text NOT NULL,
        redirect_uri_sent boolean NOT NULL,
        state text,
        scopes jsonb NOT NULL,
        resources jsonb NOT NULL,
        code_challenge text NOT NULL,
        code_challenge_method text NOT NULL,
        nonce text,
        response_mode text NOT NULL,
        prompt text,
        max_age integer,
        session_binding text,
        login_state jsonb,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX interactions_expires_at ON ${s}.interactions (expires_at);

      CREATE TABLE ${s}.sessions (
        session_hash text PRIMARY KEY,
        subject text NOT NULL,
        claims jsonb,
        upstream_tokens text,
        auth_time bigint NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX sessions_expires_at ON ${s}.sessions (expires_at);

      CREATE TABLE ${s}.consents (
        subject text NOT NULL,
        client_id text NOT NULL,
        scopes jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (subject, client_id)
      );
      CREATE INDEX consents_expires_at ON ${s}.consents (expires_at);

      CREATE TABLE ${s}.revocations (
        key text PRIMARY KEY,
        revoked_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revocations_revoked_at ON ${s}.revocations (revoked_at);
      CREATE INDEX revocations_expires_at ON ${s}.revocations (expires_at);

      CREATE TABLE ${s}.signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        private_jwk jsonb NOT NULL,
        public_jwk jsonb,
        created_at bigint NOT NULL,
        retires_at bigint,
        expires_at bigint
      );

      CREATE TABLE ${s}.used_markers (
        key text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX used_markers_expires_at ON ${s}.used_markers (expires_at);

      CREATE TABLE ${s}.counters (
        key text PRIMARY KEY,
        count integer NOT NULL,
        reset_at bigint NOT NULL
      );
      CREATE INDEX counters_reset_at ON ${s}.counters (reset_at);
    `,
  },
  {
    version: 2,
    name: 'grants by subject',
    sql: (s) => `CREATE INDEX grants_subject ON ${s}.grants (subject, created_at);`,
  },
  {
    // Store contract v2: every time is epoch milliseconds. These four columns held epoch seconds until now.
    // A value below 10^11 can only be seconds (10^11 ms is March 1973, 10^11 s the year 5138), so the
    // statements are idempotent and never multiply a value twice.
    version: 3,
    name: 'auth_time and client_secret_expires_at in milliseconds',
    sql: (s) => `
      UPDATE ${s}.clients SET client_secret_expires_at = client_secret_expires_at * 1000
        WHERE client_secret_expires_at > 0 AND client_secret_expires_at < 100000000000;
      UPDATE ${s}.grants SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
      UPDATE ${s}.authorization_codes SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
      UPDATE ${s}.sessions SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
    `,
  },
];

/**
 * The schema version this release of the store needs: the highest number in `<schema>.migrations` once
 * {@link migrate} has run.
 *
 * @example
 * ```ts
 * const { rows } = await pool.query('SELECT max(version) AS version FROM keyward.migrations');
 * if (rows[0].version !== SCHEMA_VERSION) console.warn('run migrate() before starting with migrate: false');
 * ```
 */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Quotes a schema name for SQL. Only plain identifiers are accepted, so a configuration value can never
 * inject SQL.
 */
export function quoteSchema(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(`Invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _`);
  }
  return `"${schema}"`;
}

/**
 * Options of {@link migrate}.
 *
 * @example
 * ```ts
 * const options: MigrateOptions = { schema: 'auth' };
 * ```
 */
export interface MigrateOptions {
  /** The schema holding the store's tables, created when missing; defaults to `keyward`. */
  schema?: string | undefined;
}

/**
 * Brings the store's tables in a PostgreSQL schema up to {@link SCHEMA_VERSION}: creates the schema when
 * missing, then applies the numbered migrations not yet recorded in `<schema>.migrations`, all in one
 * transaction. Idempotent, and safe when several instances start at once: the transaction first takes a
 * `pg_advisory_xact_lock` for the schema, so the others wait and then find nothing left to do.
 *
 * `PostgresStore` calls it on first use unless constructed with `migrate: false`; call it yourself to
 * migrate in a deployment step with a role that may create tables.
 *
 * @param pool A pg pool; one connection is borrowed for the transaction.
 * @returns The versions this call applied, oldest first (empty when the schema was already current).
 * @example
 * ```ts
 * import pg from 'pg';
 * import { migrate } from '@keyward/store-postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * console.log('applied migrations', await migrate(pool, { schema: 'keyward' }));
 * await pool.end();
 * ```
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<number[]> {
  const schemaName = options.schema ?? DEFAULT_SCHEMA;
  const schema = quoteSchema(schemaName);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keyward:migrate:${schemaName}`]);
    // Existence is checked before creating because CREATE … IF NOT EXISTS still demands the CREATE
    // privilege; this way a role limited to reading and writing rows can start against a current schema.
    const existing = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName]);
    if (existing.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
    const table = await client.query('SELECT to_regclass($1) AS oid', [`${schema}.migrations`]);
    if (table.rows[0]?.oid === null) {
      await client.query(`
        CREATE TABLE ${schema}.migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )
      `);
    }
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    return pending.map((migration) => migration.version);
  });
}
