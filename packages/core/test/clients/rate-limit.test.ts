/**
 * AUTHZ-DCR-08: open registration is rate limited per source address (RequestContext.clientAddress), through
 * the Store, on the injected clock. No sleeps: windows end when the test moves the clock.
 */
import { describe, expect, it } from 'vitest';
import { createHarness, expectJSON, type ClientInformation, type Harness } from './harness.js';

const METADATA = { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', client_name: 'Flood' };
const ATTACKER = '203.0.113.7';
const BYSTANDER = '198.51.100.23';

async function attempt(h: Harness, source: string): Promise<Response> {
  return h.register(METADATA, { source });
}

describe('AUTHZ-DCR-08: registration rate limit', () => {
  it('AUTHZ-DCR-08: 1,000 registrations from one source with the default limit: exactly 20 succeed, then 429 + Retry-After; another source still registers', async () => {
    const h = createHarness(); // default: 20 a minute per source
    const statuses: number[] = [];
    const retryAfter = new Set<string | null>();
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const response = await attempt(h, ATTACKER);
      statuses.push(response.status);
      if (response.status === 201) ids.add((await expectJSON<ClientInformation>(response, 201)).client_id);
      else {
        retryAfter.add(response.headers.get('retry-after'));
        // Browser clients must be able to read it (CORS exposes Retry-After).
        expect(response.headers.get('access-control-expose-headers')).toMatch(/Retry-After/i);
        const body = (await response.json()) as { error: string };
        expect(body.error).toBe('invalid_request');
        expect(response.headers.get('cache-control')).toBe('no-store');
      }
      // Interleaved: a second source is never caught by the first one's limit.
      if (i % 100 === 50) expect((await attempt(h, `${BYSTANDER}`)).status, `bystander at attempt ${i}`).toBe(201);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(201));
    expect(statuses.slice(20)).toEqual(Array(980).fill(429));
    expect(ids.size).toBe(20);
    // The clock never moved, so every refusal says: the whole window.
    expect([...retryAfter]).toEqual(['60']);
    // The bystander registered 10 times; its own limit is untouched by the attacker's 980 refusals.
    for (let i = 0; i < 10; i++) expect((await attempt(h, BYSTANDER)).status).toBe(201);
    expect((await attempt(h, BYSTANDER)).status).toBe(429);
  });

  it('AUTHZ-DCR-08: Retry-After counts down on the injected clock, and the window resets exactly at its end', async () => {
    const h = createHarness({ registration: { rateLimit: { max: 5, windowSeconds: 60 } } });
    for (let i = 0; i < 5; i++) expect((await attempt(h, ATTACKER)).status).toBe(201);
    const limited = await attempt(h, ATTACKER);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    h.advance(45);
    expect((await attempt(h, ATTACKER)).headers.get('retry-after')).toBe('15');
    h.advance(14.5);
    expect((await attempt(h, ATTACKER)).headers.get('retry-after'), 'rounded up, never 0').toBe('1');
    h.advance(0.5); // exactly 60 s after the first registration: a new window
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await attempt(h, ATTACKER)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
  });

  it('AUTHZ-DCR-08: with a limit of 100 a minute, 1,000 clients from one source register over 10 windows, never more per window', async () => {
    const h = createHarness({ registration: { rateLimit: { max: 100, windowSeconds: 60 } } });
    const ids = new Set<string>();
    let refused = 0;
    for (let window = 0; window < 10; window++) {
      let accepted = 0;
      for (let i = 0; i < 110; i++) {
        const response = await attempt(h, ATTACKER);
        if (response.status === 201) {
          accepted++;
          ids.add((await expectJSON<ClientInformation>(response, 201)).client_id);
        } else {
          expect(response.status).toBe(429);
          expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
          refused++;
        }
      }
      expect(accepted, `window ${window}`).toBe(100);
      h.advance(60);
    }
    expect(ids.size).toBe(1000);
    expect(refused).toBe(100);
    // Every one of them is a working client.
    const sample = [...ids].slice(-3);
    for (const clientId of sample) expect(await h.store.getClient(clientId)).not.toBeNull();
  });

  it('AUTHZ-DCR-08: refused attempts count too (malformed metadata, wrong initial access token), so probing is limited as well', async () => {
    const h = createHarness({ registration: { rateLimit: { max: 3, windowSeconds: 60 } } });
    expect((await h.register('{not json', { source: ATTACKER })).status).toBe(400);
    expect((await h.register(METADATA, { source: ATTACKER, iat: 'wrong-token-0123456789' })).status).toBe(401);
    expect((await attempt(h, ATTACKER)).status).toBe(201);
    expect((await attempt(h, ATTACKER)).status).toBe(429);
  });

  it('AUTHZ-DCR-08: rateLimit false turns the limit off', async () => {
    const h = createHarness({ registration: { rateLimit: false } });
    for (let i = 0; i < 50; i++) expect((await attempt(h, ATTACKER)).status).toBe(201);
  });
});
