import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { DEFAULT_SCRYPT_COST, hashPassword, localUsers, type ScryptCost } from '../src/index.js';

const PASSWORD = 'correct horse battery staple';
// Cheap hashing for the tests that are not about the cost; the default is tested on its own below.
const TEST_COST: ScryptCost = { N: 1024, r: 8, p: 1 };

describe('localUsers', () => {
  const users = localUsers(
    [
      { username: 'demo', password: PASSWORD, claims: { name: 'Demo User', email: 'demo@example.test' } },
      { username: 'ops', password: 'another one', subject: 'staff:7' },
    ],
    { cost: TEST_COST },
  );

  it('returns the identity for the right password', async () => {
    await expect(users.verify('demo', PASSWORD)).resolves.toEqual({
      subject: 'local:demo',
      claims: { preferred_username: 'demo', name: 'Demo User', email: 'demo@example.test' },
    });
    await expect(users.verify('ops', 'another one')).resolves.toMatchObject({ subject: 'staff:7' });
  });

  it('returns null for a wrong password, an unknown user or another user\u2019s password', async () => {
    await expect(users.verify('demo', 'wrong')).resolves.toBeNull();
    await expect(users.verify('demo', '')).resolves.toBeNull();
    await expect(users.verify('nobody', PASSWORD)).resolves.toBeNull();
    await expect(users.verify('__proto__', PASSWORD)).resolves.toBeNull();
    await expect(users.verify('ops', PASSWORD)).resolves.toBeNull();
    await expect(users.verify('Demo', PASSWORD)).resolves.toBeNull();
  });

  it('exposes no password and hands out copies of its claims', async () => {
    expect(inspect(users, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    const identity = await users.verify('demo', PASSWORD);
    identity!.claims.name = 'changed';
    await expect(users.verify('demo', PASSWORD)).resolves.toMatchObject({ claims: { name: 'Demo User' } });
  });

  it('spends one scrypt run on an unknown user too, so timing does not reveal who exists', async () => {
    // At the default cost, where a scrypt run is what a check costs.
    const users = localUsers([{ username: 'demo', password: PASSWORD }]);
    await users.verify('nobody', 'warm-up'); // the first unknown user also makes the dummy hash
    const time = async (username: string) => {
      const start = performance.now();
      await users.verify(username, 'wrong');
      return performance.now() - start;
    };
    const known = await time('demo');
    const unknown = await time('nobody');
    expect(unknown).toBeGreaterThan(known / 2);
  });

  it('accepts operator-made hashes, and normalizes Unicode before hashing', async () => {
    const passwordHash = await hashPassword('caf\u00e9', { cost: TEST_COST });
    const prehashed = localUsers([{ username: 'ana', passwordHash }], { subjectPrefix: 'corp' });
    await expect(prehashed.verify('ana', 'cafe\u0301')).resolves.toMatchObject({ subject: 'corp:ana' });
    await expect(prehashed.verify('ana', 'cafe')).resolves.toBeNull();
  });

  it('rejects bad configuration at construction', () => {
    const bad = [
      [{ username: '', password: 'x' }],
      [{ username: 'a' }],
      [{ username: 'a', password: 'x', passwordHash: 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA' }],
      [{ username: 'a', password: '' }],
      [{ username: 'a', passwordHash: 'plain-text' }],
      [{ username: 'a', passwordHash: 'scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA' }],
      [{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }],
    ];
    for (const users of bad) expect(() => localUsers(users), JSON.stringify(users)).toThrow(KeywardConfigError);
  });

  it('RFC 7914 §2: hashes plain passwords and the unknown-user stand-in at the cost given, and refuses a cost out of bounds', async () => {
    const cheap = localUsers([{ username: 'demo', password: PASSWORD }], { cost: { N: 2, r: 1, p: 1 } });
    await expect(cheap.verify('demo', PASSWORD)).resolves.toMatchObject({ subject: 'local:demo' });
    await expect(cheap.verify('nobody', PASSWORD)).resolves.toBeNull();
    for (const cost of [{ N: 1000, r: 8, p: 1 }, { N: 1, r: 8, p: 1 }, { N: 2 ** 21, r: 8, p: 1 }, { N: 1024, r: 0, p: 1 }, { N: 1024, r: 8, p: 17 }]) {
      expect(() => localUsers([], { cost }), JSON.stringify(cost)).toThrow(KeywardConfigError);
      await expect(hashPassword('pw', { cost }), JSON.stringify(cost)).rejects.toThrow(KeywardConfigError);
    }
  });
});

describe('hashPassword', () => {
  it('RFC 7914: writes scrypt$N$r$p$salt$hash with a fresh 16-byte salt and no trace of the password', async () => {
    const [first, second] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)]);
    const match = /^scrypt\$32768\$8\$1\$([\w-]+)\$([\w-]+)$/.exec(first);
    expect(match).not.toBeNull();
    expect(Buffer.from(match![1]!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(match![2]!, 'base64url')).toHaveLength(32);
    expect(first).not.toBe(second);
    expect(first).not.toContain(PASSWORD);
    expect(first).not.toContain(Buffer.from(PASSWORD).toString('base64url'));
  });

  it('RFC 7914 §2: writes the cost it is given into the hash, and defaults to DEFAULT_SCRYPT_COST', async () => {
    expect(DEFAULT_SCRYPT_COST).toEqual({ N: 32768, r: 8, p: 1 });
    expect(await hashPassword(PASSWORD, { cost: TEST_COST })).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  });

  it('verifies hashes made with other parameters, as their strings record them', async () => {
    // N = 2^14, r = 8, p = 1 for "pw", salt 16 zero bytes, computed once with node:crypto.scrypt.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.alloc(16);
    const hash = scryptSync('pw', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const passwordHash = `scrypt$16384$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}`;
    await expect(localUsers([{ username: 'old', passwordHash }]).verify('old', 'pw')).resolves.toMatchObject({ subject: 'local:old' });
  });
});
