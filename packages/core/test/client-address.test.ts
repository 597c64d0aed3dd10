/**
 * The client address reaches the handlers one way, from `RequestContext.clientAddress`; a deployment that
 * passes none gets no per-address limits (never one shared bucket) and one warning saying so.
 */
import { describe, expect, it } from 'vitest';
import type { KeywardEvent } from '@keyward/core';
import { createHarness, expectOAuthError, PATHS } from './clients/harness.js';

const ADDRESS = '198.51.100.23';

async function confidentialClient(h: ReturnType<typeof createHarness>): Promise<string> {
  const client = await h.machineClient({ token_endpoint_auth_method: 'client_secret_basic' });
  return client.client_id;
}

describe('client address (ADDR)', () => {
  it('ADDR-01: with an address, failed client secrets are limited per source: the 21st gets 429', async () => {
    const h = createHarness();
    const clientId = await confidentialClient(h);
    for (let attempt = 0; attempt < 20; attempt++) {
      await expectOAuthError(await h.post(PATHS.token, { grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret'] }, {}, ADDRESS), 'invalid_client', 401);
    }
    await expectOAuthError(await h.post(PATHS.token, { grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret'] }, {}, ADDRESS), 'invalid_client', 429);
  });

  it('ADDR-02: without an address no shared bucket fills up: 60 failures from anywhere never lock the client out for others', async () => {
    const events: KeywardEvent[] = [];
    const h = createHarness({ onEvent: (event) => events.push(event) });
    const clientId = await confidentialClient(h);
    for (let attempt = 0; attempt < 60; attempt++) {
      await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret'] }), 'invalid_client', 401);
    }
    // A caller that does report its address is counted on its own.
    await expectOAuthError(await h.post(PATHS.token, { grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret'] }, {}, ADDRESS), 'invalid_client', 401);
    expect(events.filter((event) => event.type === 'rate_limited')).toEqual([]);
    // Said once per server, not once per request.
    expect(events.filter((event) => event.type === 'client_address.missing')).toHaveLength(1);
  });

  it('ADDR-03: the events of a request name the address of its RequestContext, and nothing when it has none', async () => {
    const events: KeywardEvent[] = [];
    const h = createHarness({ onEvent: (event) => events.push(event) });
    const clientId = await confidentialClient(h);
    await h.post(PATHS.token, { grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret'] }, {}, ADDRESS);
    const registered = events.find((event) => event.type === 'client.registered');
    expect(registered?.sourceAddress).toBe('192.0.2.10');
    const before = events.length;
    const machine = await h.machineClient();
    const issued = await h.token({ grant_type: 'client_credentials' }, { basic: [machine.client_id, machine.client_secret!] });
    expect(issued.status).toBe(200);
    const tokenEvent = events.slice(before).find((event) => event.type === 'token.issued');
    expect(tokenEvent).toBeDefined();
    expect(tokenEvent!.sourceAddress).toBeUndefined();
  });
});
