import { Miniflare } from 'miniflare';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { D1_SCHEMA, D1Store, type D1DatabaseLike } from '../src/index.js';

// The store runs here, in Node, and every statement it sends runs in workerd's own D1 (SQLite in a Durable
// Object, as in production) through Miniflare's binding proxy: concurrent calls from the suite reach D1 as
// concurrent requests, so its races test D1's atomicity, not a stand-in's.
const miniflare = new Miniflare({
  modules: true,
  script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
  d1Databases: { DB: 'keyward-store-d1-test' },
  compatibilityDate: '2026-07-01',
});
const database = (await miniflare.getD1Database('DB')) as unknown as D1DatabaseLike;
afterAll(() => miniflare.dispose());

/** Empties every Keyward table, so each test starts from an empty store (the schema stays). */
async function empty(): Promise<void> {
  const tables = await database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'keyward_%'").all<{ name: string }>();
  if (tables.results.length) await database.batch(tables.results.map(({ name }) => database.prepare(`DELETE FROM ${name}`)));
}

testStore({
  name: 'd1 (Miniflare local D1)',
  create: (clock) => new D1Store({ database, clock }),
  cleanup: empty,
});

describe('D1Store', () => {
  it('creates its tables once, idempotently, and works with migrate: false after that', async () => {
    const store = new D1Store({ database });
    await Promise.all([store.migrate(), store.migrate(), new D1Store({ database }).migrate()]);
    const tables = await database.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name LIKE 'keyward_%'").first<{ n: number }>();
    expect(tables?.n).toBe(11);
    const unmigrated = new D1Store({ database, migrate: false });
    expect(await unmigrated.markUsed('jti:d1-1', Date.now() + 60_000)).toBe(true);
    expect(D1_SCHEMA.every((sql) => /IF NOT EXISTS/.test(sql))).toBe(true);
    await empty();
  });

  it('refuses a missing binding with a message that names the fix', () => {
    expect(() => new D1Store({ database: undefined as unknown as D1DatabaseLike })).toThrow(/env\.DB/);
  });
});
