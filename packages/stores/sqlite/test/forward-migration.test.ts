import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { READ_AT } from '../../test-support/fixture-records.js';
import { checkFixtureReadsBack } from '../../test-support/forward-migration.js';
import { migrate, SCHEMA_VERSION, SQLiteStore } from '../src/index.js';

const directory = mkdtempSync(join(tmpdir(), 'keyward-sqlite-fixture-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A private copy of a committed fixture, so the test never changes it. */
function copyOfFixture(name: string): string {
  const file = join(directory, name);
  copyFileSync(new URL(`../../test-support/fixtures/${name}`, import.meta.url), file);
  return file;
}

describe('STORE-MIG forward migration (SQLite)', () => {
  it('opens a database written by schema version 2, migrates it and reads every record back intact', async () => {
    const file = copyOfFixture('sqlite-schema-v2.db');
    const store = new SQLiteStore({ filename: file, clock: () => READ_AT });
    try {
      await checkFixtureReadsBack(store);
    } finally {
      await store.close();
    }
    const db = new Database(file);
    expect(db.prepare('SELECT max(version) FROM keyward_migrations').pluck().get()).toBe(SCHEMA_VERSION);
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('leaves the migrated fixture with the same tables, columns and indexes as a database created today', () => {
    const migrated = new Database(copyOfFixture('sqlite-schema-v2.db'));
    migrate(migrated);
    const fresh = new Database(':memory:');
    migrate(fresh);
    expect(shape(migrated)).toEqual(shape(fresh));
    migrated.close();
    fresh.close();
  });
});

/** Every table's columns (name, type, NOT NULL, key) and every index's columns. */
function shape(db: Database.Database): Record<string, unknown> {
  const objects = db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
    type: string;
    name: string;
  }[];
  return Object.fromEntries(
    objects.map(({ type, name }) => [
      `${type} ${name}`,
      type === 'table'
        ? db.prepare('SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid').all(name)
        : db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(name),
    ]),
  );
}
