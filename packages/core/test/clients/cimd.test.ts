/**
 * A20: client ID metadata documents, fetched for real from a local HTTPS server (see https-server.ts) that
 * the authorization server may reach only through `allowPrivateHosts` + `ca`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { clientAssertion, createHarness, expectJSON, expectOAuthError, type Harness } from './harness.js';
import { startDocumentServer, type DocumentServer } from './https-server.js';
import { OutboundFetchError } from '../../src/node/safe-fetch.js';

const REDIRECT = 'http://127.0.0.1/cb';
let docs: DocumentServer;
let counter = 0;

beforeAll(async () => {
  docs = await startDocumentServer();
});
afterAll(() => docs.close());

/** A fresh path, so neither the document server's hit counts nor any cache carry over between tests. */
function freshPath(name = 'client'): string {
  return `/clients/${++counter}/${name}.json`;
}

/** A valid document for `url`: a public native client of the code grant. */
function documentFor(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: url, client_name: 'Document client', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', ...extra };
}

/** Serves a valid (or `extra`-bent) document at a fresh path and returns its URL. */
function serve(extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): { url: string; path: string } {
  const path = freshPath();
  const url = docs.url(path);
  docs.route(path, { body: documentFor(url, extra), headers });
  return { url, path };
}

/** A server that may fetch from the local document server, and only from it. */
function harness(options: Record<string, unknown> = {}): Harness {
  return createHarness({ clientIdMetadataDocuments: { allowPrivateHosts: [docs.host], ca: docs.ca, ...options } });
}

/** A harness whose `onError` log is kept: fetch failures are reported there, not to the caller. */
function logging(documents: Record<string, unknown>): Harness & { log: () => string } {
  const errors: unknown[] = [];
  const h = createHarness({ clientIdMetadataDocuments: documents, onError: (error) => void errors.push(error) });
  return Object.assign(h, { log: () => errors.map((error) => (error instanceof OutboundFetchError ? error.message : `not an OutboundFetchError: ${String(error)}`)).join('\n') });
}

/** Refused with nothing but "could not be fetched" for the caller; returns what the server's log got. */
async function expectUnfetchable(h: Harness & { log: () => string }, url: string): Promise<string> {
  const before = h.log().length;
  expect(await expectRefused(h, url), url).toBe('client metadata document could not be fetched');
  return h.log().slice(before);
}

/** The document client is usable: the authorization request redirects with a code, and the code redeems. */
async function expectAccepted(h: Harness, url: string): Promise<void> {
  const tokens = await h.login({ client_id: url, redirect_uris: [REDIRECT] }, { none: url });
  expect(tokens.access_token).toBeTruthy();
}

/**
 * The document client is refused: the authorization request does not redirect anywhere (no code, no
 * Location), and the token endpoint answers 401 invalid_client. Returns the token endpoint's description.
 */
async function expectRefused(h: Harness, url: string): Promise<string> {
  const { response } = await h.authorize(url, REDIRECT);
  expect(response.headers.get('location'), 'a refused document client must never be redirected to').toBeNull();
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  await response.body?.cancel();
  const body = await expectOAuthError(await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43) }, { none: url }), 'invalid_client', 401);
  return String(body.error_description);
}

