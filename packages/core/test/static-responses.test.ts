import { describe, expect, it } from 'vitest';
import { type ResponseInfo } from '@keyward/core';
import { CORS_HEADERS } from '../src/protocol/http.js';

// A document needs only its origin opened: nothing in it is worth exposing beyond the CORS-safelisted fields.
const DOCUMENT_CORS = { 'access-control-allow-origin': '*' };
import { PATHS, setup } from './support.js';

// Every answer carries these; HSTS only where the issuer is https (a loopback http issuer must not pin https).
const SECURITY = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
const HSTS = { 'strict-transport-security': 'max-age=31536000; includeSubDomains' };
const HTTPS_ISSUER = 'https://auth.example.com';

const DOCUMENT_PATHS = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/openid_configuration',
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/mcp',
];

function headerObject(headers: Headers): Record<string, string> {
  return Object.fromEntries(headers);
}

describe('precomputed answers for metadata, JWKS and preflights', () => {
  it('PERF-STATIC-01: every metadata document is a precomputed 200 with the JSON, cache and CORS headers, for GET and HEAD', async () => {
    const h = setup();
    for (const path of DOCUMENT_PATHS) {
      for (const method of ['GET', 'HEAD']) {
        const answer = h.server.staticResponse(method, path);
        expect(answer, `${method} ${path}`).toBeDefined();
        expect(answer!.status).toBe(200);
        expect(answer!.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'public, max-age=3600', ...DOCUMENT_CORS, ...SECURITY });
        // The bytes are the document itself: JSON whose issuer is the server's.
        const document = JSON.parse(new TextDecoder().decode(answer!.body!)) as Record<string, unknown>;
        expect(document.issuer ?? document.authorization_servers).toBeTruthy();
        const fetched = await h.server.request(path, { method });
        expect(fetched.status).toBe(200);
        expect(headerObject(fetched.headers)).toEqual(answer!.headers);
        if (method === 'GET') expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(answer!.body);
      }
    }
  });

  it('PERF-STATIC-01: other methods, unknown paths and dynamic endpoints have no precomputed answer', () => {
    const h = setup();
    expect(h.server.staticResponse('POST', '/.well-known/oauth-authorization-server')).toBeUndefined();
    expect(h.server.staticResponse('GET', '/.well-known/oauth-authorization-server/')).toBeUndefined();
    expect(h.server.staticResponse('GET', '/nowhere')).toBeUndefined();
    expect(h.server.staticResponse('GET', PATHS.authorize)).toBeUndefined();
    expect(h.server.staticResponse('POST', PATHS.token)).toBeUndefined();
    expect(h.server.staticResponse('GET', PATHS.userinfo)).toBeUndefined();
  });

  it('PERF-STATIC-02: the JWK Set is precomputed once the keys are loaded, and follows a rotation', async () => {
    const h = setup();
    expect(h.server.staticResponse('GET', PATHS.jwks), 'keys not loaded yet').toBeUndefined();
    await h.server.ready();
    const before = h.server.staticResponse('GET', PATHS.jwks)!;
    expect(before.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'public, max-age=300', ...DOCUMENT_CORS, ...SECURITY });
    const fetched = await h.server.request(PATHS.jwks);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(before.body);
    const kid = await h.server.rotateSigningKey();
    const after = h.server.staticResponse('GET', PATHS.jwks)!;
    const keys = (JSON.parse(new TextDecoder().decode(after.body!)) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
    expect(keys).toContain(kid);
    // Once the retired key's last token has expired it leaves the set: no stale precomputed answer meanwhile.
    h.advance(3600 + 301);
    expect(h.server.staticResponse('GET', PATHS.jwks)).toBeUndefined();
    const reloaded = (await (await h.server.request(PATHS.jwks)).json()) as { keys: { kid: string }[] };
    expect(reloaded.keys.length).toBe(keys.length - 1);
    expect(new TextDecoder().decode(h.server.staticResponse('GET', PATHS.jwks)!.body!)).toBe(JSON.stringify(reloaded));
  });

  it('PERF-STATIC-03: preflights of the server\'s CORS endpoints are precomputed; the authorization endpoint\'s is not', async () => {
    const h = setup({ registration: {} });
    for (const path of [PATHS.token, PATHS.jwks, '/oauth/register', '/oauth/register/some-client', DOCUMENT_PATHS[0]!]) {
      const answer = h.server.staticResponse('OPTIONS', path);
      expect(answer, path).toEqual({ status: 204, headers: { ...CORS_HEADERS, ...SECURITY }, body: null });
      const fetched = await h.server.request(path, { method: 'OPTIONS' });
      expect({ status: fetched.status, headers: headerObject(fetched.headers) }).toEqual({ status: 204, headers: { ...CORS_HEADERS, ...SECURITY } });
    }
    expect(h.server.staticResponse('OPTIONS', PATHS.authorize)).toBeUndefined();
    expect(h.server.staticResponse('OPTIONS', '/nowhere')).toBeUndefined();
  });

  it('PERF-STATIC-01: on an https issuer the precomputed documents, JWK Set and preflights carry HSTS, as fetch does', async () => {
    const h = setup({ issuer: HTTPS_ISSUER, interactive: true });
    await h.server.ready();
    const cases: [string, string, Record<string, string>][] = [
      ['GET', DOCUMENT_PATHS[0]!, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600', ...DOCUMENT_CORS }],
      ['GET', PATHS.jwks, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', ...DOCUMENT_CORS }],
      ['OPTIONS', PATHS.token, { ...CORS_HEADERS }],
    ];
    for (const [method, path, headers] of cases) {
      const answer = h.server.staticResponse(method, path);
      expect(answer?.headers, `${method} ${path}`).toEqual({ ...headers, ...SECURITY, ...HSTS });
      const fetched = await h.server.request(path, { method });
      expect(headerObject(fetched.headers), `${method} ${path}`).toEqual(answer!.headers);
    }
  });

  it('PERF-STATIC-05: with enforceHTTPS there is no precomputed answer over plain http, and fetch refuses it like any other request', async () => {
    const h = setup({ issuer: HTTPS_ISSUER, interactive: true, enforceHTTPS: true });
    await h.server.ready();
    for (const [method, path] of [['GET', DOCUMENT_PATHS[0]!], ['HEAD', DOCUMENT_PATHS[2]!], ['GET', PATHS.jwks]] as const) {
      expect(h.server.staticResponse(method, path, { protocol: 'http' }), `${method} ${path}`).toBeUndefined();
      expect(h.server.staticResponse(method, path, { protocol: 'https' }), `${method} ${path}`).toBeDefined();
      // No protocol known (a Web runtime that does not say): served, as fetch serves it.
      expect(h.server.staticResponse(method, path), `${method} ${path}`).toBeDefined();
      const refused = await h.server.request(path, { method }, { protocol: 'http' });
      expect(refused.status, `${method} ${path}`).toBe(400);
      expect(refused.headers.get('cache-control')).not.toBe('public, max-age=3600');
      if (method === 'GET') expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    }
    // A loopback development issuer is never refused, so its answers stay precomputed.
    const local = setup({ enforceHTTPS: true });
    expect(local.server.staticResponse('GET', DOCUMENT_PATHS[0]!, { protocol: 'http' })).toBeDefined();
  });

  it('PERF-STATIC-05: a precomputed answer is reported to onResponse exactly once, whether fetch or the caller sends it', async () => {
    const seen: ResponseInfo[] = [];
    const h = setup({ registration: {}, onResponse: (info) => seen.push(info) });
    await h.server.ready();
    const expected: ResponseInfo[] = [];
    for (const [method, path, endpoint, status] of [
      ['GET', DOCUMENT_PATHS[0]!, 'metadata', 200],
      ['HEAD', DOCUMENT_PATHS[4]!, 'metadata', 200],
      ['GET', PATHS.jwks, 'jwks', 200],
      ['OPTIONS', PATHS.token, 'token', 204],
      ['OPTIONS', '/oauth/register/some-client', 'register', 204],
    ] as const) {
      await h.server.request(path, { method });
      expect(h.server.staticResponse(method, path)).toBeDefined();
      expected.push({ endpoint, method, status, durationMs: 0 }, { endpoint, method, status, durationMs: 0 });
    }
    expect(seen).toEqual(expected);
    // What has no precomputed answer is reported by fetch alone, once.
    seen.length = 0;
    expect(h.server.staticResponse('POST', PATHS.token)).toBeUndefined();
    expect(seen).toEqual([]);
    await h.server.request(PATHS.token, { method: 'POST' });
    expect(seen).toEqual([expect.objectContaining({ endpoint: 'token', method: 'POST', status: 400 })]);
  });
});
