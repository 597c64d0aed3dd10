/**
 * The forward-migration check every SQL store runs against its committed fixture: open a database written by
 * an earlier release, let today's store migrate it, read every record back intact and keep using it.
 * Imported relatively by the stores' tests, never published.
 *
 * @module
 */
import { expect } from 'vitest';
import type { Store } from '../../core/src/index.js';
import { FIXTURE_RECORDS, READ_AT, expectedToday } from './fixture-records.js';

/**
 * Reads every fixture record through `store` (whose clock must say {@link READ_AT}) and checks it equals what
 * the contract of today says it reads as; then consumes a code, rotates a refresh token, takes an
 * interaction and replays a marker, so the migrated rows are proven writable too.
 */
export async function checkFixtureReadsBack(store: Store): Promise<void> {
  const want = expectedToday(FIXTURE_RECORDS);

  for (const client of want.clients) expect(await store.getClient(client.clientId)).toEqual(client);
  for (const grant of want.grants) expect(await store.getGrant(grant.grantId)).toEqual(grant);
  expect(await store.listGrants('user-1')).toEqual([...want.grants].sort((a, b) => b.createdAt - a.createdAt));
  for (const code of want.codes) expect(await store.getAuthorizationCode(code.codeHash)).toEqual(code);
  for (const token of want.refreshTokens) expect(await store.getRefreshToken(token.tokenHash)).toEqual(token);
  expect(await store.listRevocations(0)).toEqual(want.revocations);
  expect(await store.listSigningKeys()).toEqual(want.signingKeys);
  for (const session of want.sessions) expect(await store.getSession(session.sessionHash)).toEqual(session);
  for (const consent of want.consents) expect(await store.getConsent(consent.subject, consent.clientId)).toEqual(consent);
  for (const interaction of want.interactions) {
    expect(await store.getInteraction(interaction.interactionId)).toEqual(interaction);
  }
  expect(await store.getCounter('rate:client-public')).toEqual({ count: 1, resetAt: FIXTURE_COUNTER_RESET });

  // The code consumed before the migration stays consumed; the other is consumed now, once.
  const [unused, consumed] = want.codes as [(typeof want.codes)[0], (typeof want.codes)[0]];
  expect(await store.consumeAuthorizationCode(consumed.codeHash)).toEqual({ record: consumed, firstUse: false });
  expect(await store.consumeAuthorizationCode(unused.codeHash)).toEqual({ record: unused, firstUse: true });
  expect(await store.consumeAuthorizationCode(unused.codeHash)).toEqual({ record: unused, firstUse: false });

  // The live refresh token rotates once; the one rotated before the migration is a reuse.
  const [live, rotated] = want.refreshTokens as [(typeof want.refreshTokens)[0], (typeof want.refreshTokens)[0]];
  const successor = { ...live, tokenHash: 'refresh-hash-successor', createdAt: READ_AT, expiresAt: live.expiresAt };
  expect(await store.rotateRefreshToken(live.tokenHash, successor)).toEqual({
    status: 'rotated',
    previous: { ...live, rotatedAt: READ_AT },
  });
  expect(await store.getRefreshToken(successor.tokenHash)).toEqual(successor);
  expect(await store.rotateRefreshToken(rotated.tokenHash, { ...successor, tokenHash: 'refresh-hash-other' })).toEqual({
    status: 'reused',
    previous: rotated,
  });
  expect(await store.getRefreshToken('refresh-hash-other')).toBeNull();

  const interaction = want.interactions[0]!;
  expect(await store.consumeInteraction(interaction.interactionId)).toEqual(interaction);
  expect(await store.consumeInteraction(interaction.interactionId)).toBeNull();
  expect(await store.markUsed(want.usedMarkers[0]!.key, READ_AT + 60_000)).toBe(false);
  expect(await store.incrementCounter('rate:client-public', 60_000)).toEqual({ count: 2, resetAt: FIXTURE_COUNTER_RESET });

  // Saving over a migrated row replaces it.
  const client = { ...want.clients[1]!, clientName: 'Renamed' };
  await store.saveClient(client);
  expect(await store.getClient(client.clientId)).toEqual(client);
}

/** The fixtures' rate-limit window closes 50 years after they were made. */
const FIXTURE_COUNTER_RESET = Date.UTC(2026, 11, 4, 9) + 50 * 365 * 24 * 60 * 60 * 1000;
