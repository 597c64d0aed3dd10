import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { ResourceServerGuard, type GuardResult } from '@keyward/core';
import { wellKnownURL } from '../src/protocol/metadata.js';
import { RevocationList } from '../src/store/revocation-list.js';
import { decodeJWT, ISSUER, PATHS, RESOURCE, RESOURCE_B, RESOURCE_C, setup, SUBJECT, type Harness } from './support.js';

const PRM_URL = 'http://localhost:3009/.well-known/oauth-protected-resource/mcp';

function request(headers: Record<string, string> = {}, init: { url?: string; method?: string; body?: string } = {}): Request {
  return new Request(init.url ?? RESOURCE, { method: init.method ?? 'GET', headers, body: init.body });
}

function rejected(result: GuardResult): Response {
  expect(result.ok, 'expected the guard to refuse').toBe(false);
  if (result.ok) throw new Error('unreachable');
  return result.response;
}

/** Parses `Bearer a="b", c="d"` into its attributes. */
function challenge(response: Response): { scheme: string; params: Record<string, string> } {
  const header = response.headers.get('www-authenticate');
  expect(header).toBeTruthy();
  const [, scheme = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(header!) ?? [];
  const params: Record<string, string> = {};
  for (const [, name, value] of rest.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) params[name!] = value!.replace(/\\(.)/g, '$1');
  return { scheme, params };
}

async function standaloneGuard(h: Harness, overrides: Partial<ConstructorParameters<typeof ResourceServerGuard>[0]> = {}) {
  const jwks = (await (await h.server.request(PATHS.jwks)).json()) as JSONWebKeySet;
  return new ResourceServerGuard({
    issuer: ISSUER,
    resource: RESOURCE,
    resourceMetadataUrl: wellKnownURL(RESOURCE, 'oauth-protected-resource'),
    keys: createLocalJWKSet(jwks),
    clock: () => h.now,
    ...overrides,
  });
}

describe('A16 resource server (RFC 6750, RFC 9728)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('AUTHZ-RS-01: Authorization: Bearer is accepted, the scheme case-insensitively', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const guard = h.server.createGuard();
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const result = await guard.authenticate(request({ authorization: `${scheme} ${token}` }));
      expect(result.ok, scheme).toBe(true);
    }
    const result = await guard.authenticate(request({ authorization: `Bearer ${token}` }));
    if (!result.ok) throw new Error('refused');
    expect(result.auth).toMatchObject({ token, clientId: 'public-app', scopes: ['mcp:tools'], extra: { subject: SUBJECT } });
    expect(result.auth.resource?.href).toBe(new URL(RESOURCE).href);
    expect(result.auth.expiresAt).toBe(decodeJWT(token).payload.exp);
  });

  it('AUTHZ-RS-01: a token in the URI query is ignored (401 without error)', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const response = rejected(await h.server.createGuard().authenticate(request({}, { url: `${RESOURCE}?access_token=${token}` })));
    expect(response.status).toBe(401);
    expect(challenge(response).params).not.toHaveProperty('error');
  });

  it('AUTHZ-RS-01: a token in the header and in a form body → 400 invalid_request', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const response = rejected(
      await h.server.createGuard().authenticate(
        request(
          { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
          { method: 'POST', body: `access_token=${token}` },
        ),
      ),
    );
    expect(response.status).toBe(400);
    expect(challenge(response).params.error).toBe('invalid_request');
  });

  it('AUTHZ-RS-01: a form-body token alone is not a supported method (401 without error), and the body stays readable', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const req = request({ 'content-type': 'application/x-www-form-urlencoded' }, { method: 'POST', body: `access_token=${token}&x=1` });
    const response = rejected(await h.server.createGuard().authenticate(req));
    expect(response.status).toBe(401);
    expect(challenge(response).params).not.toHaveProperty('error');
    expect(await req.text()).toBe(`access_token=${token}&x=1`);
  });

  it('AUTHZ-RS-02: no credentials → 401 Bearer challenge with no error attribute', async () => {
    const h = setup();
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
      const response = rejected(await h.server.createGuard().authenticate(request(headers)));
      expect(response.status).toBe(401);
      const { scheme, params } = challenge(response);
      expect(scheme).toBe('Bearer');
      expect(params).not.toHaveProperty('error');
      expect(params.resource_metadata).toBe(PRM_URL);
      expect(await response.text()).toBe('');
      expect(response.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/i);
    }
  });

  it('AUTHZ-RS-02: an invalid token → 401 error="invalid_token"', async () => {
    const h = setup();
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.', 'Bearer']) {
      const response = rejected(await h.server.createGuard().authenticate(request({ authorization: `Bearer ${token}` })));
      expect(response.status).toBe(401);
      expect(challenge(response).params.error).toBe('invalid_token');
      expect(challenge(response).params.resource_metadata).toBe(PRM_URL);
      expect((await response.json()).error).toBe('invalid_token');
    }
    // "Bearer" with no token at all.
    const empty = rejected(await h.server.createGuard().authenticate(request({ authorization: 'Bearer' })));
    expect(empty.status).toBe(401);
  });

  it('AUTHZ-RS-02: an expired token → 401 invalid_token (clock skew tolerated: 5 s)', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    h.advance(3600 + 4);
    expect((await h.bearer(token)).ok).toBe(true);
    h.advance(2);
    const response = rejected(await h.bearer(token));
    expect(response.status).toBe(401);
    expect(challenge(response).params.error).toBe('invalid_token');
  });

  it('AUTHZ-RS-02: too little scope → 403 error="insufficient_scope" naming the scope needed', async () => {
    const h = setup();
    const { access_token: token } = await h.login({ scope: 'mcp:tools' });
    const response = rejected(await h.bearer(token, { scopes: ['mcp:admin'] }));
    expect(response.status).toBe(403);
    const { params } = challenge(response);
    expect(params.error).toBe('insufficient_scope');
    expect(params.scope!.split(' ')).toContain('mcp:admin');
    expect(params.resource_metadata).toBe(PRM_URL);
    // Step-up for one call on a guard that needs less.
    const stepUp = rejected(await h.server.createGuard({ scopes: ['mcp:tools'] }).authenticate(request({ authorization: `Bearer ${token}` }), { scopes: ['mcp:admin'] }));
    expect(stepUp.status).toBe(403);
    expect((await h.bearer(token, { scopes: ['mcp:tools'] })).ok).toBe(true);
  });

  it('AUTHZ-RS-02: the no-credentials challenge names the scopes the guard requires', async () => {
    const h = setup();
    const response = rejected(await h.server.createGuard({ scopes: ['mcp:tools'] }).authenticate(request()));
    expect(challenge(response).params).toEqual({ resource_metadata: PRM_URL, scope: 'mcp:tools' });
  });

  it('AUTHZ-RS-02: a token of a revoked grant → 401 invalid_token', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    await h.server.revokeGrant(decodeJWT(token).payload.grant_id as string);
    const response = rejected(await h.bearer(token));
    expect(challenge(response).params.error).toBe('invalid_token');
  });

  it('AUTHZ-RS-03: audience, issuer and expiry are all checked', async () => {
    const h = setup();
    const { access_token: forB } = await h.login({ resource: RESOURCE_B });
    expect(rejected(await h.bearer(forB, { resource: RESOURCE })).status).toBe(401);
    expect((await h.bearer(forB, { resource: RESOURCE_B })).ok).toBe(true);

    const { access_token: token } = await h.login();
    const otherIssuer = await standaloneGuard(h, { issuer: 'http://localhost:3009/other' });
    expect(rejected(await otherIssuer.authenticate(request({ authorization: `Bearer ${token}` }))).status).toBe(401);
    const trailingSlash = await standaloneGuard(h, { issuer: `${ISSUER}/` });
    expect(rejected(await trailingSlash.authenticate(request({ authorization: `Bearer ${token}` }))).status).toBe(401);
    const right = await standaloneGuard(h);
    expect((await right.authenticate(request({ authorization: `Bearer ${token}` }))).ok).toBe(true);
  });

  it('AUTHZ-RS-03: a standalone guard verifies with the published JWKS and checks its own audience', async () => {
    const h = setup();
    const guard = await standaloneGuard(h, { requiredScopes: ['mcp:tools'] });
    const { access_token: token } = await h.login();
    const ok = await guard.authenticate(request({ authorization: `Bearer ${token}` }));
    expect(ok.ok).toBe(true);
    const { access_token: elsewhere } = await h.login({ resource: RESOURCE_C });
    expect(rejected(await guard.authenticate(request({ authorization: `Bearer ${elsewhere}` }))).status).toBe(401);
    const { access_token: noScope } = await h.login({ scope: 'openid' });
    expect(rejected(await guard.authenticate(request({ authorization: `Bearer ${noScope}` }))).status).toBe(403);
    h.advance(3600 + 6);
    expect(rejected(await guard.authenticate(request({ authorization: `Bearer ${token}` }))).status).toBe(401);
  });

  it('AUTHZ-RS-03: a standalone guard with a jwksUri fetches the keys from the JWKS endpoint', async () => {
    const h = setup();
    const { access_token: token } = await h.login();
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      seen.push(req.url);
      return h.server.fetch(req);
    });
    const guard = new ResourceServerGuard({
      issuer: ISSUER,
      resource: RESOURCE,
      resourceMetadataUrl: PRM_URL,
      jwksUri: `${ISSUER}${PATHS.jwks}`,
      clock: () => h.now,
    });
    expect((await guard.authenticate(request({ authorization: `Bearer ${token}` }))).ok).toBe(true);
    expect(seen).toContain(`${ISSUER}${PATHS.jwks}`);
  });

  it('AUTHZ-RS-03: a standalone guard with a RevocationList on the shared store sees revocations', async () => {
    const h = setup();
    const revocations = new RevocationList({ store: h.store, clock: () => h.now });
    const guard = await standaloneGuard(h, { revocations });
    const { access_token: token } = await h.login();
    expect((await guard.authenticate(request({ authorization: `Bearer ${token}` }))).ok).toBe(true);
    await h.server.revokeGrant(decodeJWT(token).payload.grant_id as string);
    // Another process learns of it within the refresh interval (2 s by default).
    h.advance(3);
    expect(rejected(await guard.authenticate(request({ authorization: `Bearer ${token}` }))).status).toBe(401);
  });

  it('AUTHZ-RS-04: protected-resource metadata is served path-inserted, resource byte-equal', async () => {
    const h = setup();
    const response = await h.server.request('/.well-known/oauth-protected-resource/mcp');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const metadata = await response.json();
    expect(metadata.resource).toBe(RESOURCE);
    expect(metadata.authorization_servers).toEqual([ISSUER]);
    // The root document describes the default resource, for clients that try it first.
    const root = await (await h.server.request('/.well-known/oauth-protected-resource')).json();
    expect(root.resource).toBe(RESOURCE);
    // Every configured resource has its own document.
    for (const resource of [RESOURCE_B, RESOURCE_C]) {
      const url = wellKnownURL(resource, 'oauth-protected-resource');
      const doc = await (await h.server.fetch(new Request(url))).json();
      expect(doc.resource).toBe(resource);
    }
  });

  it('AUTHZ-RS-04: a resource with a deeper path and a trailing slash keeps its identifier exactly', async () => {
    const resource = 'https://mcp.example.com/tenant/a/mcp/';
    const h = setup({ resources: [resource] });
    const doc = await (await h.server.fetch(new Request('https://mcp.example.com/.well-known/oauth-protected-resource/tenant/a/mcp'))).json();
    expect(doc.resource).toBe(resource);
  });

  it('AUTHZ-RS-05: the 401 challenge points to the metadata document of the guarded resource', async () => {
    const h = setup();
    for (const resource of [RESOURCE, RESOURCE_B, RESOURCE_C]) {
      const response = rejected(await h.server.createGuard({ resource }).authenticate(request()));
      const url = challenge(response).params.resource_metadata!;
      expect(url).toBe(wellKnownURL(resource, 'oauth-protected-resource'));
      const doc = await (await h.server.fetch(new Request(url))).json();
      expect(doc.resource).toBe(resource);
    }
  });
});
