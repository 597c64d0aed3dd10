// The Worker bundled as it is deployed, running in workerd under Miniflare with a local D1 database, driven
// over HTTP by the MCP SDK's own client: discovery, dynamic registration, the dev login, code + PKCE, token,
// refresh and tools/call, and the single use of a code under concurrent redemptions.
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { readFileSync } from 'node:fs';
import { bundleWorker, COMPATIBILITY_FLAGS, freePort, startLocal, WORKER_BUNDLE } from '../src/local.js';

let miniflare: Miniflare;
let base: string;
let mcpURL: string;
let metadata: { authorization_endpoint: string; token_endpoint: string; registration_endpoint: string };

beforeAll(async () => {
  await bundleWorker();
  ({ miniflare, url: base } = await startLocal({ port: await freePort(), vars: { OAUTH_DEV_LOGIN: 'demo' } }));
  mcpURL = `${base}/mcp`;
  metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
});

afterAll(async () => {
  await miniflare?.dispose();
});

/**
 * An OAuthClientProvider with no browser and no client yet: the SDK registers it (RFC 7591), and
 * `redirectToAuthorization` fetches the authorization URL itself (the dev login approves at once).
 */
class HeadlessProvider {
  callback?: URL;
  #client?: OAuthClientInformationMixed;
  #tokens?: OAuthTokens;
  #codeVerifier?: string;
  readonly redirectUrl = 'http://127.0.0.1:49152/callback';

  get clientMetadata(): OAuthClientMetadata {
    return { redirect_uris: [this.redirectUrl], client_name: 'Keyward Workers example test', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }
  saveClientInformation(client: OAuthClientInformationMixed): void {
    this.#client = client;
  }
  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) throw new Error(`authorization answered ${response.status}: ${await response.text()}`);
    this.callback = new URL(response.headers.get('location')!);
  }
  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier;
  }
  codeVerifier(): string {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }
}

function toolJSON(result: unknown): Record<string, unknown> {
  const { content } = result as { content: { type: string; text: string }[] };
  return JSON.parse(content[0]!.text);
}

async function callTool(provider: HeadlessProvider, name: string): Promise<{ isError?: boolean; content: { type: string; text: string }[] }> {
  const client = new Client({ name: 'keyward-workers-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
  try {
    return (await client.callTool({ name, arguments: {} })) as { isError?: boolean; content: { type: string; text: string }[] };
  } finally {
    await client.close();
  }
}

async function base64url(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('base64url');
}

/** A registered public client and a fresh code issued to it through the dev login, with its PKCE verifier. */
async function issueCode(): Promise<{ clientId: string; code: string; verifier: string; redirectUri: string }> {
  const redirectUri = 'http://127.0.0.1:49153/callback';
  const registered = await fetch(metadata.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', client_name: 'race test' }),
  });
  expect(registered.status).toBe(201);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const verifier = await base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = await base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL(metadata.authorization_endpoint);
  const params = { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'mcp:tools offline_access', state: 'race', code_challenge: challenge, code_challenge_method: 'S256', resource: mcpURL };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const response = await fetch(url, { redirect: 'manual' });
  expect(response.status).toBe(302);
  const code = new URL(response.headers.get('location')!).searchParams.get('code');
  expect(code).toBeTypeOf('string');
  return { clientId, code: code!, verifier, redirectUri };
}

function redeem({ clientId, code, verifier, redirectUri }: Awaited<ReturnType<typeof issueCode>>): Promise<Response> {
  return fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: mcpURL }),
  });
}

describe('Keyward on Cloudflare Workers (Miniflare, local D1)', () => {
  it('RUNTIME-WEB: runs in workerd with no compatibility flags, so the bundle imports no node: module', () => {
    expect(COMPATIBILITY_FLAGS).toEqual([]);
    expect(readFileSync(WORKER_BUNDLE, 'utf8')).not.toMatch(/\bimport\s*(?:[\w{}*,\s]+from\s*)?\(?\s*["']node:/);
  });

  it('AUTHZ-RS-02, AUTHZ-RS-05: an unauthenticated POST to /mcp gets 401 with resource_metadata', async () => {
    const response = await fetch(mcpURL, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
    expect(response.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);
  });

  it('AUTHZ-DCR-01, AUTHZ-RT-02, AUTHZ-RT-03: the MCP SDK client registers, authorizes with PKCE, calls whoami, refreshes, calls again, and the spent refresh token is refused', async () => {
    const provider = new HeadlessProvider();
    expect(await auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    expect(provider.clientInformation()?.client_id).toBeTypeOf('string');
    expect(provider.callback?.searchParams.get('iss')).toBe(base);
    const authorizationCode = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: mcpURL, authorizationCode })).toBe('AUTHORIZED');
    const first = provider.tokens()!;
    expect(first.refresh_token).toBeTypeOf('string');

    expect(toolJSON(await callTool(provider, 'whoami'))).toMatchObject({ sub: 'demo', client_id: provider.clientInformation()!.client_id, scopes: expect.arrayContaining(['mcp:tools']) });

    // With a refresh token saved, auth() refreshes (RFC 6749 §6): a new pair, and the old refresh token is spent.
    expect(await auth(provider, { serverUrl: mcpURL })).toBe('AUTHORIZED');
    const second = provider.tokens()!;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(toolJSON(await callTool(provider, 'whoami'))).toMatchObject({ sub: 'demo' });

    const replayed = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: provider.clientInformation()!.client_id }),
    });
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('AUTHZ-RS-02: admin_stats needs mcp:admin, which a self-registered client of the demo user cannot get', async () => {
    const provider = new HeadlessProvider();
    await auth(provider, { serverUrl: mcpURL });
    await auth(provider, { serverUrl: mcpURL, authorizationCode: provider.callback!.searchParams.get('code')! });
    const response = await fetch(mcpURL, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="mcp:tools [^"]*mcp:admin"/);
  });

  it('AUTHZ-CODE-04: of 20 concurrent redemptions of one code exactly one gets tokens, the others invalid_grant', async () => {
    const issued = await issueCode();
    const responses = await Promise.all(Array.from({ length: 20 }, () => redeem(issued)));
    const bodies = await Promise.all(responses.map((response) => response.json() as Promise<{ access_token?: string; error?: string }>));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
    expect(bodies.filter((body) => body.access_token)).toHaveLength(1);
    expect(bodies.filter((body) => body.error === 'invalid_grant')).toHaveLength(19);
    expect(responses.every((response) => response.status === 200 || response.status === 400)).toBe(true);
  });
});
