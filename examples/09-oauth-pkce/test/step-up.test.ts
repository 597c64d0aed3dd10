// Step-up authorization with the MCP SDK v1 client. `admin_stats` needs mcp:admin: the example's guard reads
// the JSON-RPC body (requireBearerAuth's scopesFor) and answers a mcp:tools token's call with 403
// insufficient_scope, scope="mcp:tools mcp:admin" (MCP 2025-11-25, scope challenge handling).
//
// What @modelcontextprotocol/sdk 1.x does with that 403 (dist/esm/client/streamableHttp.js, send()): it
// calls auth(provider, { scope: <the challenged scope> }) once. auth() tries the refresh token first, and a
// refresh cannot widen a grant (OAuth 2.1 §4.3.1), so when the provider holds a refresh token the SDK gets
// back a token with the same scopes, the retry meets the same challenge, and it gives up with
// "Server returned 403 after trying upscoping". Without a refresh token, auth() starts a new authorization
// with the challenged scopes and the transport throws UnauthorizedError until the host finishes it.
// So the host drives the step-up itself: it forgets the old tokens, runs auth(provider, { serverUrl, scope })
// with the scope from the challenge, finishes it with the code, and retries. The new tokens are a new grant,
// and MCP sessions are bound to grants, so the retry needs a new MCP session (the old one answers 404).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, extractWWWAuthenticateParams, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { LOOPBACK_REDIRECT, PUBLIC_CLIENT_ID, startExample, toolJSON, type RunningExample } from './support.js';

let example: RunningExample;
let mcpURL: URL;

beforeAll(async () => {
  // admin holds the admin role; demo would never be granted mcp:admin (entitlements.test.ts).
  example = await startExample({ OAUTH_DEV_LOGIN: 'admin' });
  mcpURL = new URL(`${example.base}/mcp`);
});

afterAll(async () => {
  await example?.stop();
});

/**
 * An OAuthClientProvider for the pre-registered public client with no browser: `redirectToAuthorization`
 * fetches the authorization URL itself (the dev login approves at once) and keeps the callback URL.
 */
class HeadlessProvider {
  callbacks: URL[] = [];
  authorizationURLs: URL[] = [];
  #tokens?: OAuthTokens;
  #codeVerifier?: string;
  readonly redirectUrl = 'http://127.0.0.1:49160/callback';

  get clientMetadata(): OAuthClientMetadata {
    return { redirect_uris: [this.redirectUrl], client_name: 'Keyward step-up test', token_endpoint_auth_method: 'none' };
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
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationURLs.push(url);
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) throw new Error(`authorization answered ${response.status}: ${await response.text()}`);
    this.callbacks.push(new URL(response.headers.get('location')!));
  }
  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier;
  }
  codeVerifier(): string {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }
  /** The code of the last callback, which a host would read from its redirect URI. */
  lastCode(): string {
    return this.callbacks.at(-1)!.searchParams.get('code')!;
  }
}

