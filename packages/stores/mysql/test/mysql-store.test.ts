import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { hasLoginStore } from '@keyward/core';
import { testStore } from '@keyward/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessReachable } from '../../test-support/availability.js';
import { closedPort } from '../../test-support/outage.js';
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
  // Every row of every table in the database, as JSON, read through the test's own connection.
  rawDump: async () => {
    const [tables] = await pool.query<mysql.RowDataPacket[]>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?',
      [database],
    );
    const dumps = await Promise.all(tables.map((table) => pool.query(`SELECT * FROM \`${table.name as string}\``)));
    return JSON.stringify(dumps.map(([rows]) => rows));
  },
});

describe.skipIf(skip)('MySQLStore', () => {
  it('STORE-V2: has the LoginStore group, and refuses options without a uri or pool', () => {
    expect(hasLoginStore(new MySQLStore({ pool }))).toBe(true);
    expect(() => new MySQLStore({})).toThrow(TypeError);
  });

  it('STORE-V2: classifies a closed pool and a refused connection as transient, a SQL error as not', async () => {
    const store = new MySQLStore({ pool });
    const syntax = await pool.query('SELEC 1').catch((error: unknown) => error);
    expect(store.isTransientError(syntax)).toBe(false);
    expect(store.isTransientError(new TypeError('x is undefined'))).toBe(false);

    const closed = new MySQLStore({ uri: withDatabase(MYSQL_URL, database), migrate: false });
    await closed.close();
    const afterClose = await closed.getClient('client-1').catch((error: unknown) => error);
    expect(store.isTransientError(afterClose)).toBe(true);

    const refused = new MySQLStore({ uri: `mysql://root@127.0.0.1:${await closedPort()}/x`, migrate: false });
    const refusedError = await refused.getClient('client-1').catch((error: unknown) => error);
    expect(store.isTransientError(refusedError)).toBe(true);
    await refused.close();
  });

  it('STORE-V2: classifies a lock wait timeout and a deadlock as transient', async () => {
    const store = new MySQLStore({ pool });
    const client = (clientId: string) => ({
      clientId, tokenEndpointAuthMethod: 'none' as const, redirectUris: [], grantTypes: [], responseTypes: [],
      metadata: {}, createdAt: Date.now(), expiresAt: null,
    });
    await store.saveClient(client('lock-a'));
    await store.saveClient(client('lock-b'));
    const update = (clientId: string) => `UPDATE keyward_clients SET client_name = 'x' WHERE client_id = '${clientId}'`;
    const first = await pool.getConnection();
    const second = await pool.getConnection();
    try {
      await first.query('SET SESSION innodb_lock_wait_timeout = 1');
      await second.query('SET SESSION innodb_lock_wait_timeout = 1');
      await first.beginTransaction();
      await second.beginTransaction();
      await first.query(update('lock-a'));
      const timeout = await second.query(update('lock-a')).catch((error: unknown) => error);
      expect((timeout as { code?: string }).code).toBe('ER_LOCK_WAIT_TIMEOUT');
      expect(store.isTransientError(timeout)).toBe(true);

      await second.query(update('lock-b'));
      const results = await Promise.allSettled([first.query(update('lock-b')), second.query(update('lock-a'))]);
      const deadlock = results.find((result) => result.status === 'rejected')?.reason as { code?: string } | undefined;
      expect(deadlock?.code).toBe('ER_LOCK_DEADLOCK');
      expect(store.isTransientError(deadlock)).toBe(true);
    } finally {
      await first.rollback().catch(() => undefined);
      await second.rollback().catch(() => undefined);
      first.release();
      second.release();
    }
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
