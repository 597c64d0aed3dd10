/**
 * The versioned schema of the SQLite store.
 *
 * @module
 */
import type Database from 'better-sqlite3';

/** A numbered schema change, applied once and in order. Never edit a released one: add the next number. */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Times are epoch milliseconds (INTEGER); arrays and objects are JSON text. Every table is prefixed
// `keyward_` because the store may share a database file with the application's own tables.
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE keyward_clients (
        client_id TEXT PRIMARY KEY,
        client_secret_hash TEXT,
        client_secret_expires_at INTEGER,
        token_endpoint_auth_method TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        response_types TEXT NOT NULL,
        scopes TEXT,
        client_name TEXT,
        application_type TEXT,
        registration_access_token_hash TEXT,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      ) STRICT;

      CREATE TABLE keyward_grants (
        grant_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        scopes TEXT NOT NULL,
        resources TEXT NOT NULL,
        auth_time INTEGER,
        claims TEXT,
        upstream_tokens TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX keyward_grants_expires_at ON keyward_grants (expires_at);

      CREATE TABLE keyward_authorization_codes (
        code_hash TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        redirect_uri_sent INTEGER NOT NULL,
        code_challenge TEXT,
        code_challenge_method TEXT,
        scopes TEXT NOT NULL,
        resources TEXT NOT NULL,
        nonce TEXT,
        auth_time INTEGER,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        consumed_at INTEGER
      ) STRICT;
      CREATE INDEX keyward_authorization_codes_expires_at ON keyward_authorization_codes (expires_at);

      CREATE TABLE keyward_refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        scopes TEXT NOT NULL,
        resources TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER
      ) STRICT;
      CREATE INDEX keyward_refresh_tokens_grant_id ON keyward_refresh_tokens (grant_id);
      CREATE INDEX keyward_refresh_tokens_expires_at ON keyward_refresh_tokens (expires_at);

      CREATE TABLE keyward_interactions (
        interaction_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        redirect_uri_sent INTEGER NOT NULL,
        state TEXT,
        scopes TEXT NOT NULL,
        resources TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        code_challenge_method TEXT NOT NULL,
        nonce TEXT,
        response_mode TEXT NOT NULL,
        prompt TEXT,
        max_age INTEGER,
        session_binding TEXT,
        login_state TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keyward_interactions_expires_at ON keyward_interactions (expires_at);

      CREATE TABLE keyward_sessions (
        session_hash TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        claims TEXT,
        upstream_tokens TEXT,
        auth_time INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keyward_sessions_expires_at ON keyward_sessions (expires_at);

      CREATE TABLE keyward_consents (
        subject TEXT NOT NULL,
        client_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (subject, client_id)
      ) STRICT;
      CREATE INDEX keyward_consents_expires_at ON keyward_consents (expires_at);

      CREATE TABLE keyward_revocations (
        key TEXT PRIMARY KEY,
        revoked_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keyward_revocations_revoked_at ON keyward_revocations (revoked_at);

      CREATE TABLE keyward_signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT,
        created_at INTEGER NOT NULL,
        retires_at INTEGER,
        expires_at INTEGER
      ) STRICT;

      CREATE TABLE keyward_used_markers (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keyward_used_markers_expires_at ON keyward_used_markers (expires_at);

      CREATE TABLE keyward_counters (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        reset_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keyward_counters_reset_at ON keyward_counters (reset_at);
    `,
  },
  {
    version: 2,
    name: 'grants by subject',
    sql: 'CREATE INDEX keyward_grants_subject ON keyward_grants (subject, created_at);',
  },
  {
    // Store contract v2: every time is epoch milliseconds. These four columns held epoch seconds until now.
    // A value below 10^11 can only be seconds (10^11 ms is March 1973, 10^11 s the year 5138), so the
    // statements are idempotent and never multiply a value twice.
    version: 3,
    name: 'auth_time and client_secret_expires_at in milliseconds',
    sql: `
      UPDATE keyward_clients SET client_secret_expires_at = client_secret_expires_at * 1000
        WHERE client_secret_expires_at > 0 AND client_secret_expires_at < 100000000000;
      UPDATE keyward_grants SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
      UPDATE keyward_authorization_codes SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
      UPDATE keyward_sessions SET auth_time = auth_time * 1000 WHERE auth_time < 100000000000;
    `,
  },
];

/**
 * The schema version this release of the store needs: the highest number in `keyward_migrations` once
 * {@link migrate} has run.
 *
 * @example
 * ```ts
 * const current = db.prepare('SELECT max(version) FROM keyward_migrations').pluck().get();
 * if (current !== SCHEMA_VERSION) migrate(db);
 * ```
 */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the Keyward tables of a SQLite database up to {@link SCHEMA_VERSION}. Idempotent: migrations already
 * recorded in `keyward_migrations` are skipped, so running it again changes nothing. All pending migrations
 * run in one `BEGIN IMMEDIATE` transaction, so a second process migrating the same file waits (up to its
 * `busy_timeout`) and then finds nothing left to do. `SQLiteStore` calls it when constructed; call it
 * yourself only to migrate ahead of deployment.
 *
 * @param db An open better-sqlite3 database.
 * @returns The versions this call applied, oldest first (empty when the schema was already current).
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { migrate } from '@keyward/store-sqlite';
 *
 * const applied = migrate(new Database('keyward.db'));
 * console.log(applied.length ? `applied ${applied.join(', ')}` : 'schema up to date');
 * ```
 */
export function migrate(db: Database.Database): number[] {
  const applyPending = db.transaction((): number[] => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS keyward_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at INTEGER NOT NULL
      ) STRICT
    `);
    const applied = new Set(db.prepare('SELECT version FROM keyward_migrations').pluck().all() as number[]);
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    const record = db.prepare('INSERT INTO keyward_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
    return pending.map((migration) => migration.version);
  });
  return applyPending.immediate();
}