/** Connects through the SDK's own 401 handling: discovery, then authorization with the challenged scope. */
async function connect(provider: HeadlessProvider): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const first = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  await expect(new Client({ name: 'step-up-test', version: '0.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  await first.finishAuth(provider.lastCode());
  const transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  const client = new Client({ name: 'step-up-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport };
}

describe('step-up to mcp:admin with the MCP SDK v1 client', () => {
  it('AUTHZ-RS-02: a mcp:tools token calling admin_stats gets 403 insufficient_scope naming mcp:tools and mcp:admin', async () => {
    const provider = new HeadlessProvider();
    const { client } = await connect(provider);
    try {
      // The 401 challenge asked for mcp:tools, and that is all the SDK requested.
      expect(provider.authorizationURLs[0]!.searchParams.get('scope')).toBe('mcp:tools');
      expect(provider.tokens()?.scope).toBe('mcp:tools');
      expect(toolJSON(await client.callTool({ name: 'whoami', arguments: {} }))).toMatchObject({ scopes: ['mcp:tools'] });

      const response = await fetch(mcpURL, {
        method: 'POST',
        headers: { authorization: `Bearer ${provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } }),
      });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer resource_metadata="${example.base}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp:tools mcp:admin"`,
      );
      expect(extractWWWAuthenticateParams(response)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools mcp:admin' });
    } finally {
      await client.close();
    }
  });

  it('the SDK re-authorizes on its own only by refreshing, which cannot add mcp:admin; the host then steps up with auth({ scope }) and the call succeeds', async () => {
    const provider = new HeadlessProvider();
    const { client } = await connect(provider);
    const firstGrant = toolJSON(await client.callTool({ name: 'whoami', arguments: {} })).grant_id;
    const refreshToken = provider.tokens()!.refresh_token;

    // 1. What the SDK does by itself: one retry after auth() with the challenged scope, which refreshed.
    const refused = await client.callTool({ name: 'admin_stats', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(403);
    expect((refused as Error).message).toMatch(/403 after trying upscoping/);
    expect(provider.tokens()!.refresh_token).not.toBe(refreshToken); // it did refresh…
    expect(provider.tokens()!.scope).toBe('mcp:tools'); // …but a refresh keeps the grant's scope.
    expect(provider.authorizationURLs).toHaveLength(1); // and it never asked the user.
    await client.close();

    // 2. The host steps up: the scope the challenge named, a new authorization, then the call again.
    const challenged = 'mcp:tools mcp:admin';
    provider.invalidateCredentials('tokens');
    expect(await auth(provider, { serverUrl: mcpURL, scope: challenged })).toBe('REDIRECT');
    expect(provider.authorizationURLs.at(-1)!.searchParams.get('scope')).toBe(challenged);
    expect(await auth(provider, { serverUrl: mcpURL, authorizationCode: provider.lastCode() })).toBe('AUTHORIZED');
    expect(provider.tokens()!.scope).toBe(challenged);

    // A new grant, so a new MCP session (the old session id would answer 404 to this token).
    const stepped = new Client({ name: 'step-up-test', version: '0.0.0' });
    await stepped.connect(new StreamableHTTPClientTransport(mcpURL, { authProvider: provider }));
    try {
      const stats = await stepped.callTool({ name: 'admin_stats', arguments: {} });
      expect(stats.isError).toBeFalsy();
      expect(toolJSON(stats)).toMatchObject({ activeSessions: expect.any(Number), uptimeSeconds: expect.any(Number) });
      const identity = toolJSON(await stepped.callTool({ name: 'whoami', arguments: {} }));
      expect(identity).toMatchObject({ sub: 'admin', scopes: ['mcp:tools', 'mcp:admin'] });
      expect(identity.grant_id).not.toBe(firstGrant);
    } finally {
      await stepped.close();
    }
  });

  it('without a refresh token the SDK itself starts the authorization with the challenged scope; the host finishes it and retries in a new session', async () => {
    // A host that keeps no refresh tokens (or lost them): auth() has nothing to refresh with.
    const provider = new (class extends HeadlessProvider {
      override saveTokens(tokens: OAuthTokens): void {
        const { refresh_token: _dropped, ...rest } = tokens;
        super.saveTokens(rest);
      }
    })();
    const { client, transport } = await connect(provider);
    const oldSession = transport.sessionId;
    const refused = await client.callTool({ name: 'admin_stats', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationURLs).toHaveLength(2);
    expect(provider.authorizationURLs[1]!.searchParams.get('scope')).toBe('mcp:tools mcp:admin');
    await transport.finishAuth(provider.lastCode());
    expect(provider.tokens()!.scope).toBe('mcp:tools mcp:admin');

    // The old session belongs to the old grant: with the new token it is not found.
    const stale = await client.callTool({ name: 'admin_stats', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(stale).toBeInstanceOf(StreamableHTTPError);
    expect((stale as StreamableHTTPError).code).toBe(404);
    await client.close();

    const fresh = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
    const retried = new Client({ name: 'step-up-test', version: '0.0.0' });
    await retried.connect(fresh);
    try {
      expect(fresh.sessionId).not.toBe(oldSession);
      const stats = await retried.callTool({ name: 'admin_stats', arguments: {} });
      expect(stats.isError).toBeFalsy();
    } finally {
      await retried.close();
    }
  });
});
