/**
 * Store throughput: authorization codes consumed and refresh tokens rotated per second, for the memory,
 * SQLite, PostgreSQL and Redis stores, each driven the way a server drives it (several requests in flight).
 * `pnpm bench` imports {@link benchStores}; run alone, this module prints a table:
 *
 *     node --conditions=@keyward/source --import tsx packages/bench/src/stores.ts
 *
 * PostgreSQL and Redis are found through DATABASE_URL and REDIS_URL (default: the local servers) and left
 * out, with a note, when they do not answer. The bench writes only under its own schema (`keyward_bench`)
 * or key prefix, and purges what it wrote before returning.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { AuthorizationCodeRecord, RefreshTokenRecord, Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { PostgresStore } from '@keyward/store-postgres';
import { RedisStore } from '@keyward/store-redis';
import { SQLiteStore } from '@keyward/store-sqlite';
import { D1Store, type D1DatabaseLike } from '@keyward/store-d1';
import { MySQLStore } from '@keyward/store-mysql';
import { Miniflare } from 'miniflare';

const OPERATIONS = Number(process.env.BENCH_STORE_OPERATIONS ?? 2_000);
const WARM_UP = 200;
const IN_FLIGHT = 16;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** One store's figures; `benchStores` returns one per store it could reach. */
export interface StoreBenchResult {
  store: string;
  consumePerSec: number;
  rotatePerSec: number;
  note?: string;
}

/** A store to measure, and how to tidy up after it. */
interface Subject {
  name: string;
  open: () => Promise<Store>;
  /** Removes what the bench wrote; the store is still open. */
  tidy?: (store: Store) => Promise<void>;
  note?: string;
}

/** Runs `count` operations with `IN_FLIGHT` of them pending at any time; returns operations per second. */
async function throughput(count: number, operation: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await operation(next++);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return count / ((performance.now() - started) / 1000);
}

function code(codeHash: string, now: number): AuthorizationCodeRecord {
  return {
    codeHash,
    grantId: 'bench-grant',
    clientId: 'bench-client',
    subject: 'bench-user',
    redirectUri: 'http://127.0.0.1:33418/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    scopes: ['mcp:tools'],
    resources: ['http://localhost:3009/mcp'],
    createdAt: now,
    expiresAt: now + 10 * 60_000,
  };
}

function refreshToken(tokenHash: string, now: number): RefreshTokenRecord {
  return {
    tokenHash,
    grantId: 'bench-grant',
    clientId: 'bench-client',
    subject: 'bench-user',
    scopes: ['mcp:tools'],
    resources: ['http://localhost:3009/mcp'],
    createdAt: now,
    expiresAt: now + 10 * 60_000,
  };
}

/**
 * Saves codes and tokens (untimed), warms up, then times consuming each code once and rotating each token
 * once. Every operation must succeed as a first use, or the figures would measure a failure path.
 */
async function measure(store: Store): Promise<{ consumePerSec: number; rotatePerSec: number }> {
  const run = randomBytes(6).toString('base64url');
  const total = WARM_UP + OPERATIONS;
  const now = Date.now();
  const codeHash = (index: number) => `bench-${run}-code-${index}`;
  const tokenHash = (index: number) => `bench-${run}-refresh-${index}`;

  await throughput(total, (i) => store.saveAuthorizationCode(code(codeHash(i), now)));
  await throughput(total, (i) => store.saveRefreshToken(refreshToken(tokenHash(i), now)));

  const consume = async (i: number): Promise<void> => {
    const result = await store.consumeAuthorizationCode(codeHash(i));
    if (result?.firstUse !== true) throw new Error(`code ${i} was not a first use`);
  };
  const rotate = async (i: number): Promise<void> => {
    const result = await store.rotateRefreshToken(tokenHash(i), refreshToken(`${tokenHash(i)}-next`, now));
    if (result.status !== 'rotated') throw new Error(`refresh token ${i} was ${result.status}`);
  };

  await throughput(WARM_UP, consume);
  await throughput(WARM_UP, rotate);
  const consumePerSec = await throughput(OPERATIONS, (i) => consume(WARM_UP + i));
  const rotatePerSec = await throughput(OPERATIONS, (i) => rotate(WARM_UP + i));
  return { consumePerSec, rotatePerSec };
}

