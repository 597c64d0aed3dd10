import { Miniflare } from 'miniflare';
import { hasLoginStore } from '@keyward/core';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION } from '@keyward/sql-kit';
import { D1Store, type D1DatabaseLike } from '../src/index.js';

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

/** Empties every Keyward table, so each test starts from an empty store (the schema and its version stay). */
async function empty(): Promise<void> {
  const tables = await database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'keyward_%' AND name NOT LIKE '%migrations'").all<{ name: string }>();
  if (tables.results.length) await database.batch(tables.results.map(({ name }) => database.prepare(`DELETE FROM ${name}`)));
}

testStore({
  name: 'd1 (Miniflare local D1)',
  create: (clock) => new D1Store({ database, clock }),
  cleanup: empty,
  // Every row of every Keyward table, read straight from the binding rather than through the store.
  rawDump: async () => {
    const tables = await database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'keyward_%'").all<{ name: string }>();
    const dumps = await Promise.all(tables.results.map(({ name }) => database.prepare(`SELECT * FROM "${name}"`).all()));
    return JSON.stringify(dumps.map((dump) => dump.results));
  },
});

describe('D1Store', () => {
  it('migrates a new database once, even when three isolates start at the same moment', async () => {
    const tablePrefix = 'keyward_race_';
    const stores = Array.from({ length: 3 }, () => new D1Store({ database, tablePrefix, migrate: false }));
    const applied = await Promise.all(stores.map((store) => store.migrate()));
    expect(applied.flat().sort()).toEqual(MIGRATIONS.map(({ version }) => version));
    expect(await stores[0]!.migrate()).toEqual([]);
    const recorded = await database.prepare(`SELECT max(version) AS version, count(*) AS n FROM "${tablePrefix}migrations"`).all<{ version: number; n: number }>();
    expect(recorded.results[0]).toEqual({ version: SCHEMA_VERSION, n: MIGRATIONS.length });
    const tables = await database.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name LIKE '${tablePrefix}%'`).all<{ n: number }>();
    expect(tables.results[0]?.n).toBe(12);
    expect(await stores[1]!.markUsed('jti:d1-1', Date.now() + 60_000)).toBe(true);
  });

  it('STORE-V2: has the LoginStore group; classifies D1\'s retryable errors as transient and a SQL error as not', async () => {
    const store = new D1Store({ database });
    expect(hasLoginStore(store)).toBe(true);
    const sqlError = await database.prepare('SELEC 1').all().catch((error: unknown) => error);
    expect(sqlError).toBeInstanceOf(Error);
    expect(store.isTransientError(sqlError)).toBe(false);
    expect(store.isTransientError(new TypeError('x is undefined'))).toBe(false);
    // Messages as Cloudflare's D1 documentation gives them; a local D1 cannot be made to lose its network.
    for (const message of ['D1_ERROR: Network connection lost.', 'D1_ERROR: D1 DB is overloaded. Requests queued for too long.', 'D1_ERROR: Internal error while starting up D1 DB storage caused object to be reset.']) {
      expect(store.isTransientError(new Error(message)), message).toBe(true);
    }
  });

  it('refuses a missing binding with a message that names the fix', () => {
    expect(() => new D1Store({ database: undefined as unknown as D1DatabaseLike })).toThrow(/env\.DB/);
  });
});

// The binding Workers hand the store (typed by @cloudflare/workers-types) fits what the store asks for.
type Binding = import('@cloudflare/workers-types').D1Database;
export const bindingFits: (binding: Binding) => D1DatabaseLike = (binding) => binding;
