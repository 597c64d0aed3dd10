/**
 * The tables of the D1 store.
 *
 * @module
 */

/** Every table of the store; each has an `expires_at` (epoch ms, NULL for never) that purging reads. */
export const TABLES = [
  'keyward_clients',
  'keyward_grants',
  'keyward_authorization_codes',
  'keyward_refresh_tokens',
  'keyward_interactions',
  'keyward_sessions',
  'keyward_consents',
  'keyward_revocations',
  'keyward_signing_keys',
  'keyward_used_markers',
  'keyward_counters',
] as const;

/** A table of the store. */
export type Table = (typeof TABLES)[number];

// `id` is the record's key (a hash for secrets), `data` the record as JSON; other columns are what queries
// filter, order or compare-and-swap on. Times are epoch milliseconds.
const EXTRA_COLUMNS: Record<Table, string> = {
  keyward_clients: '',
  keyward_grants: ', subject TEXT NOT NULL, created_at INTEGER NOT NULL',
  keyward_authorization_codes: ', consumed_at INTEGER',
  keyward_refresh_tokens: ', rotated_at INTEGER',
  keyward_interactions: '',
  keyward_sessions: '',
  keyward_consents: '',
  keyward_revocations: ', revoked_at INTEGER NOT NULL',
  keyward_signing_keys: ', created_at INTEGER NOT NULL',
  keyward_used_markers: '',
  keyward_counters: ', count INTEGER NOT NULL',
};

/**
 * The DDL of the store, one idempotent statement each (`IF NOT EXISTS`). `D1Store` runs it before its first
 * query unless constructed with `migrate: false`; to apply it ahead of deployment, join it into a migration file
 * for `wrangler d1 migrations apply`.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { D1_SCHEMA } from '@keyward/store-d1';
 * writeFileSync('migrations/0001_keyward.sql', D1_SCHEMA.join(';\n') + ';\n');
 * ```
 */
export const SCHEMA: readonly string[] = [
  ...TABLES.map(
    (table) =>
      `CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, expires_at INTEGER, data TEXT${EXTRA_COLUMNS[table]}) STRICT`,
  ),
  'CREATE INDEX IF NOT EXISTS keyward_grants_subject ON keyward_grants (subject, created_at)',
  'CREATE INDEX IF NOT EXISTS keyward_revocations_revoked_at ON keyward_revocations (revoked_at)',
  ...TABLES.map((table) => `CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at)`),
];
