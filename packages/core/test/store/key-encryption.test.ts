import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthorizationServer, keyEncryptionFromSecret, type KeyEncryption, type StaticClientOptions, type Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

const SECRET = 'a-key-encryption-secret-of-32-characters-or-more';
const NEXT_SECRET = 'the-next-key-encryption-secret-of-32-characters';
const ISSUER = 'http://localhost:3009';
const CLIENT = { clientId: 'svc', clientSecret: 'svc-secret-0123456789', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] } satisfies StaticClientOptions;

function serverOn(store: Store, keyEncryption?: KeyEncryption) {
  return new AuthorizationServer({ issuer: ISSUER, store, scopes: ['mcp:tools'], clients: [CLIENT], signing: { keyEncryption } });
}

async function accessToken(server: AuthorizationServer): Promise<string> {
  const response = await server.request('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&client_id=svc&client_secret=${CLIENT.clientSecret}`,
  });
  const body = (await response.json()) as { access_token: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

async function verifies(server: AuthorizationServer, token: string): Promise<boolean> {
  const jwksUri = ((await (await server.request('/.well-known/oauth-authorization-server')).json()) as { jwks_uri: string }).jwks_uri;
  const jwks = createLocalJWKSet(await (await server.request(new URL(jwksUri).pathname)).json());
  return jwtVerify(token, jwks, { issuer: ISSUER }).then(() => true, () => false);
}

/** Every private JWK member the store holds, seen as the store sees them. */
async function storedPrivateMembers(store: Store): Promise<string> {
  return JSON.stringify((await store.listSigningKeys()).map((key) => key.privateJwk));
}

describe('STORE-V2 signing keys encrypted at rest', () => {
  it('stores only sealed private keys, and a restart with the same secret keeps signing with them', async () => {
    const store = new MemoryStore();
    const first = serverOn(store, await keyEncryptionFromSecret(SECRET));
    const token = await accessToken(first);
    const stored = await store.listSigningKeys();
    expect(stored.length).toBeGreaterThan(0);
    for (const key of stored) {
      expect(Object.keys(key.privateJwk)).toEqual(['encrypted']);
      expect(key.privateJwk.encrypted).toMatch(/^k1\./);
    }
    expect(await storedPrivateMembers(store)).not.toContain('"d"');

    const restarted = serverOn(store, await keyEncryptionFromSecret(SECRET));
    expect(await verifies(restarted, token)).toBe(true);
    expect(await verifies(restarted, await accessToken(restarted))).toBe(true);
    expect((await store.listSigningKeys()).map((key) => key.kid)).toEqual(stored.map((key) => key.kid));
  });

  it('seals keys stored in the clear by an earlier start', async () => {
    const store = new MemoryStore();
    const token = await accessToken(serverOn(store));
    expect(await storedPrivateMembers(store)).toContain('"d"');
    const sealed = serverOn(store, await keyEncryptionFromSecret(SECRET));
    expect(await verifies(sealed, token)).toBe(true);
    await accessToken(sealed);
    expect(await storedPrivateMembers(store)).not.toContain('"d"');
  });

  it('rotates the secret: the old one opens keys during the rotation, which are sealed again with the new one', async () => {
    const store = new MemoryStore();
    const token = await accessToken(serverOn(store, await keyEncryptionFromSecret(SECRET)));
    const before = await storedPrivateMembers(store);

    const rotating = serverOn(store, await keyEncryptionFromSecret(NEXT_SECRET, { previousSecrets: [SECRET] }));
    expect(await verifies(rotating, token)).toBe(true);
    await accessToken(rotating);
    expect(await storedPrivateMembers(store)).not.toBe(before);

    // Once every instance runs with the new secret, the old one can go.
    const rotated = serverOn(store, await keyEncryptionFromSecret(NEXT_SECRET));
    expect(await verifies(rotated, await accessToken(rotated))).toBe(true);
    expect(await verifies(rotated, token)).toBe(true);
  });

  it('refuses to sign with keys it cannot open, instead of minting keys that would orphan them', async () => {
    const store = new MemoryStore();
    await accessToken(serverOn(store, await keyEncryptionFromSecret(SECRET)));
    const errors: unknown[] = [];
    const wrong = new AuthorizationServer({ issuer: ISSUER, store, scopes: ['mcp:tools'], clients: [CLIENT], signing: { keyEncryption: await keyEncryptionFromSecret(NEXT_SECRET) }, onError: (error) => errors.push(error) });
    const response = await wrong.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=svc&client_secret=${CLIENT.clientSecret}` });
    expect(response.status).toBe(500);
    expect(String(errors[0])).toMatch(/unknown secret/);
  });

  it('refuses a secret shorter than 32 characters and a tampered sealed key', async () => {
    await expect(keyEncryptionFromSecret('short')).rejects.toThrow(/at least 32/);
    const encryption = await keyEncryptionFromSecret(SECRET);
    const sealed = await encryption.encrypt('{"kid":"k"}');
    expect(await encryption.decrypt(sealed)).toBe('{"kid":"k"}');
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'AB' : 'AA');
    await expect(encryption.decrypt(tampered)).rejects.toThrow();
    expect(encryption.isStale!(sealed)).toBe(false);
    expect((await keyEncryptionFromSecret(NEXT_SECRET, { previousSecrets: [SECRET] })).isStale!(sealed)).toBe(true);
  });
});
