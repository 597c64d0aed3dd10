/**
 * RSA keys for tests, generated once per checkout instead of once per server start.
 *
 * Every AuthorizationServer generates an RS256 key for ID tokens when it first starts, and an RSA-2048
 * key costs 100-200 ms of CPU; the library's tests start a few hundred servers, so generating them took
 * about two thirds of the core project's time. The global setup below fills a pool of real RSA-2048 keys
 * (node_modules/.cache, outside git) once, and the setup file (key-pool.setup.ts) hands them out in
 * place of newly generated ones. Within one test file every key handed out is a different key, so a
 * token signed by one server is still foreign to another; after the pool runs out keys are generated as
 * usual.
 */
import { generateKeyPair } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Where the pool lives: the workspace's node_modules/.cache. */
export const KEY_POOL_FILE = join(dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/.cache/keyward-test-rsa-keys.json');

/** Three times as many as the busiest test file starts servers (about 20). */
export const KEY_POOL_SIZE = 64;

function stored(): unknown[] {
  if (!existsSync(KEY_POOL_FILE)) return [];
  try {
    const keys: unknown = JSON.parse(readFileSync(KEY_POOL_FILE, 'utf8'));
    return Array.isArray(keys) ? keys : [];
  } catch {
    return [];
  }
}

/** Vitest global setup: make sure the pool holds KEY_POOL_SIZE keys (a few seconds once per checkout). */
export default async function setup(): Promise<void> {
  const keys = stored();
  if (keys.length >= KEY_POOL_SIZE) return;
  const generate = promisify(generateKeyPair);
  const added = await Promise.all(
    Array.from({ length: KEY_POOL_SIZE - keys.length }, async () => (await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 })).privateKey.export({ format: 'jwk' })),
  );
  mkdirSync(dirname(KEY_POOL_FILE), { recursive: true });
  const temporary = `${KEY_POOL_FILE}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify([...keys, ...added]));
  renameSync(temporary, KEY_POOL_FILE);
}
