import { describe, expect, it } from 'vitest';
import { CORS_HEADERS } from '@keyward/core';
import { PATHS, setup } from './support.js';

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
        expect(answer!.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'public, max-age=3600', ...CORS_HEADERS });
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
    expect(before.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'public, max-age=300', ...CORS_HEADERS });
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
      expect(answer, path).toEqual({ status: 204, headers: CORS_HEADERS, body: null });
      const fetched = await h.server.request(path, { method: 'OPTIONS' });
      expect({ status: fetched.status, headers: headerObject(fetched.headers) }).toEqual({ status: 204, headers: { ...CORS_HEADERS } });
    }
    expect(h.server.staticResponse('OPTIONS', PATHS.authorize)).toBeUndefined();
    expect(h.server.staticResponse('OPTIONS', '/nowhere')).toBeUndefined();
  });
});
