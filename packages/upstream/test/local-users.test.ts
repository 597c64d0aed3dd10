import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { hashPassword, localUsers } from '../src/index.js';

const PASSWORD = 'correct horse battery staple';

describe('localUsers', () => {
  const users = localUsers([
    { username: 'demo', password: PASSWORD, claims: { name: 'Demo User', email: 'demo@example.test' } },
    { username: 'ops', password: 'another one', subject: 'staff:7' },
  ]);

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
    const passwordHash = await hashPassword('caf\u00e9');
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

  it('verifies hashes made with other parameters, as their strings record them', async () => {
    // N = 2^14, r = 8, p = 1 for "pw", salt 16 zero bytes, computed once with node:crypto.scrypt.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.alloc(16);
    const hash = scryptSync('pw', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const passwordHash = `scrypt$16384$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}`;
    await expect(localUsers([{ username: 'old', passwordHash }]).verify('old', 'pw')).resolves.toMatchObject({ subject: 'local:old' });
  });
});
