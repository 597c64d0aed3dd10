/**
 * What differs between SQL engines for Keyward's tables: names, column types, how values are encoded,
 * parameter placeholders, the upsert syntax and whether `UPDATE … RETURNING` exists.
 *
 * @module
 */
import type { ColumnSpec, ColumnType } from './schema.js';

/**
 * An SQL engine as the kit sees it. Make one with {@link sqliteDialect}, {@link postgresDialect},
 * {@link mysqlDialect}, or {@link defineDialect} for another engine.
 *
 * @example
 * ```ts
 * const dialect = postgresDialect({ schema: 'keyward' });
 * dialect.table('clients'); // '"keyward"."clients"'
 * dialect.param(0); // '$1'
 * ```
 */
export interface Dialect {
  /** Display name, e.g. `sqlite`. */
  readonly name: string;
  /** The quoted, qualified name of a Keyward table, e.g. `"keyward_clients"` or `"keyward"."clients"`. */
  table(name: string): string;
  /** The quoted name of an index of a Keyward table. */
  index(table: string, suffix: string): string;
  /** Quotes an identifier. */
  quote(identifier: string): string;
  /** The placeholder of the parameter at 0-based `position`: `?` or `$1`. */
  param(position: number): string;
  /** The column type in DDL; `indexed` says the column is part of a key or index (MySQL needs a length). */
  columnType(type: ColumnType, indexed: boolean): string;
  /** Text after `CREATE TABLE …(…)`, e.g. ` STRICT`. */
  tableSuffix: string;
  /** Whether `CREATE INDEX IF NOT EXISTS` is understood. */
  indexIfNotExists: boolean;
  /** A record value (never `undefined` or `null`) as the driver's parameter. */
  encode(type: ColumnType, value: unknown): unknown;
  /** A non-NULL value as the driver returned it, back to the record's value. */
  decode(type: ColumnType, value: unknown): unknown;
  /** How an `INSERT` that meets a row with the same `key` updates it instead; see {@link UpsertSyntax}. */
  upsert(key: readonly string[]): UpsertSyntax;
  /** `INSERT … VALUES (…)` that skips a row whose key exists: `[before INTO, after VALUES (…)]`. */
  insertIgnore: readonly [string, string];
  /**
   * Whether `UPDATE`, `DELETE` and `INSERT … ON CONFLICT` take `RETURNING` (SQLite ≥ 3.35, PostgreSQL).
   * Without it the kit uses guarded statements and row counts, and `ON DUPLICATE KEY UPDATE` upserts.
   */
  returning: boolean;
}

/**
 * The pieces of an upsert: `INSERT INTO table${alias} (…) VALUES (…)${clause}col = <expression>, …`, where
 * an expression names the row already stored as `existing(col)` and the row being inserted as
 * `incoming(col)`.
 *
 * @example
 * ```ts
 * const u = sqliteDialect().upsert(['key']);
 * `INSERT INTO t${u.alias} (key, n) VALUES (?, 1)${u.clause}n = ${u.existing('n')} + 1`;
 * ```
 */
export interface UpsertSyntax {
  alias: string;
  clause: string;
  existing(column: string): string;
  incoming(column: string): string;
}

/**
 * The SQL that overwrites every non-key column of `columns` on a key conflict, to append after
 * `INSERT INTO table${upsert.alias} (…) VALUES (…)`.
 *
 * @example
 * ```ts
 * const u = postgresDialect().upsert(['kid']);
 * const sql = `INSERT INTO t${u.alias} (kid, alg) VALUES ($1, $2)${overwrite(postgresDialect(), u, ['kid', 'alg'], ['kid'])}`;
 * ```
 */
export function overwrite(dialect: Dialect, upsert: UpsertSyntax, columns: readonly string[], key: readonly string[]): string {
  const assignments = columns.filter((column) => !key.includes(column)).map((column) => `${dialect.quote(column)} = ${upsert.incoming(column)}`);
  return `${upsert.clause}${assignments.join(', ')}`;
}

/**
 * Builds a {@link Dialect} from the parts that differ; JSON is stored as text (parsed back when the driver
 * returns a string), times as numbers (`Number()` on the way back, as drivers return 64-bit integers as
 * strings), booleans as 1/0.
 *
 * @example
 * ```ts
 * const d1 = defineDialect({ ...sqliteDialect(), name: 'd1' });
 * ```
 */
