/**
 * The tables of Keyward's SQL stores, described once: columns, keys, indexes, which record field each column
 * holds and when each index was added. Dialects turn this into DDL and rows; nothing here is SQL text.
 *
 * @module
 */
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  ConsentRecord,
  GrantRecord,
  InteractionRecord,
  RefreshTokenRecord,
  RevocationRecord,
  SigningKeyRecord,
} from '@keyward/core';

/**
 * What a column holds, independent of the engine: `integer` fits 32 bits, `bigint` holds epoch
 * milliseconds, `json` holds an array or object.
 */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean' | 'json';

/** One column of a {@link TableSpec}. */
export interface ColumnSpec {
  /** The SQL name. */
  name: string;
  type: ColumnType;
  /** The record property it holds; absent for the store's own bookkeeping (`consumed_at`) and legacy columns. */
  field?: string | undefined;
  /**
   * Whether NULL is allowed, and what it means in the record: `'absent'` leaves the property out,
   * `'null'` keeps it as `null`. Without it the column is NOT NULL.
   */
  nullable?: 'absent' | 'null' | undefined;
  /** For a column without `field`: the value every save writes (a legacy NOT NULL column, a reset marker). */
  written?: unknown;
}

/** An index of a {@link TableSpec}; its SQL name is the dialect's `index(table, suffix)`. */
export interface IndexSpec {
  suffix: string;
  columns: string[];
  /** The schema version that added it (default 1). */
  since?: number | undefined;
}

/** A table: `R` is the record type its rows map to (`never` for tables no record maps to). */
export interface TableSpec<R = never> {
  /** Base name; the dialect adds its prefix or schema. */
  name: string;
  /** Primary key columns. */
  key: string[];
  columns: ColumnSpec[];
  indexes: IndexSpec[];
  /** The column `purgeExpired` compares with the clock. */
  expiry: string;
  /** Type witness only; never set. */
  readonly record?: R;
}

const text = (name: string, field?: string, nullable?: ColumnSpec['nullable']): ColumnSpec => ({ name, type: 'text', field, nullable });
const json = (name: string, field?: string, nullable?: ColumnSpec['nullable']): ColumnSpec => ({ name, type: 'json', field, nullable });
const time = (name: string, field?: string, nullable?: ColumnSpec['nullable']): ColumnSpec => ({ name, type: 'bigint', field, nullable });
const expiresAt: IndexSpec = { suffix: 'expires_at', columns: ['expires_at'] };
/** Written false on every save; nothing reads it. Kept so databases stay readable by older and newer versions. */
const legacyRedirectUriSent: ColumnSpec = { name: 'redirect_uri_sent', type: 'boolean', written: false };

/**
 * Every table of the SQL stores, in creation order. Column order is the DDL's; a store may add nothing here
 * that is not also a numbered migration (see {@link MIGRATIONS}).
 *
 * @example
 * ```ts
 * import { TABLES, toRow } from '@keyward/sql-kit';
 * const row = toRow(sqliteDialect(), TABLES.clients, client);
 * ```
 */
