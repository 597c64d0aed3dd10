/**
 * The DDL of each numbered migration, generated from {@link TABLES} for a dialect.
 *
 * @module
 */
import { columnDefinition, type Dialect } from './dialect.js';
import { MIGRATIONS, TABLES, type TableSpec } from './schema.js';

/** `CREATE TABLE` of one table. */
export function createTable(dialect: Dialect, table: TableSpec<unknown>): string {
  const indexed = new Set([...table.key, ...table.indexes.flatMap((index) => index.columns)]);
  const columns = table.columns.map((column) => columnDefinition(dialect, column, indexed.has(column.name)));
  const key = `PRIMARY KEY (${table.key.map((column) => dialect.quote(column)).join(', ')})`;
  return `CREATE TABLE ${dialect.table(table.name)} (\n  ${[...columns, key].join(',\n  ')}\n)${dialect.tableSuffix}`;
}

/**
 * The statements of migration `version` for `dialect`, one SQL statement each (so drivers that run one
 * statement per call can run them): version 1 creates every table, and each version creates the indexes
 * that carry its number.
 *
 * @example
 * ```ts
 * for (const { version } of MIGRATIONS) for (const sql of migrationStatements(dialect, version)) db.exec(sql);
 * ```
 */
export function migrationStatements(dialect: Dialect, version: number): string[] {
  if (!MIGRATIONS.some((migration) => migration.version === version)) throw new RangeError(`No migration ${version}`);
  const tables: TableSpec<unknown>[] = Object.values(TABLES);
  const statements = version === 1 ? tables.map((table) => createTable(dialect, table)) : [];
  for (const table of tables) {
    for (const index of table.indexes) {
      if ((index.since ?? 1) !== version) continue;
      const columns = index.columns.map((column) => dialect.quote(column)).join(', ');
      statements.push(
        `CREATE INDEX ${dialect.indexIfNotExists ? 'IF NOT EXISTS ' : ''}${dialect.index(table.name, index.suffix)} ON ${dialect.table(table.name)} (${columns})`,
      );
    }
  }
  return statements;
}
