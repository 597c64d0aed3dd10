import { describe, expect, it } from 'vitest';
import { MemoryStore } from '@keyward/core/memory';
import { testStore } from '@keyward/core/testing';

testStore({ name: 'memory', create: (clock) => new MemoryStore({ clock }), rawDump: (store) => (store as MemoryStore).dump() });

describe('MemoryStore record copies', () => {
  it('PERF-STORE-01: copies keep nested claims, Dates and an own "__proto__" member as data, independent of the stored record', async () => {
    const store = new MemoryStore({ clock: () => 1_000 });
    const claims = JSON.parse('{"name":"Zoë","groups":["a","b"],"__proto__":{"admin":true}}') as Record<string, unknown>;
    claims.updated = new Date(5);
    const grant = { grantId: 'g', clientId: 'c', subject: 's', scopes: ['x'], resources: ['https://r.example/mcp'], claims, createdAt: 1, expiresAt: 2_000 };
    await store.saveGrant(grant);
    (grant.claims.groups as string[]).push('mutated after save');
    const read = (await store.getGrant('g'))!;
    expect(read.claims!.groups).toEqual(['a', 'b']);
    expect(read.claims!.updated).toEqual(new Date(5));
    expect(Object.getPrototypeOf(read.claims)).toBe(Object.prototype);
    expect(Object.hasOwn(read.claims!, '__proto__')).toBe(true);
    expect((read.claims as { admin?: boolean }).admin).toBeUndefined();
    (read.claims!.groups as string[]).push('mutated after read');
    expect((await store.getGrant('g'))!.claims!.groups).toEqual(['a', 'b']);
  });
});
