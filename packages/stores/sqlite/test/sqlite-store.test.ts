import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION, SQLiteStore } from '../src/index.js';

/** Every row of every Keyward table, read through another handle on the same database. */
function dumpTables(db: Database.Database): string {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'keyward_%'").pluck().all() as string[];
  return JSON.stringify(tables.map((table) => [table, db.prepare(`SELECT * FROM "${table}"`).all()]));
}

const memoryDatabases = new WeakMap<object, Database.Database>();
testStore({
  name: 'sqlite (:memory:)',
  create: (clock) => {
    const database = new Database(':memory:');
    const store = new SQLiteStore({ database, clock });
    memoryDatabases.set(store, database);
    return store;
  },
  cleanup: async (store) => {
    await store.close?.();
    memoryDatabases.get(store)!.close();
  },
  rawDump: (store) => dumpTables(memoryDatabases.get(store)!),
});

// A file in WAL mode is what production uses; each test gets its own file, so every store starts empty.
const directory = mkdtempSync(join(tmpdir(), 'keyward-sqlite-'));
let files = 0;
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const fileNames = new WeakMap<object, string>();
testStore({
  name: 'sqlite (WAL file)',
  create: (clock) => {
    const filename = join(directory, `store-${++files}.db`);
    const store = new SQLiteStore({ filename, clock });
    fileNames.set(store, filename);
    return store;
  },
  cleanup: (store) => store.close?.(),
  // The bytes on disk, database and write-ahead log, as a stolen file would show them.
  rawDump: (store) => {
    const filename = fileNames.get(store)!;
    return [filename, `${filename}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file).toString('latin1')).join('\n');
  },
});

describe('SQLiteStore', () => {
  it('enables WAL and a busy timeout on a file it opens', async () => {
    const filename = join(directory, 'pragmas.db');
    const store = new SQLiteStore({ filename });
    await store.close();
    const db = new Database(filename);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('uses a database passed in and leaves it open on close', async () => {
    const db = new Database(':memory:');
    const store = new SQLiteStore({ database: db });
    expect(await store.markUsed('jti:1', Date.now() + 60_000)).toBe(true);
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) FROM keyward_used_markers').pluck().get()).toBe(1);
    db.close();
  });

  it('refuses options without a filename or database', () => {
    expect(() => new SQLiteStore({})).toThrow(TypeError);
  });

  it('sees a second process-like connection consume a code only once', async () => {
    // Two connections to one WAL file stand in for two processes: the guarded UPDATE decides across them.
    const filename = join(directory, 'two-connections.db');
    const first = new SQLiteStore({ filename });
    const second = new SQLiteStore({ filename });
    const now = Date.now();
    await first.saveAuthorizationCode({
      codeHash: 'code-hash',
      grantId: 'grant-1',
      clientId: 'client-1',
      subject: 'user-1',
      redirectUri: 'http://127.0.0.1:33418/callback',
      scopes: [],
      resources: [],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    expect((await second.consumeAuthorizationCode('code-hash'))?.firstUse).toBe(true);
    expect((await first.consumeAuthorizationCode('code-hash'))?.firstUse).toBe(false);
    await first.close();
    await second.close();
  });
});

describe('rows written by earlier versions', () => {
  it('reads a code row whose legacy redirect_uri_sent column says 1, and writes new rows with it at 0', async () => {
    const db = new Database(':memory:');
    const store = new SQLiteStore({ database: db });
    const now = Date.now();
    // An earlier version recorded whether the authorization request named redirect_uri; nothing reads it now.
    db.prepare(
      `INSERT INTO keyward_authorization_codes (code_hash, grant_id, client_id, subject, redirect_uri, redirect_uri_sent, scopes, resources, created_at, expires_at)
       VALUES ('old-hash', 'grant-1', 'client-1', 'user-1', 'http://127.0.0.1/cb', 1, '["mcp:tools"]', '[]', ?, ?)`,
    ).run(now, now + 60_000);
    const record = await store.getAuthorizationCode('old-hash');
    expect(record).toMatchObject({ codeHash: 'old-hash', redirectUri: 'http://127.0.0.1/cb', scopes: ['mcp:tools'] });
    expect(record).not.toHaveProperty('redirectUriSent');
    await store.saveAuthorizationCode({ ...record!, codeHash: 'new-hash' });
    expect(db.prepare("SELECT redirect_uri_sent FROM keyward_authorization_codes WHERE code_hash = 'new-hash'").pluck().get()).toBe(0);
    db.close();
  });
});

describe('migrate', () => {
  it('applies every migration once and is a no-op when run again', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(migrate(db)).toEqual([]);
    expect(db.prepare('SELECT max(version) FROM keyward_migrations').pluck().get()).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('leaves a database the store already migrated unchanged', async () => {
    const filename = join(directory, 'migrated.db');
    await new SQLiteStore({ filename }).close();
    const db = new Database(filename);
    expect(migrate(db)).toEqual([]);
    db.close();
  });
});
