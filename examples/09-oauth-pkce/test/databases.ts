// The shared PostgreSQL and Redis servers of the tests, each test file in its own schema or key prefix.
// The servers are probed first: unreachable ones skip their tests with a printed reason, except under CI,
// where the probe throws and the file fails.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { skipUnlessReachable } from '../../../packages/stores/test-support/availability.js';

export { outageProxy, type OutageProxy } from '../../../packages/stores/test-support/outage.js';

// The example talks to its databases only through the store packages, so it has no pg or ioredis of its own;
// the test clean-up borrows the ones the store packages depend on.
const requireFromStore = (store: string) => createRequire(new URL(`../../../packages/stores/${store}/package.json`, import.meta.url));

interface PgPool {
  query(sql: string): Promise<unknown>;
  on(event: 'error', listener: () => void): void;
  end(): Promise<void>;
}
interface RedisClient {
  ping(): Promise<string>;
  scan(cursor: string, ...args: (string | number)[]): Promise<[string, string[]]>;
  unlink(...keys: string[]): Promise<number>;
  on(event: 'error', listener: () => void): void;
  disconnect(): void;
}

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One test file's corner of a shared server: the env that points the example at it, and its clean-up. */
export interface DatabaseTarget {
  /** A reason to skip (printed), or false when the server answered. */
  skip: string | false;
  /** OAUTH_STORE and what goes with it, for `startExample`. */
  env: Record<string, string>;
  /** The host and port the example connects to, for an outage proxy in between. */
  host: string;
  port: number;
  /** Removes everything the file wrote (its schema, or its keys) and closes the connection. */
  cleanup(): Promise<void>;
}

function announce(skip: string | false, file: string): void {
  if (skip) console.warn(`[example-09] skipping ${file}: ${skip}`);
}

/** A fresh schema in the test database, dropped by `cleanup`. */
export async function postgresTarget(file: string): Promise<DatabaseTarget> {
  const { Pool } = requireFromStore('postgres')('pg') as { Pool: new (options: object) => PgPool };
  const pool = new Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  const url = new URL(DATABASE_URL);
  const skip = await skipUnlessReachable('PostgreSQL', `${url.host}${url.pathname}`, () => pool.query('SELECT 1'));
  announce(skip, file);
  const schema = `keyward_example_${randomBytes(4).toString('hex')}`;
  return {
    skip,
    env: { OAUTH_STORE: 'postgres', DATABASE_URL, OAUTH_PG_SCHEMA: schema },
    host: url.hostname,
    port: Number(url.port || 5432),
    cleanup: async () => {
      if (!skip) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** A fresh key prefix in the test Redis, whose keys `cleanup` deletes with SCAN (never FLUSHALL: the server is shared). */
export async function redisTarget(file: string): Promise<DatabaseTarget> {
  const { Redis } = requireFromStore('redis')('ioredis') as { Redis: new (url: string, options: object) => RedisClient };
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  redis.on('error', () => undefined);
  const url = new URL(REDIS_URL);
  const skip = await skipUnlessReachable('Redis', url.host, () => redis.ping());
  announce(skip, file);
  const prefix = `keyward-example-test:${randomBytes(4).toString('hex')}:`;
  return {
    skip,
    env: { OAUTH_STORE: 'redis', REDIS_URL, OAUTH_REDIS_PREFIX: prefix },
    host: url.hostname,
    port: Number(url.port || 6379),
    cleanup: async () => {
      if (!skip) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
      redis.disconnect();
    },
  };
}

/** `env` of a target with its database address replaced by a proxy's port on 127.0.0.1. */
export function throughPort(target: DatabaseTarget, port: number): Record<string, string> {
  const env = { ...target.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
    if (!env[name]) continue;
    const url = new URL(env[name]);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    env[name] = url.href;
  }
  return env;
}
