import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { randomToken } from '../src/protocol/crypto.js';
import { calculatePKCECodeChallenge } from '../src/protocol/pkce.js';
import { MemoryStore } from '@keyward/core/memory';

const issuer = 'http://localhost:3009';

function makeServer() {
  return new AuthorizationServer({
    issuer,
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'],
    clients: [{ clientId: 'public-app', redirectUris: ['http://127.0.0.1/cb'] }],
    devLogin: { subject: 'demo', claims: { name: 'Demo User', email: 'demo@example.com' } },
  });
}

describe('authorization code flow through server.fetch', () => {
  it('issues, refreshes and guards', async () => {
    const server = makeServer();
    const verifier = randomToken();
    const challenge = await calculatePKCECodeChallenge(verifier);
    const authorize = await server.request(
      `/oauth/authorize?response_type=code&client_id=public-app&redirect_uri=${encodeURIComponent('http://127.0.0.1:5555/cb')}&code_challenge=${challenge}&code_challenge_method=S256&scope=mcp:tools%20openid&state=xyz`,
    );
    expect(authorize.status).toBe(302);
    const location = new URL(authorize.headers.get('location')!);
    expect(location.searchParams.get('iss')).toBe(issuer);
    expect(location.searchParams.get('state')).toBe('xyz');
    const code = location.searchParams.get('code')!;
    const token = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'public-app' }),
    });
    const body = await token.json();
    expect(token.status, JSON.stringify(body)).toBe(200);
    expect(body.id_token).toBeTypeOf('string');
    const guard = server.createGuard({ scopes: ['mcp:tools'] });
    const ok = await guard.authenticate(new Request(`${issuer}/mcp`, { headers: { authorization: `Bearer ${body.access_token}` } }));
    expect(ok.ok).toBe(true);
    const refreshed = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: 'public-app' }),
    });
    expect(refreshed.status).toBe(200);
  });
});
