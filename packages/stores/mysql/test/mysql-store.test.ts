import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { migrate, MySQLStore, SCHEMA_VERSION } from '../src/index.js';
import { describeAddress, MYSQL_URL, withDatabase } from './database.js';

const admin = mysql.createPool({ uri: MYSQL_URL, connectTimeout: 2_000 });
const skip = await skipUnlessReachable('MySQL/MariaDB', describeAddress(MYSQL_URL), () => admin.query('SELECT 1'));
// A database of its own per run, so parallel runs and other projects' data are never touched.
const database = `keyward_test_store_v2_${randomBytes(4).toString('hex')}`;
if (!skip) await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
const pool = mysql.createPool({ uri: withDatabase(MYSQL_URL, database), connectTimeout: 2_000 });

afterAll(async () => {
  await pool.end();
  if (!skip) await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
});

/** Empties every store table (the suite needs an empty store per test), keeping the migrations record. */
async function truncateAll(): Promise<void> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name <> 'keyward_migrations'",
    [database],
  );
  for (const row of rows) await pool.query(`TRUNCATE TABLE \`${row.name as string}\``);
}

testStore({
  name: 'mysql',
  skip,
  create: async (clock) => {
    const store = new MySQLStore({ pool, clock });
    await store.init();
    return store;
  },
  cleanup: truncateAll,
});

describe.skipIf(skip)('MySQLStore', () => {
  it('declares itself atomic and shared, and refuses options without a uri or pool', () => {
    expect(new MySQLStore({ pool }).capabilities).toEqual({ atomic: true, shared: true });
    expect(() => new MySQLStore({})).toThrow(TypeError);
  });

  it('refuses a table prefix that is not a plain identifier', () => {
    expect(() => new MySQLStore({ pool, prefix: 'x`; DROP TABLE users; --' })).toThrow(TypeError);
  });

  it('leaves a pool passed in open on close, and ends one it opened', async () => {
    await new MySQLStore({ pool }).close();
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    expect(rows[0]?.one).toBe(1);

    const own = new MySQLStore({ uri: withDatabase(MYSQL_URL, database) });
    expect(await own.getClient('client-unknown')).toBeNull();
    await own.close();
    await expect(own.getClient('client-unknown')).rejects.toThrow();
  });

  it('compares ids and hashes case-sensitively', async () => {
    const store = new MySQLStore({ pool });
    expect(await store.markUsed('jti:Aa', Date.now() + 60_000)).toBe(true);
    expect(await store.markUsed('jti:aA', Date.now() + 60_000)).toBe(true);
    expect(await store.markUsed('jti:Aa', Date.now() + 60_000)).toBe(false);
    await truncateAll();
  });

  it('sees two instances on one database rotate a refresh token exactly once', async () => {
    const first = new MySQLStore({ pool });
    const second = new MySQLStore({ uri: withDatabase(MYSQL_URL, database) });
    const now = Date.now();
    const token = (tokenHash: string) => ({
      tokenHash,
      grantId: 'grant-1',
      clientId: 'client-1',
      subject: 'user-1',
      scopes: ['mcp:tools'],
      resources: [],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    await first.saveRefreshToken(token('presented'));
    const results = await Promise.all([
      first.rotateRefreshToken('presented', token('successor-a')),
      second.rotateRefreshToken('presented', token('successor-b')),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['reused', 'rotated']);
    await truncateAll();
    await second.close();
  });
});

describe.skipIf(skip)('migrate (MySQL)', () => {
  it('applies every migration once under a prefix of its own, and is a no-op when run again', async () => {
    const prefix = 'other_';
    expect(await migrate(pool, { prefix })).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(await migrate(pool, { prefix })).toEqual([]);
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE ?', [
      database,
      'other\\_%',
    ]);
    expect(rows[0]?.n).toBe(12);
  });

  it('lets three instances starting at once all succeed, applying each migration exactly once', async () => {
    const prefix = 'race_';
    const results = await Promise.all([migrate(pool, { prefix }), migrate(pool, { prefix }), migrate(pool, { prefix })]);
    expect(results.flat().sort()).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });
});
