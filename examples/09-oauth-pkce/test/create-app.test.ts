// createApp(env) in-process: how the environment variables shape the server, and which ones are refused.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calculatePKCECodeChallenge, randomToken } from '@keyward/core/protocol';
import { createApp } from '../src/app.js';
import { DEFAULT_SQLITE_FILE } from '../src/store.js';

const memory = { OAUTH_STORE: 'memory' };
const scratch = mkdtempSync(join(tmpdir(), 'keyward-example-app-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('createApp(env)', () => {
  it('AUTHZ-DISC-02: uses OAUTH_ISSUER byte for byte, trailing slash included, and serves /mcp beside it', async () => {
    const example = await createApp({ ...memory, OAUTH_ISSUER: 'http://127.0.0.1:4000/' });
    const metadata = await (await example.server.request('/.well-known/oauth-authorization-server')).json();
    expect(metadata.issuer).toBe('http://127.0.0.1:4000/');
    expect(metadata.registration_endpoint).toBe('http://127.0.0.1:4000/oauth/register');
    expect(metadata.introspection_endpoint).toBe('http://127.0.0.1:4000/oauth/introspect');
    const resource = await (await example.server.request('/.well-known/oauth-protected-resource/mcp')).json();
    expect(resource).toMatchObject({ resource: 'http://127.0.0.1:4000/mcp', authorization_servers: ['http://127.0.0.1:4000/'] });
    await example.close();
  });

  it('serves MCP_UNAUTHENTICATED_TEST_ROUTE only on loopback issuers, and only to localhost Host headers', async () => {
    await expect(createApp({ ...memory, OAUTH_ISSUER: 'https://mcp.example.com', MCP_UNAUTHENTICATED_TEST_ROUTE: '/mcp-open' })).rejects.toThrow(/loopback/);
    const example = await createApp({ ...memory, OAUTH_ISSUER: 'http://localhost:4010', MCP_UNAUTHENTICATED_TEST_ROUTE: '/mcp-open' });
    const listener = example.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    const { port } = listener.address() as { port: number };
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    // node:http, because fetch does not let a caller choose the Host header, which is the point here.
    const post = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify(initialize);
        const request = httpRequest(
          { host: '127.0.0.1', port, path: '/mcp-open', method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    expect(await post(`localhost:${port}`)).toBe(200);
    expect(await post('evil.example')).toBe(403);
    listener.close();
    await example.close();
    const plain = await createApp({ ...memory, OAUTH_ISSUER: 'http://localhost:4011' });
    expect(plain.warnings.some((warning) => warning.includes('MCP_UNAUTHENTICATED_TEST_ROUTE'))).toBe(false);
    await plain.close();
  });

  it('registers OAUTH_REDIRECT_URIS for the public client instead of the defaults', async () => {
    const example = await createApp({ ...memory, PORT: '4001', OAUTH_DEV_LOGIN: 'demo', OAUTH_REDIRECT_URIS: 'http://localhost:9999/cb, http://127.0.0.1/other' });
    const challenge = await calculatePKCECodeChallenge(randomToken());
    const authorize = (redirectUri: string) =>
      example.server.request(
        `/oauth/authorize?response_type=code&client_id=mcp-public-client&code_challenge=${challenge}&code_challenge_method=S256&redirect_uri=${encodeURIComponent(redirectUri)}`,
      );
    expect((await authorize('http://localhost:9999/cb')).status).toBe(302);
    expect((await authorize('http://127.0.0.1:5555/other')).status).toBe(302);
    expect((await authorize('http://localhost:8080/callback')).status).toBe(400);
    await example.close();
  });

  it('AUTHZ-DCR-05: accepts the private-use redirect schemes of Cursor and VS Code at registration, and no others', async () => {
    const example = await createApp(memory);
    const register = (uri: string) =>
      example.server.request('/oauth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'desktop', redirect_uris: [uri], token_endpoint_auth_method: 'none' }),
      });
    expect((await register('cursor://anysphere.cursor-retrieval/oauth/callback')).status).toBe(201);
    expect((await register('vscode://vscode.mcp/oauth/callback')).status).toBe(201);
    const refused = await register('zed://oauth/callback');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    await example.close();
  });

  it('generates demo and admin passwords unless OAUTH_DEMO_PASSWORD / OAUTH_ADMIN_PASSWORD are set, and has none with OAUTH_DEV_LOGIN', async () => {
    const generated = await createApp(memory);
    const chosen = await createApp({ ...memory, OAUTH_DEMO_PASSWORD: 'chosen-password', OAUTH_ADMIN_PASSWORD: 'chosen-admin-password' });
    const dev = await createApp({ ...memory, OAUTH_DEV_LOGIN: 'demo' });
    expect(generated.demoPassword).toEqual({ value: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), generated: true });
    expect(generated.adminPassword).toEqual({ value: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), generated: true });
    expect(generated.adminPassword!.value).not.toBe(generated.demoPassword!.value);
    expect(chosen.demoPassword).toEqual({ value: 'chosen-password', generated: false });
    expect(chosen.adminPassword).toEqual({ value: 'chosen-admin-password', generated: false });
    expect(dev.demoPassword).toBeNull();
    expect(dev.adminPassword).toBeNull();
    await Promise.all([generated.close(), chosen.close(), dev.close()]);
  });

  it('stores in SQLite by default: data/keyward.db in the example folder, or OAUTH_SQLITE_FILE, created with its folder', async () => {
    expect(DEFAULT_SQLITE_FILE).toMatch(/examples[/\\]09-oauth-pkce[/\\]data[/\\]keyward\.db$/);
    const filename = join(scratch, 'new', 'folder', 'keyward.db');
    const example = await createApp({ OAUTH_SQLITE_FILE: filename });
    expect(example.store).toBe(`sqlite ${filename}`);
    expect(existsSync(filename)).toBe(true);
    await example.close();
  });

  it('reads the client ID metadata document settings for development (private hosts, a CA file) and warns about them', async () => {
    const ca = join(scratch, 'dev-ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
    const example = await createApp({ ...memory, OAUTH_CIMD_ALLOW_PRIVATE_HOSTS: 'localhost:8443, 127.0.0.1:9443', OAUTH_CIMD_CA_FILE: ca });
    expect(example.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^OAUTH_CIMD_ALLOW_PRIVATE_HOSTS: .*localhost:8443, 127\.0\.0\.1:9443 \(development and testing only\)$/), expect.stringMatching(/^OAUTH_CIMD_CA_FILE: .*dev-ca\.pem/)]),
    );
    const metadata = await (await example.server.request('/.well-known/oauth-authorization-server')).json();
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    await example.close();
    await expect(createApp({ ...memory, OAUTH_CIMD_CA_FILE: join(scratch, 'missing.pem') })).rejects.toThrow(/^OAUTH_CIMD_CA_FILE: cannot read .*missing\.pem$/);
  });

  it('refuses configurations that cannot work', async () => {
    await expect(createApp({ OAUTH_STORE: 'mongodb' })).rejects.toThrow(/OAUTH_STORE=mongodb is not one of sqlite, memory, postgres, redis/);
    await expect(createApp({ OAUTH_STORE: 'postgres' })).rejects.toThrow(/needs DATABASE_URL/);
    await expect(createApp({ ...memory, OAUTH_CLIENT_ID: 'lonely' })).rejects.toThrow(/^OAUTH_CLIENT_ID is set but OAUTH_CLIENT_SECRET is not: set both, or neither$/);
    await expect(createApp({ ...memory, OAUTH_ISSUER: 'https://mcp.example.com', OAUTH_DEV_LOGIN: 'demo' })).rejects.toThrow(/devLogin is refused/);
    await expect(createApp({ ...memory, JWT_SECRET: 'too-short' })).rejects.toThrow(/^JWT_SECRET is too short \(9 characters\)/);
    await expect(createApp({ ...memory, OAUTH_SESSION_TIMEOUT: 'an hour' })).rejects.toThrow(/OAUTH_SESSION_TIMEOUT must be a whole number/);
    await expect(createApp({ ...memory, OAUTH_REGISTRATION_RATE_LIMIT: '-1' })).rejects.toThrow(/OAUTH_REGISTRATION_RATE_LIMIT/);
  });
});
