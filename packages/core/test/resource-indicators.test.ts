import { describe, expect, it } from 'vitest';
import { authOf, CLIENTS, decodeJWT, expectOAuthError, ISSUER, locationOf, RESOURCE, RESOURCE_B, RESOURCE_C, setup } from './support.js';

const PUBLIC_RU = CLIENTS.public.redirectUris[0]!;

function expectTargetError(response: Response): void {
  const location = locationOf(response);
  expect(`${location.origin}${location.pathname}`).toBe(PUBLIC_RU);
  expect(location.searchParams.get('error')).toBe('invalid_target');
  expect(location.searchParams.get('state')).toBe('st-1');
  expect(location.searchParams.get('iss')).toBe(ISSUER);
  expect(location.searchParams.has('code')).toBe(false);
}

describe('A11 resource indicators and audience', () => {
  it('AUTHZ-RES-01: a relative resource, or one with a fragment → invalid_target at the authorization endpoint', async () => {
    const h = setup();
    for (const resource of ['/mcp', 'mcp', `${RESOURCE}#x`, `${RESOURCE}#`]) {
      expectTargetError((await h.authorize({ resource })).response);
    }
  });

  it('AUTHZ-RES-01: the same at the token endpoint → 400 invalid_target', async () => {
    const h = setup();
    for (const resource of ['/mcp', `${RESOURCE}#x`]) {
      const { code, verifier } = await h.code({ resource: RESOURCE });
      await expectOAuthError(await h.redeem(code, verifier, authOf('public'), { resource }), 'invalid_target');
    }
    await expectOAuthError(await h.token({ grant_type: 'client_credentials', resource: '/mcp' }, authOf('machine')), 'invalid_target');
  });

  it('AUTHZ-RES-02: an unknown resource → invalid_target (redirect at the AZ, 400 at the TE)', async () => {
    const h = setup();
    expectTargetError((await h.authorize({ resource: 'https://unknown.example/' })).response);
    expectTargetError((await h.authorize({ resource: [RESOURCE, 'https://unknown.example/'] })).response);
    // Near misses of a configured resource are unknown resources too: comparison is exact.
    for (const resource of [`${RESOURCE}/`, RESOURCE.toUpperCase(), `${RESOURCE}?x=1`, 'http://localhost:3009/MCP']) {
      expectTargetError((await h.authorize({ resource })).response);
    }
    await expectOAuthError(await h.token({ grant_type: 'client_credentials', resource: 'https://unknown.example/' }, authOf('machine')), 'invalid_target');
    const { code, verifier } = await h.code();
    await expectOAuthError(await h.redeem(code, verifier, authOf('public'), { resource: 'https://unknown.example/' }), 'invalid_target');
  });

  it('AUTHZ-RES-03: the access token aud is exactly the requested resource', async () => {
    const h = setup();
    for (const resource of [RESOURCE, RESOURCE_B, RESOURCE_C]) {
      const tokens = await h.login({ resource });
      expect(decodeJWT(tokens.access_token).payload.aud).toBe(resource);
    }
  });

  it('AUTHZ-RES-03: with no resource, the default audience (the first configured resource)', async () => {
    const h = setup();
    const tokens = await h.login();
    expect(decodeJWT(tokens.access_token).payload.aud).toBe(RESOURCE);
    const machine = await (await h.token({ grant_type: 'client_credentials', scope: 'mcp:tools' }, authOf('machine'))).json();
    expect(decodeJWT(machine.access_token).payload.aud).toBe(RESOURCE);
    const named = await (await h.token({ grant_type: 'client_credentials', resource: RESOURCE_C }, authOf('machine'))).json();
    expect(decodeJWT(named.access_token).payload.aud).toBe(RESOURCE_C);
  });

  it('AUTHZ-RES-03: the resource identifier is kept byte for byte (trailing slash, default server resource)', async () => {
    const slash = setup({ resources: ['https://mcp.example.com/mcp/'] });
    expect(decodeJWT((await slash.login()).access_token).payload.aud).toBe('https://mcp.example.com/mcp/');
    const defaults = setup({ resources: undefined });
    expect(decodeJWT((await defaults.login()).access_token).payload.aud).toBe(`${ISSUER}/mcp`);
  });

  it('AUTHZ-RES-03: a token for one resource is refused by another resource guard', async () => {
    const h = setup();
    const tokens = await h.login({ resource: RESOURCE_B });
    expect((await h.bearer(tokens.access_token, { resource: RESOURCE_B })).ok).toBe(true);
    const elsewhere = await h.bearer(tokens.access_token, { resource: RESOURCE });
    expect(elsewhere.ok).toBe(false);
    if (!elsewhere.ok) {
      expect(elsewhere.response.status).toBe(401);
      expect(elsewhere.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('AUTHZ-RES-04: the token request narrows the authorized resources, never widens them', async () => {
    const h = setup();
    const a = await h.code({ resource: [RESOURCE, RESOURCE_B] });
    const narrowed = await (await h.redeem(a.code, a.verifier, authOf('public'), { resource: RESOURCE })).json();
    expect(decodeJWT(narrowed.access_token).payload.aud).toBe(RESOURCE);

    const b = await h.code({ resource: [RESOURCE, RESOURCE_B] });
    await expectOAuthError(await h.redeem(b.code, b.verifier, authOf('public'), { resource: RESOURCE_C }), 'invalid_target');

    const c = await h.code({ resource: [RESOURCE, RESOURCE_B] });
    const all = await (await h.redeem(c.code, c.verifier, authOf('public'))).json();
    expect(decodeJWT(all.access_token).payload.aud).toEqual([RESOURCE, RESOURCE_B]);

    const d = await h.code({ resource: [RESOURCE, RESOURCE_B] });
    const both = await (await h.redeem(d.code, d.verifier, authOf('public'), { resource: [RESOURCE_B, RESOURCE] })).json();
    expect(decodeJWT(both.access_token).payload.aud).toEqual([RESOURCE_B, RESOURCE]);

    // A default-audience code cannot be widened to another resource at the token endpoint.
    const e = await h.code();
    await expectOAuthError(await h.redeem(e.code, e.verifier, authOf('public'), { resource: RESOURCE_B }), 'invalid_target');
  });

  it('AUTHZ-RES-04: a multi-audience token is accepted by each of its resources', async () => {
    const h = setup();
    const tokens = await h.login({ resource: [RESOURCE, RESOURCE_B] });
    expect((await h.bearer(tokens.access_token, { resource: RESOURCE })).ok).toBe(true);
    expect((await h.bearer(tokens.access_token, { resource: RESOURCE_B })).ok).toBe(true);
    expect((await h.bearer(tokens.access_token, { resource: RESOURCE_C })).ok).toBe(false);
  });
});
