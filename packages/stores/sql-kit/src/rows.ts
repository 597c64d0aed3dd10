/**
 * Rows to records and back, driven by a {@link TableSpec} and a {@link Dialect}: absent optional fields
 * become NULL and read back absent, so a record reads back exactly as it was saved.
 *
 * @module
 */
import type { Dialect } from './dialect.js';
import type { TableSpec } from './schema.js';

/** A row as the driver takes or returns it: column name → value. */
export type Row = Record<string, unknown>;

/**
 * The row of a record, in the table's column order, encoded for the dialect. Columns without a `field`
 * get their `written` value.
 *
 * @example
 * ```ts
 * const row = toRow(sqliteDialect(), TABLES.grants, grant); // { grant_id: 'g1', scopes: '["mcp"]', … }
 * ```
 */
export function toRow<R>(dialect: Dialect, table: TableSpec<R>, record: R): Row {
  const row: Row = {};
  for (const column of table.columns) {
    const value = column.field === undefined ? column.written : (record as Record<string, unknown>)[column.field];
    row[column.name] = value === undefined || value === null ? null : dialect.encode(column.type, value);
  }
  return row;
}

/**
 * The record of a row the driver returned. NULL becomes an absent property, or `null` where the column
 * says `nullable: 'null'`; bookkeeping columns are left out.
 *
 * @example
 * ```ts
 * const grant = fromRow(postgresDialect(), TABLES.grants, result.rows[0]);
 * ```
 */
export function fromRow<R>(dialect: Dialect, table: TableSpec<R>, row: Row): R {
  const record: Record<string, unknown> = {};
  for (const column of table.columns) {
    if (column.field === undefined) continue;
    const value = row[column.name];
    if (value !== null && value !== undefined) record[column.field] = dialect.decode(column.type, value);
    else if (column.nullable === 'null') record[column.field] = null;
  }
  return record as R;
}
