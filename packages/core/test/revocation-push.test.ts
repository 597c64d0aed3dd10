import { describe, expect, it } from 'vitest';
import { RevocationList, type RevocationRecord } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

/** A memory store that pushes its revocations to subscribers, as the shared stores do. */
class PushingStore extends MemoryStore {
  readonly listeners = new Set<(revocation: RevocationRecord) => void>();
  subscriptions = 0;

  override async addRevocation(revocation: RevocationRecord): Promise<void> {
    await super.addRevocation(revocation);
    for (const listener of this.listeners) listener(revocation);
  }

  subscribeRevocations(listener: (revocation: RevocationRecord) => void): () => void {
    this.subscriptions++;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const NOW = Date.UTC(2030, 0, 1, 12);

describe('revocation list with a pushing store', () => {
  it('MULTI-13 takes a pushed revocation at once, without waiting for the poll interval', async () => {
    const store = new PushingStore({ clock: () => NOW });
    const list = new RevocationList({ store, clock: () => NOW });
    expect(await list.isRevoked('jti-1', 'grant-1')).toBe(false);
    await store.addRevocation({ key: 'grant:grant-1', revokedAt: NOW, expiresAt: NOW + 60_000 });
    expect(await list.isRevoked('jti-1', 'grant-1')).toBe(true);
  });

  it('MULTI-14 subscribes once however many requests arrive together, and stops on close', async () => {
    const store = new PushingStore({ clock: () => NOW });
    const list = new RevocationList({ store, clock: () => NOW });
    await Promise.all([list.isRevoked('a', undefined), list.isRevoked('b', undefined), list.isRevoked('c', undefined)]);
    expect(store.subscriptions).toBe(1);
    list.close();
    expect(store.listeners.size).toBe(0);
  });

  it('MULTI-15 with push: false, polls only: a revocation arrives after the interval', async () => {
    const clock = { now: NOW };
    const store = new PushingStore({ clock: () => clock.now });
    const list = new RevocationList({ store, clock: () => clock.now, push: false });
    expect(await list.isRevoked('jti-1', undefined)).toBe(false);
    await store.addRevocation({ key: 'jti:jti-1', revokedAt: NOW, expiresAt: NOW + 60_000 });
    expect(store.subscriptions).toBe(0);
    expect(await list.isRevoked('jti-1', undefined)).toBe(false);
    clock.now += 2_001;
    expect(await list.isRevoked('jti-1', undefined)).toBe(true);
  });

  it('MULTI-16 revokedNow answers from memory only while the list is fresh: never before its first read, nor once the interval has passed', async () => {
    const clock = { now: NOW };
    const store = new PushingStore({ clock: () => clock.now });
    const list = new RevocationList({ store, clock: () => clock.now, push: false });
    await store.addRevocation({ key: 'jti:jti-1', revokedAt: NOW, expiresAt: NOW + 60_000 });
    // Never read: only isRevoked (which reads the store) can answer.
    expect(list.revokedNow('jti-1', undefined)).toBeUndefined();
    expect(await list.isRevoked('jti-1', undefined)).toBe(true);
    expect(list.revokedNow('jti-1', undefined)).toBe(true);
    expect(list.revokedNow('jti-2', undefined)).toBe(false);
    await store.addRevocation({ key: 'jti:jti-2', revokedAt: NOW, expiresAt: NOW + 60_000 });
    clock.now += 2_001;
    // Stale: the answer from memory could miss jti-2, so there is none.
    expect(list.revokedNow('jti-2', undefined)).toBeUndefined();
    expect(await list.isRevoked('jti-2', undefined)).toBe(true);
    expect(list.revokedNow('jti-2', undefined)).toBe(true);
  });

  it('MULTI-16 with a pushing store, revokedNow waits for the subscription that isRevoked opens', async () => {
    const store = new PushingStore({ clock: () => NOW });
    const list = new RevocationList({ store, clock: () => NOW });
    expect(list.revokedNow('jti-1', undefined)).toBeUndefined();
    expect(store.subscriptions).toBe(0);
    expect(await list.isRevoked('jti-1', undefined)).toBe(false);
    await store.addRevocation({ key: 'jti:jti-1', revokedAt: NOW, expiresAt: NOW + 60_000 });
    expect(list.revokedNow('jti-1', undefined)).toBe(true);
  });
});