export function defineDialect(parts: Partial<Dialect> & Pick<Dialect, 'name' | 'table' | 'index' | 'columnType'>): Dialect {
  return {
    quote: (identifier) => `"${identifier}"`,
    param: () => '?',
    tableSuffix: '',
    indexIfNotExists: true,
    encode: (type, value) => (type === 'json' ? JSON.stringify(value) : type === 'boolean' ? (value ? 1 : 0) : value),
    decode: (type, value) =>
      type === 'json'
        ? typeof value === 'string'
          ? JSON.parse(value)
          : value
        : type === 'bigint' || type === 'integer'
          ? Number(value)
          : type === 'boolean'
            ? Boolean(Number(value))
            : value,
    upsert: (key) => ({
      alias: ' AS "current"',
      clause: ` ON CONFLICT (${key.map((column) => `"${column}"`).join(', ')}) DO UPDATE SET `,
      existing: (column) => `"current"."${column}"`,
      incoming: (column) => `excluded."${column}"`,
    }),
    insertIgnore: ['INSERT', ' ON CONFLICT DO NOTHING'],
    returning: true,
    ...parts,
  };
}

/** Accepts only plain identifiers, so a configuration value can never inject SQL. */
export function checkIdentifier(kind: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value)) {
    throw new TypeError(`Invalid ${kind} ${JSON.stringify(value)}: use letters, digits and _`);
  }
  return value;
}

/**
 * SQLite: tables prefixed (`keyward_` by default) in the application's database file, STRICT tables,
 * INTEGER for numbers and booleans, JSON as TEXT, `?` placeholders.
 *
 * @example
 * ```ts
 * const dialect = sqliteDialect();
 * dialect.table('grants'); // '"keyward_grants"'
 * ```
 */
export function sqliteDialect(options: { prefix?: string | undefined } = {}): Dialect {
  const prefix = checkIdentifier('table prefix', options.prefix ?? 'keyward_');
  return defineDialect({
    name: 'sqlite',
    table: (name) => `"${prefix}${name}"`,
    index: (table, suffix) => `"${prefix}${table}_${suffix}"`,
    columnType: (type) => (type === 'text' || type === 'json' ? 'TEXT' : 'INTEGER'),
    tableSuffix: ' STRICT',
  });
}

/**
 * PostgreSQL: tables in their own schema (`keyward` by default), jsonb, bigint, boolean, `$1` placeholders.
 *
 * @example
 * ```ts
 * const dialect = postgresDialect({ schema: 'auth' });
 * dialect.table('grants'); // '"auth"."grants"'
 * ```
 */
export function postgresDialect(options: { schema?: string | undefined } = {}): Dialect {
  const schema = checkIdentifier('PostgreSQL schema name', options.schema ?? 'keyward');
  const types: Record<ColumnType, string> = { text: 'text', integer: 'integer', bigint: 'bigint', boolean: 'boolean', json: 'jsonb' };
  return defineDialect({
    name: 'postgres',
    table: (name) => `"${schema}"."${name}"`,
    // An index lives in its table's schema; CREATE INDEX takes it unqualified.
    index: (table, suffix) => `"${table}_${suffix}"`,
    param: (position) => `$${position + 1}`,
    columnType: (type) => types[type],
    encode: (type, value) => (type === 'json' ? JSON.stringify(value) : value),
  });
}

/**
 * MySQL and MariaDB: tables prefixed (`keyward_` by default) in the connection's database, InnoDB with a
 * binary utf8mb4 collation (hashes and ids compare case-sensitively), VARCHAR(255) for keys and indexed
 * text, JSON as LONGTEXT, `?` placeholders, `ON DUPLICATE KEY UPDATE`, and no `RETURNING`.
 *
 * @example
 * ```ts
 * const dialect = mysqlDialect({ prefix: 'auth_' });
 * dialect.table('grants'); // '`auth_grants`'
 * ```
 */
export function mysqlDialect(options: { prefix?: string | undefined } = {}): Dialect {
  const prefix = checkIdentifier('table prefix', options.prefix ?? 'keyward_');
  const types: Record<ColumnType, string> = { text: 'TEXT', integer: 'INT', bigint: 'BIGINT', boolean: 'TINYINT(1)', json: 'LONGTEXT' };
  return defineDialect({
    name: 'mysql',
    quote: (identifier) => `\`${identifier}\``,
    table: (name) => `\`${prefix}${name}\``,
    index: (table, suffix) => `\`${prefix}${table}_${suffix}\``,
    columnType: (type, indexed) => (type === 'text' && indexed ? 'VARCHAR(255)' : types[type]),
    tableSuffix: ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    indexIfNotExists: false,
    // MySQL assigns left to right, each seeing the columns assigned before it: an expression that reads
    // another column must come before that column's own assignment.
    upsert: () => ({
      alias: '',
      clause: ' ON DUPLICATE KEY UPDATE ',
      existing: (column) => `\`${column}\``,
      incoming: (column) => `VALUES(\`${column}\`)`,
    }),
    insertIgnore: ['INSERT IGNORE', ''],
    returning: false,
  });
}

/** The non-key parts of a column definition, for DDL. */
export function columnDefinition(dialect: Dialect, column: ColumnSpec, indexed: boolean): string {
  return `${dialect.quote(column.name)} ${dialect.columnType(column.type, indexed)}${column.nullable ? '' : ' NOT NULL'}`;
}
