import { describe, expect, it } from 'vitest';
import { decodeJWT, setup, START } from '../support.js';

describe('STORE-V2 times in records are epoch milliseconds; the wire keeps seconds', () => {
  it('stores authTime in ms and states auth_time in seconds in the ID token', async () => {
    const h = setup();
    h.advance(1.5);
    const tokens = await h.login({ scope: 'openid mcp:tools' });
    expect(h.store.grants.at(-1)!.authTime).toBe(START + 1500);
    expect(decodeJWT(tokens.id_token!).payload.auth_time).toBe(Math.floor((START + 1500) / 1000));
  });

  it('stores clientSecretExpiresAt in ms and answers client_secret_expires_at in seconds', async () => {
    const h = setup({ registration: { clientSecretLifetime: 3600 } });
    h.advance(0.25);
    const response = await h.server.request('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    const body = (await response.json()) as { client_id: string; client_secret_expires_at: number };
    expect(response.status, JSON.stringify(body)).toBe(201);
    const stored = await h.store.getClient(body.client_id);
    expect(stored!.clientSecretExpiresAt).toBe(START + 250 + 3600 * 1000);
    expect(body.client_secret_expires_at).toBe(Math.floor((START + 250) / 1000) + 3600);
  });
});
