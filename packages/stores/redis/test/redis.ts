import type { Redis } from 'ioredis';

/** The Redis the tests use: `REDIS_URL`, else the local server of the development container. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** host:port of a Redis URL, without credentials, for messages. */
export function describeAddress(url: string): string {
  return new URL(url).host;
}

/** Deletes every key under `prefix` with SCAN (never FLUSHALL/FLUSHDB: the server is shared). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
