/**
 * Hands out the pooled RSA keys of key-pool.ts where jose's generateKeyPair('RS256') is called, in this
 * test file's process: each key once, then real generation. Everything else of jose is untouched.
 */
import { vi } from 'vitest';

vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  const { existsSync, readFileSync } = await import('node:fs');
  const { KEY_POOL_FILE } = await import('./key-pool.js');
  // Without the global setup (a config of one's own) there is no pool, and every key is generated.
  const pool: import('jose').JWK[] = existsSync(KEY_POOL_FILE) ? JSON.parse(readFileSync(KEY_POOL_FILE, 'utf8')) : [];
  let next = 0;
  const generateKeyPair: typeof jose.generateKeyPair = async (alg, options) => {
    const jwk = pool[next];
    if (alg !== 'RS256' || !jwk || (options?.modulusLength ?? 2048) !== 2048) return jose.generateKeyPair(alg, options);
    next++;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    return {
      privateKey: (await jose.importJWK(jwk, alg, { extractable: options?.extractable ?? false })) as import('jose').CryptoKey,
      publicKey: (await jose.importJWK(publicJwk, alg, { extractable: true })) as import('jose').CryptoKey,
    };
  };
  return { ...jose, generateKeyPair };
});
