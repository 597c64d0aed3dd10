import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '@keyward/core';
import { ConfigError } from './ops.js';
import { MemoryStore } from '@keyward/core/memory';
import { PostgresStore } from '@keyward/store-postgres';
import { RedisStore } from '@keyward/store-redis';
import { SQLiteStore } from '@keyward/store-sqlite';

/** `data/keyward.db` in the example's folder, whatever the working directory (`data/` is git-ignored). */
export const DEFAULT_SQLITE_FILE = fileURLToPath(new URL('../data/keyward.db', import.meta.url));

/** The store in use and a line describing it for the start-up banner (never with credentials). */
export interface ExampleStore {
  store: Store;
  description: string;
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = parsed.password = '';
    return parsed.href;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * The Store named by OAUTH_STORE:
 *
 * - `sqlite` (default): one file, `OAUTH_SQLITE_FILE` or `data/keyward.db`, created on first start. Clients,
 *   grants, refresh tokens and signing keys survive restarts. One machine.
 * - `memory`: everything is lost on restart (tests, throwaway runs).
 * - `postgres`: `DATABASE_URL`, tables in schema `OAUTH_PG_SCHEMA` (default `keyward`), migrated at start.
 *   For several instances behind a load balancer.
 * - `redis`: `REDIS_URL` (default `redis://127.0.0.1:6379`), keys under `OAUTH_REDIS_PREFIX` (default
 *   `keyward:`). For several instances too.
 *
 * The caller closes the store on shutdown.
 */
export async function createStore(env: NodeJS.ProcessEnv): Promise<ExampleStore> {
  const kind = env.OAUTH_STORE || 'sqlite';
  switch (kind) {
    case 'sqlite': {
      const filename = env.OAUTH_SQLITE_FILE || DEFAULT_SQLITE_FILE;
      if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
      return { store: new SQLiteStore({ filename }), description: `sqlite ${filename}` };
    }
    case 'memory':
      return { store: new MemoryStore(), description: 'memory (lost on restart)' };
    case 'postgres': {
      if (!env.DATABASE_URL) throw new ConfigError('OAUTH_STORE=postgres needs DATABASE_URL, e.g. postgres://user:password@localhost:5432/app');
      const schema = env.OAUTH_PG_SCHEMA || 'keyward';
      const store = new PostgresStore({ connectionString: env.DATABASE_URL, schema });
      try {
        // Migrate now, and fail at start rather than at the first request when the database is unreachable.
        await store.init();
      } catch (error) {
        await store.close();
        throw new ConfigError(`OAUTH_STORE=postgres: cannot reach or migrate ${withoutCredentials(env.DATABASE_URL)}`, { cause: error });
      }
      return { store, description: `postgres ${withoutCredentials(env.DATABASE_URL)} schema ${schema}` };
    }
    case 'redis': {
      const url = env.REDIS_URL || 'redis://127.0.0.1:6379';
      const keyPrefix = env.OAUTH_REDIS_PREFIX || 'keyward:';
      return { store: new RedisStore({ url, keyPrefix }), description: `redis ${withoutCredentials(url)} prefix ${keyPrefix}` };
    }
    default:
      throw new ConfigError(`OAUTH_STORE=${kind} is not one of sqlite, memory, postgres, redis`);
  }
}