/** Rejects when `promise` takes longer than `ms`, so an unreachable server is noticed in seconds. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deletes everything the bench wrote, through the store itself: a clock far ahead makes it all expired. */
async function purgeEverything(open: (clock: () => number) => Store): Promise<void> {
  const store = open(() => Number.MAX_SAFE_INTEGER);
  try {
    await store.purgeExpired();
  } finally {
    await store.close?.();
  }
}

/**
 * Measures `consumeAuthorizationCode` and `rotateRefreshToken` throughput of every store, after a warm-up,
 * with 16 operations in flight. Stores whose server does not answer within 2 s are left out with a warning.
 *
 * @example
 * ```ts
 * for (const { store, consumePerSec, rotatePerSec } of await benchStores()) {
 *   console.log(store, Math.round(consumePerSec), Math.round(rotatePerSec));
 * }
 * ```
 */
export async function benchStores(): Promise<StoreBenchResult[]> {
  const directory = mkdtempSync(join(tmpdir(), 'keyward-bench-'));
  const redisPrefix = `keyward-bench:${randomBytes(4).toString('hex')}:`;
  let miniflare: Miniflare | undefined;
  const subjects: Subject[] = [
    { name: 'memory', open: async () => new MemoryStore() },
    {
      name: 'sqlite',
      note: 'WAL file in a temp dir',
      open: async () => new SQLiteStore({ filename: join(directory, 'bench.db') }),
    },
    {
      name: 'postgres',
      open: async () => {
        const store = new PostgresStore({ connectionString: DATABASE_URL, schema: 'keyward_bench' });
        await within(store.init(), 2_000).catch(async (error: unknown) => {
          await store.close();
          throw error;
        });
        return store;
      },
      tidy: () => purgeEverything((clock) => new PostgresStore({ connectionString: DATABASE_URL, schema: 'keyward_bench', clock })),
    },
    {
      name: 'redis',
      open: async () => {
        const store = new RedisStore({ url: REDIS_URL, keyPrefix: redisPrefix });
        await within(store.getClient('bench-probe'), 2_000).catch(async (error: unknown) => {
          await store.close();
          throw error;
        });
        return store;
      },
      tidy: () => purgeEverything((clock) => new RedisStore({ url: REDIS_URL, keyPrefix: redisPrefix, clock })),
    },
    {
      name: 'mysql',
      open: async () => {
        const store = new MySQLStore({ uri: MYSQL_URL, prefix: 'keyward_bench_' });
        await within(store.init(), 2_000).catch(async (error: unknown) => {
          await store.close();
          throw error;
        });
        return store;
      },
      tidy: () => purgeEverything((clock) => new MySQLStore({ uri: MYSQL_URL, prefix: 'keyward_bench_', clock })),
    },
    {
      name: 'd1',
      note: "Miniflare's local D1 (workerd), driven from Node",
      open: async () => {
        miniflare = new Miniflare({
          modules: true,
          script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
          d1Databases: { DB: 'keyward-bench' },
          compatibilityDate: '2026-07-01',
        });
        return new D1Store({ database: (await miniflare.getD1Database('DB')) as unknown as D1DatabaseLike });
      },
      tidy: async () => {
        await miniflare?.dispose();
      },
    },
  ];

  const results: StoreBenchResult[] = [];
  try {
    for (const subject of subjects) {
      let store: Store;
      try {
        store = await subject.open();
      } catch (error) {
        console.warn(`[bench] ${subject.name} skipped: not reachable (${error instanceof Error ? error.message : error})`);
        continue;
      }
      try {
        results.push({ store: subject.name, ...(await measure(store)), ...(subject.note && { note: subject.note }) });
      } finally {
        await subject.tidy?.(store);
        await store.close?.();
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchStores();
  console.log(`\n${OPERATIONS} operations per figure, ${IN_FLIGHT} in flight, after ${WARM_UP} warm-up\n`);
  console.log('| store | consume codes/s | rotate refresh/s | note |');
  console.log('|---|---|---|---|');
  for (const { store, consumePerSec, rotatePerSec, note } of results) {
    console.log(`| ${store} | ${Math.round(consumePerSec)} | ${Math.round(rotatePerSec)} | ${note ?? ''} |`);
  }
}
