// The RSA key pool of test/setup/key-pool.ts keeps what the tests rely on: every key handed out in one test
// file is a different RSA-2048 key, and extractability is what the caller asked for.
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

async function rsaModulus(server: AuthorizationServer): Promise<string> {
  const response = await server.fetch(new Request('https://as.example/oauth/keys'));
  const { keys } = (await response.json()) as { keys: { kty: string; n?: string }[] };
  const rsa = keys.filter((key) => key.kty === 'RSA');
  expect(rsa).toHaveLength(1);
  return rsa[0]!.n!;
}

describe('RSA keys in tests', () => {
  it('two servers of one test file never share an RSA key, nor with a key the test generates', async () => {
    const servers = [0, 1].map(() => new AuthorizationServer({ issuer: 'https://as.example', store: new MemoryStore() }));
    const moduli = [await rsaModulus(servers[0]!), await rsaModulus(servers[1]!)];
    const own = (await exportJWK((await generateKeyPair('RS256')).publicKey)).n!;
    expect(new Set([...moduli, own]).size).toBe(3);
    for (const n of [...moduli, own]) expect(Buffer.from(n, 'base64url').length * 8).toBe(2048);
  });

  it('a private key is extractable only when asked', async () => {
    expect((await generateKeyPair('RS256')).privateKey.extractable).toBe(false);
    expect((await generateKeyPair('RS256', { extractable: true })).privateKey.extractable).toBe(true);
  });
});