export const TABLES = {
  clients: {
    name: 'clients',
    key: ['client_id'],
    columns: [
      text('client_id', 'clientId'),
      text('client_secret_hash', 'clientSecretHash', 'absent'),
      time('client_secret_expires_at', 'clientSecretExpiresAt', 'absent'),
      text('token_endpoint_auth_method', 'tokenEndpointAuthMethod'),
      json('redirect_uris', 'redirectUris'),
      json('grant_types', 'grantTypes'),
      json('response_types', 'responseTypes'),
      json('scopes', 'scopes', 'absent'),
      text('client_name', 'clientName', 'absent'),
      text('application_type', 'applicationType', 'absent'),
      text('registration_access_token_hash', 'registrationAccessTokenHash', 'absent'),
      json('metadata', 'metadata'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt', 'null'),
    ],
    indexes: [{ ...expiresAt, since: 3 }],
    expiry: 'expires_at',
  } satisfies TableSpec<ClientRecord> as TableSpec<ClientRecord>,
  grants: {
    name: 'grants',
    key: ['grant_id'],
    columns: [
      text('grant_id', 'grantId'),
      text('client_id', 'clientId'),
      text('subject', 'subject'),
      json('scopes', 'scopes'),
      json('resources', 'resources'),
      time('auth_time', 'authTime', 'absent'),
      json('claims', 'claims', 'absent'),
      text('upstream_tokens', 'upstreamTokens', 'absent'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
      time('revoked_at', 'revokedAt', 'absent'),
    ],
    indexes: [expiresAt, { suffix: 'subject', columns: ['subject', 'created_at'], since: 2 }],
    expiry: 'expires_at',
  } satisfies TableSpec<GrantRecord> as TableSpec<GrantRecord>,
  authorization_codes: {
    name: 'authorization_codes',
    key: ['code_hash'],
    columns: [
      text('code_hash', 'codeHash'),
      text('grant_id', 'grantId'),
      text('client_id', 'clientId'),
      text('subject', 'subject'),
      text('redirect_uri', 'redirectUri'),
      legacyRedirectUriSent,
      text('code_challenge', 'codeChallenge', 'absent'),
      text('code_challenge_method', 'codeChallengeMethod', 'absent'),
      json('scopes', 'scopes'),
      json('resources', 'resources'),
      text('nonce', 'nonce', 'absent'),
      time('auth_time', 'authTime', 'absent'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
      // The store's own mark of a spent code; saving a code again writes it unconsumed.
      { name: 'consumed_at', type: 'bigint', nullable: 'absent', written: null },
    ],
    indexes: [expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec<AuthorizationCodeRecord> as TableSpec<AuthorizationCodeRecord>,
  refresh_tokens: {
    name: 'refresh_tokens',
    key: ['token_hash'],
    columns: [
      text('token_hash', 'tokenHash'),
      text('grant_id', 'grantId'),
      text('client_id', 'clientId'),
      text('subject', 'subject'),
      json('scopes', 'scopes'),
      json('resources', 'resources'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
      time('rotated_at', 'rotatedAt', 'absent'),
    ],
    indexes: [{ suffix: 'grant_id', columns: ['grant_id'] }, expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec<RefreshTokenRecord> as TableSpec<RefreshTokenRecord>,
  interactions: {
    name: 'interactions',
    key: ['interaction_id'],
    columns: [
      text('interaction_id', 'interactionId'),
      text('client_id', 'clientId'),
      text('redirect_uri', 'redirectUri'),
      legacyRedirectUriSent,
      text('state', 'state', 'absent'),
      json('scopes', 'scopes'),
      json('resources', 'resources'),
      text('code_challenge', 'codeChallenge'),
      text('code_challenge_method', 'codeChallengeMethod'),
      text('nonce', 'nonce', 'absent'),
      text('response_mode', 'responseMode'),
      text('prompt', 'prompt', 'absent'),
      { name: 'max_age', type: 'integer', field: 'maxAge', nullable: 'absent' },
      text('session_binding', 'sessionBinding', 'absent'),
      json('login_state', 'loginState', 'absent'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
    ],
    indexes: [expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec<InteractionRecord> as TableSpec<InteractionRecord>,
  sessions: {
    name: 'sessions',
    key: ['session_hash'],
    columns: [
      text('session_hash', 'sessionHash'),
      text('subject', 'subject'),
      json('claims', 'claims', 'absent'),
      text('upstream_tokens', 'upstreamTokens', 'absent'),
      time('auth_time', 'authTime'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
    ],
    indexes: [expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec<BrowserSessionRecord> as TableSpec<BrowserSessionRecord>,
  consents: {
    name: 'consents',
    key: ['subject', 'client_id'],
    columns: [
      text('subject', 'subject'),
      text('client_id', 'clientId'),
      json('scopes', 'scopes'),
      time('created_at', 'createdAt'),
      time('expires_at', 'expiresAt'),
    ],
    indexes: [expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec<ConsentRecord> as TableSpec<ConsentRecord>,
  revocations: {
    name: 'revocations',
    key: ['key'],
    columns: [text('key', 'key'), time('revoked_at', 'revokedAt'), time('expires_at', 'expiresAt')],
    indexes: [{ suffix: 'revoked_at', columns: ['revoked_at'] }, { ...expiresAt, since: 3 }],
    expiry: 'expires_at',
  } satisfies TableSpec<RevocationRecord> as TableSpec<RevocationRecord>,
  signing_keys: {
    name: 'signing_keys',
    key: ['kid'],
    columns: [
      text('kid', 'kid'),
      text('alg', 'alg'),
      json('private_jwk', 'privateJwk'),
      json('public_jwk', 'publicJwk', 'absent'),
      time('created_at', 'createdAt'),
      time('retires_at', 'retiresAt', 'null'),
      time('expires_at', 'expiresAt', 'null'),
    ],
    indexes: [],
    expiry: 'expires_at',
  } satisfies TableSpec<SigningKeyRecord> as TableSpec<SigningKeyRecord>,
  used_markers: {
    name: 'used_markers',
    key: ['key'],
    columns: [text('key'), time('expires_at')],
    indexes: [expiresAt],
    expiry: 'expires_at',
  } satisfies TableSpec as TableSpec,
  counters: {
    name: 'counters',
    key: ['key'],
    columns: [text('key'), { name: 'count', type: 'integer' }, time('reset_at')],
    indexes: [{ suffix: 'reset_at', columns: ['reset_at'] }],
    expiry: 'reset_at',
  } satisfies TableSpec as TableSpec,
};

/** The names of {@link TABLES}. */
export type TableName = keyof typeof TABLES;

/**
 * The numbered schema changes, shared by every SQL store; the DDL of each is generated per dialect from
 * {@link TABLES} (tables and indexes carry the version that added them). Never change a released one: add
 * the next number.
 *
 * @example
 * ```ts
 * for (const { version, name } of MIGRATIONS) console.log(version, name);
 * ```
 */
export const MIGRATIONS: readonly { version: number; name: string }[] = [
  { version: 1, name: 'initial schema' },
  { version: 2, name: 'grants by subject' },
  // The SQLite store of versions 1-2 had no expiry index on clients and revocations; PostgreSQL had both.
  { version: 3, name: 'an expiry index on every table that expires' },
];

/**
 * The schema version of this release: the highest number in {@link MIGRATIONS}.
 *
 * @example
 * ```ts
 * if (appliedVersion < SCHEMA_VERSION) await migrate();
 * ```
 */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;
