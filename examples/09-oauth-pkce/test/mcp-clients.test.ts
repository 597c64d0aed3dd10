// The example server in its own process, used by the MCP SDK clients the way MCP hosts use them: a 401 from
// /mcp starts discovery, `auth()` runs the authorization code flow, and the transport sends the token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import * as v2 from '@modelcontextprotocol/client';
import { authorizationRequest, CONFIDENTIAL, insecure, LOOPBACK_REDIRECT, PUBLIC_CLIENT_ID, startExample, type RunningExample } from './support.js';

let example: RunningExample;
let mcpURL: string;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  example = await startExample({ OAUTH_DEV_LOGIN: 'demo', OAUTH_CLIENT_ID: CONFIDENTIAL.id, OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret });
  mcpURL = `${example.base}/mcp`;
  const issuer = new URL(example.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
});

afterAll(async () => {
  await example?.stop();
});

/**
 * An OAuthClientProvider for the pre-registered public client, with no browser: `redirectToAuthorization`
 * fetches the authorization URL itself (the dev login approves at once) and keeps the callback it is sent to.
 */
class HeadlessProvider {
  callback?: URL;
  #tokens?: OAuthTokens;
  #codeVerifier?: string;

  // Any port: the client registered http://127.0.0.1/callback, and RFC 8252 §7.3 lets loopback ports vary.
  readonly redirectUrl = 'http://127.0.0.1:49152/callback';

  get clientMetadata(): OAuthClientMetadata {
    return { redirect_uris: [this.redirectUrl], client_name: 'Keyward example test', token_endpoint_auth_method: 'none' };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: PUBLIC_CLIENT_ID, redirect_uris: [LOOPBACK_REDIRECT], token_endpoint_auth_method: 'none' };
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

function whoami(result: unknown): { sub: string; client_id: string; scopes: string[] } {
  const { content } = result as { content: { type: string; text: string }[] };
  return JSON.parse(content[0]!.text);
}

/** Calls a tool with a token obtained elsewhere, through a real MCP client session. */
async function callTool(accessToken: string, name: string) {
  const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }));
  try {
    return (await client.callTool({ name, arguments: {} })) as { isError?: boolean; content: { type: string; text: string }[] };
  } finally {
    await client.close();
  }
}

async function userToken(scope: string): Promise<string> {
  const client = { client_id: PUBLIC_CLIENT_ID };
  const redirectUri = 'http://127.0.0.1:49153/callback';
  const { url, codeVerifier, state } = await authorizationRequest(as, client.client_id, { scope, redirectUri });
  const callback = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, codeVerifier, insecure);
  return (await oauth.processAuthorizationCodeResponse(as, client, response)).access_token;
}

async function serviceToken(scope: string): Promise<string> {
  const client = { client_id: CONFIDENTIAL.id };
  const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(CONFIDENTIAL.secret), { scope }, insecure);
  return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
}

describe('the /mcp endpoint before authorization', () => {
  it('AUTHZ-RS-02, AUTHZ-RS-05: an unauthenticated POST gets 401 with resource_metadata and no error', async () => {
    const response = await fetch(mcpURL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', origin: 'https://inspector.example' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }),
    });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toBe(`Bearer resource_metadata="${example.base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
    expect(challenge).not.toMatch(/error=/);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/i);
  });

  it('answers the CORS preflight of browser-based MCP clients', async () => {
    const response = await fetch(mcpURL, { method: 'OPTIONS', headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST' } });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, Mcp-Session-Id, MCP-Protocol-Version');
    expect(response.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate, Mcp-Session-Id');
  });

  it('AUTHZ-RS-02: a token without mcp:tools gets 403 insufficient_scope naming the scopes needed', async () => {
    const response = await fetch(mcpURL, { method: 'POST', headers: { authorization: `Bearer ${await serviceToken('mcp:admin')}`, 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="mcp:admin mcp:tools"/);
  });
});

describe('MCP SDK v1 (@modelcontextprotocol/sdk) client', () => {
  it('AUTHZ-RURI-03, AUTHZ-ARESP-02: auth() discovers, authorizes the pre-registered public client, and whoami answers', async () => {
    const provider = new HeadlessProvider();
    expect(await auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    expect(provider.callback?.searchParams.get('iss')).toBe(example.base);
    const authorizationCode = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: mcpURL, authorizationCode })).toBe('AUTHORIZED');
    expect(provider.tokens()?.refresh_token).toBeTypeOf('string');

    const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    const identity = whoami(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();
    expect(identity.sub).toBe('demo');
    expect(identity.client_id).toBe(PUBLIC_CLIENT_ID);
    expect(identity.scopes).toContain('mcp:tools');
  });
});

describe('MCP SDK v2 (@modelcontextprotocol/client) client', () => {
  it('AUTHZ-ARESP-02: auth() checks iss (RFC 9207), authorizes the public client, and whoami answers', async () => {
    const provider = new HeadlessProvider();
    expect(await v2.auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    const callback = provider.callback!;
    const result = await v2.auth(provider, { serverUrl: mcpURL, authorizationCode: callback.searchParams.get('code')!, iss: callback.searchParams.get('iss')! });
    expect(result).toBe('AUTHORIZED');

    const client = new v2.Client({ name: 'keyward-example-test', version: '0.0.0' });
    await client.connect(new v2.StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    const identity = whoami(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();
    expect(identity).toMatchObject({ sub: 'demo', client_id: PUBLIC_CLIENT_ID });
  });
});

describe('admin_stats', () => {
  it('AUTHZ-RS-02: without mcp:admin the HTTP answer is 403 insufficient_scope, before the tool runs (step-up.test.ts takes it from there)', async () => {
    const refused = await callTool(await userToken('mcp:tools'), 'admin_stats').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(403);
  });

  it('with a client_credentials token carrying mcp:admin returns statistics', async () => {
    const result = await callTool(await serviceToken('mcp:tools mcp:admin'), 'admin_stats');
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ activeSessions: expect.any(Number), uptimeSeconds: expect.any(Number) });
  });
});
