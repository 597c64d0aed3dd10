/**
 * SEC-SSRF-04..06: the outbound fetch as an attacker meets it. Client ID metadata documents and jwks_uri
 * key sets that point into special-purpose address space are refused before any connection, the caller
 * learns only that the URL "could not be fetched" (no address, port or errno: the server is not a port
 * scanner), and the detail reaches the application's `onError` log as an OutboundFetchError.
 */
import { createServer } from 'node:net';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundFetchError } from '../../src/node/safe-fetch.js';
import { clientAssertion, createHarness, expectOAuthError } from './harness.js';
import { startDocumentServer, type DocumentServer } from './https-server.js';

const REDIRECT = 'http://127.0.0.1/cb';
let docs: DocumentServer;
/** A loopback port with nothing listening: connecting to it fails with ECONNREFUSED. */
let closedPort: number;

beforeAll(async () => {
  docs = await startDocumentServer();
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
afterAll(() => docs.close());

/** A server with a kept `onError` log. */
function logged(documents: Record<string, unknown> = {}) {
  const log: unknown[] = [];
  const h = createHarness({ clientIdMetadataDocuments: documents, onError: (error) => void log.push(error) });
  return { h, log };
}

/** Asserts that `text` carries nothing a network error would leak: errno names, addresses, the port. */
function expectNoNetworkDetail(text: string, port: number): void {
  expect(text).not.toMatch(/\bE[A-Z]{4,}\b/); // ECONNREFUSED, EHOSTUNREACH, ENOTFOUND…
  expect(text).not.toMatch(new RegExp(`127\\.0\\.0\\.1|::1|\\b${port}\\b|connect|socket|getaddrinfo|special|resolve|certificate|timed? ?out`, 'i'));
}

async function authorizePage(h: ReturnType<typeof createHarness>, clientId: string): Promise<Response> {
  const { response } = await h.authorize(clientId, REDIRECT);
  return response;
}

describe('SEC-SSRF-04: metadata document URLs in special-purpose space are refused before connecting', () => {
  const literals = [
    '[::7f00:1]', // IPv4-compatible ::127.0.0.1, the form the attack used
    '[::127.0.0.1]',
    '[::ffff:7f00:1]',
    '[0:0:0:0:0:ffff:a00:5]',
    '[64:ff9b::7f00:1]',
    '[64:ff9b:1::a00:5]',
    '[2002:7f00:1::]',
    '[2001:0:4136:e378:8000:63bf:3fff:fdd2]',
    '[100::1]',
    '[2001:db8::1]',
    '[3fff::1]',
    '[fc00::1]',
    '[fe80::1]',
    '[ff02::1]',
    '[::]',
    '0x7f.0.0.1', // the URL parser turns these into 127.0.0.1
    '2130706433',
    '0177.0.0.1',
    '100.64.0.1',
    '198.18.0.1',
    '192.0.0.8',
    '255.255.255.255',
    '224.0.0.1',
  ];
  it.each(literals)('SEC-SSRF-04: https://%s/… is refused, the log names the block, the caller sees only "could not be fetched"', async (host) => {
    const { h, log } = logged({ ca: docs.ca });
    const url = `https://${host}/client.json`;
    const page = await authorizePage(h, url);
    expect(page.headers.get('location')).toBeNull();
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain('client metadata document could not be fetched');
    const body = await expectOAuthError(await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'v'.repeat(43) }, { none: url }), 'invalid_client', 401);
    expect(body.error_description).toBe('client metadata document could not be fetched');
    expect(log).toHaveLength(2);
    for (const entry of log) {
      expect(entry).toBeInstanceOf(OutboundFetchError);
      expect((entry as Error).message).toMatch(/is a special-purpose address/);
    }
  });

  it('SEC-SSRF-04: allowPrivateHosts still lets an allow-listed local host through', async () => {
    const { h, log } = logged({ allowPrivateHosts: [docs.host], ca: docs.ca });
    const url = docs.url('/ssrf/allowed.json');
    docs.route('/ssrf/allowed.json', { body: { client_id: url, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' } });
    const tokens = await h.login({ client_id: url, redirect_uris: [REDIRECT] }, { none: url });
    expect(tokens.access_token).toBeTruthy();
    expect(log).toEqual([]);
  });
});

describe('SEC-SSRF-05: a failed fetch tells the caller nothing about the network', () => {
  it('SEC-SSRF-05: a refused connection (ECONNREFUSED to an allow-listed port) → "could not be fetched"; the errno, address and port only in the log', async () => {
    const host = `127.0.0.1:${closedPort}`;
    const { h, log } = logged({ allowPrivateHosts: [host], ca: docs.ca });
    const url = `https://${host}/client.json`;
    const page = await authorizePage(h, url);
    const html = await page.text();
    expect(page.status).toBe(400);
    expectNoNetworkDetail(html.replace(/<[^>]*>/g, ' '), closedPort);
    const response = await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'v'.repeat(43) }, { none: url });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(JSON.parse(text)).toMatchObject({ error: 'invalid_client', error_description: 'client metadata document could not be fetched' });
    // The body names the client id (the caller's own URL) nowhere: the port is in that URL.
    expectNoNetworkDetail(text, closedPort);
    expect(log).toHaveLength(2);
    expect((log[0] as OutboundFetchError).url).toBe(url);
    expect((log[0] as Error).message).toMatch(/ECONNREFUSED/);
    expect((log[0] as Error).message).toContain(String(closedPort));
  });

  it('SEC-SSRF-05: a name that resolves to loopback → "could not be fetched"; the resolved address only in the log', async () => {
    const { h, log } = logged({ ca: docs.ca });
    const url = `https://localhost:${docs.port}/client.json`;
    const body = await expectOAuthError(await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'v'.repeat(43) }, { none: url }), 'invalid_client', 401);
    expectNoNetworkDetail(JSON.stringify(body), docs.port);
    expect((log[0] as Error).message).toMatch(/localhost resolves only to special-purpose addresses \((127\.0\.0\.1|::1)/);
  });

  it('SEC-SSRF-05: a jwks_uri that cannot be fetched → the same invalid_client as any refused assertion, nothing about the network', async () => {
    const host = `127.0.0.1:${closedPort}`;
    const { h, log } = logged({ allowPrivateHosts: [host], ca: docs.ca });
    const { privateKey } = await generateKeyPair('ES256');
    const client = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `https://${host}/keys.json` });
    const response = await h.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(privateKey, client.client_id, h.now) });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(JSON.parse(text)).toMatchObject({ error: 'invalid_client', error_description: 'client assertion is invalid, expired, not signed by a registered key, or not for this issuer alone' });
    expectNoNetworkDetail(text, closedPort);
    expect(log).toHaveLength(1);
    expect(log[0]).toBeInstanceOf(OutboundFetchError);
    expect((log[0] as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('SEC-SSRF-05: a jwks_uri in special-purpose space is refused before connecting, and said the same way', async () => {
    const { h, log } = logged({ ca: docs.ca });
    const { privateKey } = await generateKeyPair('ES256');
    const client = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://[::7f00:1]/keys.json' });
    const body = await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(privateKey, client.client_id, h.now) }), 'invalid_client', 401);
    expect(body.error_description).toBe('client assertion is invalid, expired, not signed by a registered key, or not for this issuer alone');
    expect((log[0] as Error).message).toMatch(/\[::7f00:1\] is a special-purpose address \(::\/96/);
  });

  it('SEC-SSRF-06: a non-200 answer is a fetch failure too: the status goes to the log, not to the caller', async () => {
    const { h, log } = logged({ allowPrivateHosts: [docs.host], ca: docs.ca });
    const url = docs.url('/ssrf/forbidden.json');
    docs.route('/ssrf/forbidden.json', { status: 403, body: 'nope' });
    const body = await expectOAuthError(await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'v'.repeat(43) }, { none: url }), 'invalid_client', 401);
    expect(body.error_description).toBe('client metadata document could not be fetched');
    expect((log[0] as Error).message).toMatch(/answered HTTP 403/);
  });
});