describe('A20 client ID metadata documents', () => {
  it('AUTHZ-CIMD-01: a valid https document URL is a client: discovery says so, and the code flow works end to end', async () => {
    const h = harness();
    const metadata = await expectJSON(await h.server.request('/.well-known/oauth-authorization-server'));
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    const { url, path } = serve({ grant_types: ['authorization_code', 'refresh_token'] });
    const tokens = await h.login({ client_id: url, redirect_uris: [REDIRECT] }, { none: url });
    expect(tokens.refresh_token).toBeTruthy();
    expect(docs.hits(path)).toBe(1);
    const guard = await h.bearer(tokens.access_token);
    expect(guard.ok && guard.auth.clientId).toBe(url);
  });

  it('AUTHZ-CIMD-01: URLs that break the rules are not document URLs: 400 page at the authorization endpoint, nothing fetched', async () => {
    const h = harness();
    const { path } = serve();
    const before = docs.total();
    const hostPort = docs.host;
    const bad = [
      `http://${hostPort}${path}`, // not https
      `https://${hostPort}`, // no path
      `https://${hostPort}/`, // only "/"
      `https://${hostPort}/clients/../${path.slice('/clients/'.length)}`, // dot segment
      `https://${hostPort}/./${path.slice(1)}`, // single-dot segment
      `https://user:pw@${hostPort}${path}`, // userinfo
      `https://${hostPort}${path}#fragment`, // fragment
    ];
    for (const clientId of bad) {
      const { response } = await h.authorize(clientId, REDIRECT);
      expect(response.status, clientId).toBe(400);
      expect(response.headers.get('location'), clientId).toBeNull();
      expect(response.headers.get('content-type'), clientId).toMatch(/^text\/html/);
      await response.body?.cancel();
    }
    expect(docs.total(), 'no URL that breaks the rules may be fetched').toBe(before);
  });

  it('AUTHZ-CIMD-01: percent-encoded and backslash dot segments count as dot segments (URL parsers resolve them)', async () => {
    const h = harness();
    const target = freshPath('target');
    // WHATWG URL parsing turns these into `target`; the document there even claims the unresolved id.
    const variants = [
      `${docs.origin}/clients/x/%2e%2e${target.slice('/clients'.length)}`,
      `${docs.origin}/clients/x/%2E%2E${target.slice('/clients'.length)}`,
      `${docs.origin}/clients/x/.%2e${target.slice('/clients'.length)}`,
      `${docs.origin}/clients/%2e${target.slice('/clients'.length)}`,
      `${docs.origin}/clients/x\\..${target.slice('/clients'.length).replace(/\//g, '\\')}`,
    ];
    for (const clientId of variants) {
      docs.route(target, { body: documentFor(clientId) });
      const { response } = await h.authorize(clientId, REDIRECT);
      expect(response.headers.get('location'), clientId).toBeNull();
      expect(response.status, clientId).toBe(400);
      await response.body?.cancel();
    }
    expect(docs.hits(target), 'a dot-segment URL must not be fetched').toBe(0);
  });

  it('AUTHZ-CIMD-02: a document whose client_id differs from its URL is refused (exact comparison)', async () => {
    const h = harness();
    const path = freshPath();
    const url = docs.url(path);
    for (const claimed of [docs.url('/clients/other.json'), `${url}/`, url.replace('https://', 'HTTPS://'), `${url}?x=1`]) {
      docs.route(path, { body: documentFor(claimed) });
      expect(await expectRefused(h, url)).toMatch(/client_id/);
    }
    const { client_id: _omitted, ...withoutId } = documentFor(url);
    docs.route(path, { body: withoutId });
    await expectRefused(h, url);
  });

  it('AUTHZ-CIMD-02: a redirect from the document URL is not followed, and refused', async () => {
    const h = logging({ allowPrivateHosts: [docs.host], ca: docs.ca });
    const { url: elsewhere, path: targetPath } = serve();
    const path = freshPath();
    const url = docs.url(path);
    for (const status of [301, 302, 303, 307, 308]) {
      // The redirect target even serves a document that claims the original URL.
      docs.route(targetPath, { body: documentFor(url) });
      docs.route(path, { status, headers: { location: elsewhere }, body: '' });
      expect(await expectUnfetchable(h, url)).toMatch(new RegExp(`HTTP ${status}`));
    }
    expect(docs.hits(targetPath), 'the redirect target must never be fetched').toBe(0);
  });

  it('AUTHZ-CIMD-02: only a 200 counts: 404, 500 and 204 are refused; so are non-JSON and non-object bodies', async () => {
    const h = harness();
    const path = freshPath();
    const url = docs.url(path);
    for (const route of [{ status: 404 }, { status: 500 }, { status: 204, body: '' }, { body: 'not json' }, { body: '["array"]' }, { body: 'null' }]) {
      docs.route(path, route.status === 404 || route.status === 500 ? { status: route.status, body: documentFor(url) } : route);
      await expectRefused(h, url);
    }
  });

  it('AUTHZ-CIMD-03: shared-secret methods or a client_secret in the document → refused', async () => {
    const h = harness();
    const bent: Record<string, unknown>[] = [
      { token_endpoint_auth_method: 'client_secret_basic' },
      { token_endpoint_auth_method: 'client_secret_post' },
      { client_secret: 'published-secret' },
      { token_endpoint_auth_method: 'client_secret_basic', client_secret: 'published-secret' },
      { client_secret_expires_at: 0 },
    ];
    for (const extra of bent) {
      const { url } = serve(extra);
      expect(await expectRefused(h, url), JSON.stringify(extra)).toMatch(/secret|shared/);
    }
  });

  it('AUTHZ-CIMD-03: the document default is a public client (none), which is accepted', async () => {
    const h = harness();
    const path = freshPath();
    const url = docs.url(path);
    const { token_endpoint_auth_method: _none, ...implicitNone } = documentFor(url);
    docs.route(path, { body: implicitNone });
    await expectAccepted(h, url);
  });

  it('AUTHZ-CIMD-04: special-use IP literals are refused without any connection', async () => {
    const h = logging({ ca: docs.ca });
    for (const host of ['10.0.0.5', '127.0.0.1', '169.254.169.254', '192.168.1.1', '172.16.0.1', '100.64.0.1', '[::1]', '[fd00::1]', '[fe80::1]', '[::ffff:10.0.0.5]', '0.0.0.0', '[::7f00:1]']) {
      const url = `https://${host}/c.json`;
      // "is a special-purpose address" is the check made before any connection is opened.
      expect(await expectUnfetchable(h, url), url).toMatch(/is a special-purpose address/);
    }
  });

  it('AUTHZ-CIMD-04: a host name that resolves to 127.0.0.1 is refused without fetching unless allow-listed', async () => {
    // Only 127.0.0.1:<port> is allowed: `localhost` on the same port resolves to a loopback address.
    const h = logging({ allowPrivateHosts: [docs.host], ca: docs.ca });
    const { path } = serve();
    const viaName = `https://localhost:${docs.port}${path}`;
    docs.route(path, { body: documentFor(viaName) });
    // Refused at name resolution, before connecting.
    expect(await expectUnfetchable(h, viaName)).toMatch(/localhost resolves only to special-purpose addresses/);
    // With no allowPrivateHosts at all, 127.0.0.1 itself is refused too.
    const strict = logging({ ca: docs.ca });
    const { url, path: other } = serve();
    expect(await expectUnfetchable(strict, url)).toMatch(/special-purpose address/);
    expect(docs.hits(path) + docs.hits(other), 'nothing may be fetched from a special-use address').toBe(0);
    // Allow-listing the name (host:port) lets the same server through: the refusal was the SSRF guard.
    const named = createHarness({ clientIdMetadataDocuments: { allowPrivateHosts: [`localhost:${docs.port}`], ca: docs.ca } });
    await expectAccepted(named, viaName);
  });

  it('AUTHZ-CIMD-04: TLS is verified: without the `ca` option the local certificate is not trusted', async () => {
    const h = logging({ allowPrivateHosts: [docs.host] });
    const { url, path } = serve();
    expect(await expectUnfetchable(h, url)).toMatch(/certificate/);
    expect(docs.hits(path)).toBe(0);
  });

  it('AUTHZ-CIMD-04: a 6 KB document is refused; at the 5 KB cap it is accepted', async () => {
    const h = logging({ allowPrivateHosts: [docs.host], ca: docs.ca });
    const big = serve({ client_name: 'x'.repeat(150), contacts: ['y'.repeat(6 * 1024)] });
    expect(await expectUnfetchable(h, big.url)).toMatch(/larger than 5120 bytes/);
    const path = freshPath();
    const url = docs.url(path);
    const base = JSON.stringify(documentFor(url, { contacts: [''] })).length;
    const exact = documentFor(url, { contacts: ['z'.repeat(5120 - base)] });
    expect(JSON.stringify(exact).length).toBe(5120);
    docs.route(path, { body: exact });
    await expectAccepted(h, url);
  });

  it('AUTHZ-CIMD-04: errors are never cached: fix the document and the next attempt works', async () => {
    const h = harness();
    const path = freshPath();
    const url = docs.url(path);
    // Too large, then wrong client_id, then unreachable (500), each with a long max-age: none may stick.
    const broken = [
      { body: documentFor(url, { contacts: ['y'.repeat(6 * 1024)] }) },
      { body: documentFor(`${url}x`) },
      { status: 500, body: documentFor(url) },
    ];
    for (const route of broken) {
      docs.route(path, { ...route, headers: { 'cache-control': 'max-age=3600' } });
      await expectRefused(h, url);
      docs.route(path, { body: documentFor(url), headers: { 'cache-control': 'max-age=3600' } });
      await expectAccepted(h, url);
      // The good document is cached now; the next broken one needs a fresh URL to be seen at all.
      h.advance(3601);
    }
  });

  it('AUTHZ-CIMD-04: a document that trickles in is abandoned after the total timeout, not only an idle timeout', async () => {
    const h = logging({ allowPrivateHosts: [docs.host], ca: docs.ca, timeoutMs: 600 });
    const path = freshPath();
    const url = docs.url(path);
    const body = JSON.stringify(documentFor(url));
    let timer: NodeJS.Timeout | undefined;
    docs.route(path, {
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        let sent = 0;
        // One byte every 100 ms: never idle long enough for a socket idle timeout of 600 ms.
        timer = setInterval(() => {
          if (response.destroyed || sent >= body.length) return clearInterval(timer);
          response.write(body[sent++]!);
        }, 100);
      },
    });
    const started = performance.now();
    expect(await expectUnfetchable(h, url)).toMatch(/no complete response within 600 ms/);
    clearInterval(timer);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('AUTHZ-CIMD-05: unsupported grant types in the document are filtered, not fatal', async () => {
    const h = harness();
    const { url } = serve({
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'implicit'],
    });
    const tokens = await h.login({ client_id: url, redirect_uris: [REDIRECT] }, { none: url });
    // refresh_token survived the filter: a refresh token was issued and it works.
    expect(tokens.refresh_token).toBeTruthy();
    await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { none: url }));
    // The filtered grant is not usable, whatever the document said.
    await expectOAuthError(await h.token({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x' }, { none: url }), 'unsupported_grant_type');
  });

  it('AUTHZ-CIMD-05: client_credentials is not available to document clients: a document is an anonymous registration (decision)', async () => {
    const h = harness();
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'doc-key', alg: 'ES256' };
    // A key-holding document client that asks for client_credentials beside the code grant, with an admin scope.
    const { url } = serve({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'client_credentials'] });
    const response = await h.token({ grant_type: 'client_credentials', scope: 'mcp:admin' }, { assertion: await clientAssertion(privateKey, url, h.now) });
    await expectOAuthError(response, 'unauthorized_client');
    // The code grant of the same document still works: client_credentials was filtered, not fatal.
    const { code, verifier } = await h.code(url, REDIRECT);
    await expectJSON(await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, { assertion: await clientAssertion(privateKey, url, h.now) }));
    // A document that asks for nothing else is refused.
    const only = serve({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, grant_types: ['client_credentials'], redirect_uris: undefined });
    const refused = await h.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(privateKey, only.url, h.now) });
    await expectOAuthError(refused, 'invalid_client', 401);
  });

  it('AUTHZ-CIMD-05: a document left with no supported grant type at all is refused', async () => {
    const h = harness();
    const { url } = serve({ grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'] });
    expect(await expectRefused(h, url)).toMatch(/grant_types/);
  });

  it('AUTHZ-CIMD-02/05: the rest of the document is validated like registration metadata (redirect URIs)', async () => {
    const h = harness();
    for (const redirect of ['http://evil.example/cb', 'javascript:alert(1)', 'https://app.example/cb#f']) {
      const { url } = serve({ redirect_uris: [redirect] });
      expect(await expectRefused(h, url), redirect).toMatch(/redirect_uris/);
    }
    // The redirect URI must be one the document registered.
    const { url } = serve();
    const { response } = await h.authorize(url, 'http://127.0.0.1/other');
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  // CIMD §4.4: the document may be cached per its HTTP caching headers.
  describe('caching per Cache-Control', () => {
    it('max-age is honoured on the injected clock: no refetch inside it, a refetch after it', async () => {
      const h = harness();
      const { url, path } = serve({}, { 'cache-control': 'public, max-age=60' });
      await expectAccepted(h, url);
      expect(docs.hits(path)).toBe(1);
      // A changed document is not seen while the cached copy is fresh.
      docs.route(path, { body: documentFor(url, { redirect_uris: ['http://127.0.0.1/moved'] }), headers: { 'cache-control': 'max-age=60' } });
      h.advance(59);
      await expectAccepted(h, url);
      expect(docs.hits(path)).toBe(1);
      h.advance(2);
      const { response } = await h.authorize(url, REDIRECT);
      expect(response.status, 'the new document no longer lists the old redirect URI').toBe(400);
      await response.body?.cancel();
      expect(docs.hits(path)).toBe(2);
    });

    it('no-store and no-cache are never cached: every use fetches', async () => {
      const h = harness();
      for (const control of ['no-store', 'no-cache', 'max-age=0', 'private, no-store, max-age=600']) {
        const { url, path } = serve({}, { 'cache-control': control });
        await expectAccepted(h, url); // authorization request + token request
        expect(docs.hits(path), control).toBe(2);
      }
    });

    it('without Cache-Control the default lifetime (300 s) applies, and maxCacheSeconds caps max-age', async () => {
      const h = harness({ maxCacheSeconds: 120 });
      const plain = serve();
      const long = serve({}, { 'cache-control': 'max-age=86400' });
      for (const { url } of [plain, long]) await expectAccepted(h, url);
      h.advance(119);
      for (const { url } of [plain, long]) await expectAccepted(h, url);
      expect([docs.hits(plain.path), docs.hits(long.path)]).toEqual([1, 1]);
      h.advance(2);
      for (const { url } of [plain, long]) await expectAccepted(h, url);
      expect([docs.hits(plain.path), docs.hits(long.path)], 'plain: 300 s capped to 120 s; long: capped to 120 s').toEqual([2, 2]);
    });
  });

  it('is off when clientIdMetadataDocuments is false: a URL client_id is just an unknown client', async () => {
    const h = createHarness({ clientIdMetadataDocuments: false });
    const { url, path } = serve();
    const metadata = await expectJSON(await h.server.request('/.well-known/oauth-authorization-server'));
    expect(metadata.client_id_metadata_document_supported).not.toBe(true);
    const { response } = await h.authorize(url, REDIRECT);
    expect(response.status).toBe(400);
    await response.body?.cancel();
    expect(docs.hits(path)).toBe(0);
  });

  // OAuth 2.1 §4.1.2.1: an invalid client_id is reported to the user, never redirected; a refused
  // *document* gets the same HTML error page as every other bad client_id, not the token endpoint's JSON.
  it('AUTHZ-CIMD-02: a refused document shows the 400 error page at the authorization endpoint', async () => {
    const h = harness();
    const { url } = serve({ client_id: docs.url('/clients/someone-else.json') });
    const { response } = await h.authorize(url, REDIRECT);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
