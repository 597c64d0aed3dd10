import { expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

it('registers, reads, revokes, introspects', async () => {
  const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store: new MemoryStore(), scopes: ['mcp:tools'], devLogin: { subject: 'demo' } });
  const res = await server.request('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'client_secret_post', foo: 1 }) });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(201);
  expect(body.foo).toBeUndefined();
  const read = await server.request(new URL(body.registration_client_uri).pathname, { headers: { authorization: `Bearer ${body.registration_access_token}` } });
  expect(read.status).toBe(200);
  const intro = await server.request('/oauth/introspect', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: 'x', client_id: body.client_id, client_secret: body.client_secret }) });
  expect(await intro.json()).toEqual({ active: false });
  const meta = await (await server.request('/.well-known/oauth-authorization-server')).json();
  expect(meta.registration_endpoint).toBe('http://localhost:3009/oauth/register');
});

it('AUTHZ-DCR-08: registration.allowedScopes caps what a self-registered client may ever request', async () => {
  const server = new AuthorizationServer({
    issuer: 'http://localhost:3009',
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin'],
    registration: { allowedScopes: ['mcp:tools'] },
    devLogin: { subject: 'demo' },
  });
  const register = (body: object) =>
    server.request('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const asksAdmin = await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', scope: 'mcp:admin' });
  expect(asksAdmin.status).toBe(400);
  expect((await asksAdmin.json()).error).toBe('invalid_client_metadata');
  const plain = await (await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' })).json();
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: plain.client_id,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    scope: 'mcp:tools mcp:admin',
  });
  const location = new URL((await server.request(`/oauth/authorize?${query}`)).headers.get('location')!);
  expect(location.searchParams.get('error')).toBe('invalid_scope');
});

it('advertises in resource metadata only the scopes a self-registered client may be granted', async () => {
  const server = new AuthorizationServer({
    issuer: 'http://localhost:3009',
    store: new MemoryStore(),
    scopes: ['mcp:tools', 'mcp:admin', 'openid'],
    registration: { allowedScopes: ['mcp:tools', 'openid'] },
  });
  const metadata = await (await server.request('/.well-known/oauth-protected-resource/mcp')).json();
  expect(metadata.scopes_supported).toEqual(['mcp:tools']);
});
